/**
 * The Glue side of compaction, for Athena. Athena does not read the manifests of
 * `lib/lake/generations.ts`; it reads whatever S3 folder the Glue catalog gives for a partition,
 * skipping names that start with `_` or `.` below it (Hive's rule, which Trino applies to every
 * path segment under the partition location). So:
 *
 * - a partition never compacted is located at its folder `…/dt=X/`: Athena reads the sink's
 *   objects and skips the hidden `_g…/` and `_manifest/` folders;
 * - a compacted partition is located at its current generation's folder `…/dt=X/_g…/`: Athena
 *   reads exactly the compacted objects.
 *
 * Switching a partition is one `UpdatePartition` call, atomic for Athena: a query planned before
 * it reads the old objects (kept for the grace period), one planned after reads the new ones.
 * Partition projection computes locations from a template and cannot follow generations, so the
 * first switch turns projection off on the table and registers every partition explicitly.
 *
 * @module
 */

import {
  BatchCreatePartitionCommand,
  EntityNotFoundException,
  GetPartitionsCommand,
  GetTableCommand,
  GlueClient,
  type PartitionInput,
  type StorageDescriptor,
  type Table,
  type TableInput,
  UpdatePartitionCommand,
  UpdateTableCommand,
} from "@aws-sdk/client-glue";
import { nameDeniedActions } from "../aws_denied.ts";
import type { LakeDiscovery } from "../catalog/discover.ts";
import { ensureGlueTable, type GlueLike } from "../catalog/glue.ts";
import { tableInput, type TableInputOptions } from "../catalog/table_input.ts";
import { type Logger, silentLogger } from "../log.ts";
import { CompactionError, type PartitionCatalog } from "./compact.ts";
import { type PartitionView, readTable } from "./generations.ts";
import { type DtGranularity, tablePrefix } from "./layout.ts";
import type { Store } from "./store.ts";

/** Options of {@linkcode GluePartitionCatalog}. */
export interface GluePartitionCatalogOptions {
  /** Glue database. */
  database: string;
  /** Glue table (also the table folder). */
  table: string;
  /** The lake root, `s3://bucket/prefix`. */
  lakeUri: string;
  /** Client. @default new GlueClient({ region, endpoint }) */
  client?: GlueLike;
  /** Region of the default client. */
  region?: string;
  /** Endpoint of the default client (moto). */
  endpoint?: string;
  /** Reports switches. @default silentLogger */
  logger?: Logger;
}

/** Keeps the Glue partitions of a table pointed at each partition's current objects. */
export class GluePartitionCatalog implements PartitionCatalog {
  readonly #options: GluePartitionCatalogOptions;
  readonly #client: GlueLike;
  readonly #logger: Logger;

  /** Creates the catalog; nothing is read until {@linkcode GluePartitionCatalog.sync}. */
  constructor(options: GluePartitionCatalogOptions) {
    this.#options = options;
    this.#client = options.client ??
      nameDeniedActions(new GlueClient({ region: options.region, endpoint: options.endpoint }));
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Points every partition of `views` at its current objects; with a compacted partition among
   * them, turns partition projection off first. Returns the partitions switched to a new
   * generation by this call.
   *
   * @throws {CompactionError} when the table is not in Glue yet.
   */
  async sync(views: readonly PartitionView[]): Promise<string[]> {
    const { database, table } = this.#options;
    const root = this.#options.lakeUri.replace(/\/+$/, "");
    let stored: Table;
    try {
      stored =
        (await this.#client.send(new GetTableCommand({ DatabaseName: database, Name: table })))
          .Table!;
    } catch (error) {
      if (!(error instanceof EntityNotFoundException)) throw error;
      throw new CompactionError(
        `Glue has no table ${database}.${table}: run \`deno task crawl --target aws\` first, or ` +
          "drop --glue.",
        { cause: error },
      );
    }
    const compacted = views.some((view) => view.manifest);
    const projection = stored.Parameters?.["projection.enabled"] === "true";
    if (!compacted && projection) return []; // Athena reads the dt= folders as they are.
    if (projection) {
      const input = tableInputOf(stored);
      input.Parameters = { ...input.Parameters, "projection.enabled": "false" };
      await this.#client.send(
        new UpdateTableCommand({ DatabaseName: database, TableInput: input }),
      );
      this.#logger.warn(
        `Turned partition projection off on ${database}.${table}: compacted partitions live in ` +
          "generation folders, so each partition is now registered in Glue (by this command and " +
          "`deno task crawl --target aws`).",
      );
    }
    const existing = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new GetPartitionsCommand({ DatabaseName: database, TableName: table, NextToken: token }),
      );
      for (const p of page.Partitions ?? []) {
        existing.set(p.Values![0], p.StorageDescriptor?.Location ?? "");
      }
      token = page.NextToken;
    } while (token);
    const create: PartitionInput[] = [];
    const switched: string[] = [];
    for (const view of views) {
      const dt = /dt=(\d{4}-\d{2}-\d{2})\/$/.exec(view.partition)?.[1];
      if (!dt) continue;
      const location = `${root}/${view.manifest?.folder ?? view.partition}`;
      const input = partitionInput(stored.StorageDescriptor!, dt, location);
      const current = existing.get(dt);
      if (current === undefined) create.push(input);
      else if (current !== location) {
        await this.#client.send(
          new UpdatePartitionCommand({
            DatabaseName: database,
            TableName: table,
            PartitionValueList: [dt],
            PartitionInput: input,
          }),
        );
        switched.push(view.partition);
        this.#logger.info(`Glue partition dt=${dt} → ${location}`);
      }
    }
    for (let i = 0; i < create.length; i += 100) {
      const result = await this.#client.send(
        new BatchCreatePartitionCommand({
          DatabaseName: database,
          TableName: table,
          PartitionInputList: create.slice(i, i + 100),
        }),
      );
      const failed = result.Errors?.filter((e) =>
        e.ErrorDetail?.ErrorCode !== "AlreadyExistsException"
      );
      if (failed?.length) {
        throw new CompactionError(
          `Glue refused ${failed.length} partition(s) of ${database}.${table}: ` +
            `${
              failed[0].ErrorDetail?.ErrorMessage
            }. Fix the table (deno task crawl --target aws) and run again.`,
        );
      }
    }
    // A partition created at a generation folder was read by Athena at its dt= folder until now
    // (projection): that is a switch too.
    if (projection) {
      for (const input of create) {
        const view = views.find((v) => v.partition.endsWith(`dt=${input.Values![0]}/`));
        if (view?.manifest) switched.push(view.partition);
      }
    }
    return switched;
  }
}

function partitionInput(sd: StorageDescriptor, dt: string, location: string): PartitionInput {
  return { Values: [dt], StorageDescriptor: { ...sd, Location: location } };
}

/** The writable part of a stored table, for UpdateTable. */
function tableInputOf(table: Table): TableInput {
  return {
    Name: table.Name,
    Description: table.Description,
    Owner: table.Owner,
    Retention: table.Retention,
    StorageDescriptor: table.StorageDescriptor,
    PartitionKeys: table.PartitionKeys,
    TableType: table.TableType,
    Parameters: table.Parameters,
  };
}

/** Options of {@linkcode defineLakeTable}. */
export interface DefineLakeTableOptions {
  /** The lake (an S3 store). */
  store: Store;
  /** What `discoverLake` found in it. */
  discovery: LakeDiscovery;
  /** Glue database (created when missing). */
  database: string;
  /** Glue table name. @default discovery.table */
  table?: string;
  /** Width of the `dt` partitions, for projection. @default "day" */
  dtGranularity?: DtGranularity;
  /** More of the table's definition, e.g. a curated table's description and column comments. */
  input?: Pick<TableInputOptions, "description" | "comments">;
  /** Client. @default new GlueClient({ region, endpoint }) */
  client?: GlueLike;
  /** Region of the default client. */
  region?: string;
  /** Endpoint of the default client (moto). */
  endpoint?: string;
  /** Progress. @default silentLogger */
  logger?: Logger;
}

/**
 * Defines (or updates) the Glue table of a lake for Athena: with partition projection, or, for a
 * compacted lake, without it and with each partition registered at its current objects (see the
 * module docs). `deno task crawl --target aws` and the analysis notebook both use it.
 *
 * @returns whether the table was created and whether its partitions are registered (compacted).
 */
export async function defineLakeTable(
  options: DefineLakeTableOptions,
): Promise<{ tableCreated: boolean; registered: boolean }> {
  const { store, discovery, database } = options;
  const table = options.table ?? discovery.table;
  const location = `${store.uri.replace(/\/+$/, "")}/${discovery.table}/`;
  const client = options.client ??
    nameDeniedActions(new GlueClient({ region: options.region, endpoint: options.endpoint }));
  const registered = Object.keys(discovery.generations).length > 0;
  const result = await ensureGlueTable({
    client,
    database,
    logger: options.logger,
    table: tableInput(discovery, {
      ...options.input,
      name: table,
      location,
      dtGranularity: options.dtGranularity,
      ...(registered ? { projection: false as const } : {}),
    }),
  });
  if (registered) {
    await new GluePartitionCatalog({
      client,
      database,
      table,
      lakeUri: store.uri,
      logger: options.logger,
    })
      .sync(await readTable(store, tablePrefix(discovery.table)));
  }
  return { tableCreated: result.tableCreated, registered };
}
