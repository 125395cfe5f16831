/**
 * `deno task teardown` as data: {@linkcode planTeardown} lists everything the README's AWS
 * walkthrough created that still exists — the EC2 instance and security group, the broker's
 * parameters, the Glue crawler, table and database, the Athena results under the project's
 * results prefix, and (only when asked) the lake's objects — and {@linkcode runTeardown} removes
 * exactly that list. Nothing is removed that the list did not show.
 *
 * @module
 */

import {
  DeleteCrawlerCommand,
  DeleteDatabaseCommand,
  DeleteTableCommand,
  EntityNotFoundException,
  GetCrawlerCommand,
  GetDatabaseCommand,
  GetTablesCommand,
  type GlueClient,
} from "@aws-sdk/client-glue";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { PipelineConfig } from "../../config.ts";
import { parseS3Uri } from "../../lake/layout.ts";
import { type S3Store, S3StoreError } from "../../lake/s3_store.ts";
import { type Logger, silentLogger } from "../../log.ts";
import { destroyEc2, findDeployment } from "./ec2.ts";
import { athenaResultsUri } from "./iam.ts";
import { deleteKafkaParameters, listKafkaParameters } from "./ssm_parameters.ts";

/** The AWS clients teardown uses (credentials from the SDK's default chain). */
export interface TeardownClients {
  /** EC2: the instance and security group. */
  ec2: EC2Client;
  /** SSM: the broker's parameters. */
  ssm: SSMClient;
  /** Glue: crawler, table, database. */
  glue: GlueClient;
  /** Opens an S3 location (results, lake) as a store. */
  s3: (uri: string) => S3Store;
}

/** Options of {@linkcode planTeardown}. */
export interface TeardownOptions {
  /** The EC2 deployment's `--name`. */
  name: string;
  /** The Glue crawler's name. @default {"<database>_<table>"} */
  crawlerName?: string;
  /** Also delete every object of the lake (`LAKE_URI`). @default {false} */
  includeLake?: boolean;
}

/** One thing teardown removes. */
export type TeardownItem =
  | { kind: "ec2"; name: string; instances: string[]; securityGroups: string[] }
  | { kind: "parameters"; name: string; names: string[] }
  | { kind: "crawler"; name: string }
  | { kind: "table"; database: string; table: string }
  | { kind: "database"; database: string }
  | { kind: "objects"; what: "Athena results" | "lake data"; uri: string; count: number };

/** What {@linkcode planTeardown} found, and what it keeps and why. */
export interface TeardownPlan {
  /** What {@linkcode runTeardown} removes, in that order. */
  items: TeardownItem[];
  /** Things left alone, each with the reason. */
  kept: string[];
}

/** One line per item, for the listing `deno task teardown` prints before asking for `--yes`. */
export function describeItem(item: TeardownItem): string {
  switch (item.kind) {
    case "ec2":
      return `EC2: terminate ${item.instances.join(", ") || "no instance"}; delete security group ${
        item.securityGroups.join(", ") || "none"
      }`;
    case "parameters":
      return `SSM Parameter Store: delete ${item.names.join(", ")}`;
    case "crawler":
      return `Glue: delete crawler ${item.name}`;
    case "table":
      return `Glue: delete table ${item.database}.${item.table}`;
    case "database":
      return `Glue: delete database ${item.database} (no other tables in it)`;
    case "objects":
      return `S3: delete ${item.count} object(s) of ${item.what} under ${item.uri}`;
  }
}

/**
 * Lists what exists of the walkthrough's resources. Changes nothing.
 */
export async function planTeardown(
  clients: TeardownClients,
  config: PipelineConfig,
  options: TeardownOptions,
): Promise<TeardownPlan> {
  const items: TeardownItem[] = [];
  const kept: string[] = [];
  const ec2 = await findDeployment(clients.ec2, options.name);
  if (ec2.instances.length + ec2.securityGroups.length > 0) {
    items.push({ kind: "ec2", name: options.name, ...ec2 });
  }
  const names = await listKafkaParameters(clients.ssm, options.name);
  if (names.length > 0) items.push({ kind: "parameters", name: options.name, names });
  items.push(...await catalogItems(clients.glue, config, options, kept));
  const results = athenaResultsUri(config);
  if (results) {
    const count = await countObjects(clients.s3(results));
    if (count > 0) items.push({ kind: "objects", what: "Athena results", uri: results, count });
  }
  if (!parseS3Uri(config.lake)) {
    kept.push(`the lake ${config.lake}: a local folder, not an AWS resource`);
  } else if (options.includeLake) {
    const count = await countObjects(clients.s3(config.lake));
    if (count > 0) items.push({ kind: "objects", what: "lake data", uri: config.lake, count });
  } else {
    kept.push(`the lake's data under ${config.lake} (pass --include-lake to delete it)`);
  }
  return { items, kept };
}

/** The crawler, the table and (when nothing else lives in it) the database that exist. */
async function catalogItems(
  glue: GlueClient,
  config: PipelineConfig,
  options: TeardownOptions,
  kept: string[],
): Promise<TeardownItem[]> {
  const items: TeardownItem[] = [];
  const crawler = options.crawlerName ?? `${config.database}_${config.table}`;
  if (await exists(() => glue.send(new GetCrawlerCommand({ Name: crawler })))) {
    items.push({ kind: "crawler", name: crawler });
  }
  const { database, table } = config;
  if (!await exists(() => glue.send(new GetDatabaseCommand({ Name: database })))) return items;
  const tables = await listTables(glue, database);
  if (tables.includes(table)) items.push({ kind: "table", database, table });
  const others = tables.filter((t) => t !== table);
  if (others.length === 0) items.push({ kind: "database", database });
  else kept.push(`Glue database ${database}: it also holds ${others.join(", ")}`);
  return items;
}

async function exists(request: () => Promise<unknown>): Promise<boolean> {
  try {
    await request();
    return true;
  } catch (error) {
    if (error instanceof EntityNotFoundException) return false;
    throw error;
  }
}

async function listTables(glue: GlueClient, database: string): Promise<string[]> {
  const tables: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await glue.send(new GetTablesCommand({ DatabaseName: database, NextToken }));
    for (const t of page.TableList ?? []) if (t.Name) tables.push(t.Name);
    NextToken = page.NextToken;
  } while (NextToken);
  return tables;
}

/** How many objects the location holds; 0 when its bucket is gone. */
async function countObjects(store: S3Store): Promise<number> {
  let count = 0;
  try {
    for await (const _ of store.list("")) count++;
  } catch (error) {
    if (error instanceof S3StoreError && error.kind === "missing-bucket") return 0;
    throw error;
  } finally {
    store.close();
  }
  return count;
}

/** Options of {@linkcode runTeardown}. */
export interface RunTeardownOptions {
  /** Where progress goes. @default silentLogger */
  logger?: Logger;
  /** How long to wait for the instance to terminate. @default {300000} */
  timeoutMs?: number;
  /** Pause between polls. @default {5000} */
  pollMs?: number;
}

/** Removes the plan's items in order (instance first, database last); returns what it removed. */
export async function runTeardown(
  clients: TeardownClients,
  plan: TeardownPlan,
  options: RunTeardownOptions = {},
): Promise<string[]> {
  const logger = options.logger ?? silentLogger;
  const done: string[] = [];
  for (const item of plan.items) {
    await removeItem(clients, item, options);
    const line = describeItem(item);
    logger.info(`Done: ${line}`);
    done.push(line);
  }
  return done;
}

async function removeItem(
  clients: TeardownClients,
  item: TeardownItem,
  options: RunTeardownOptions,
): Promise<void> {
  switch (item.kind) {
    case "ec2":
      await destroyEc2(item.name, {
        client: clients.ec2,
        logger: options.logger,
        timeoutMs: options.timeoutMs,
        pollMs: options.pollMs,
      });
      return;
    case "parameters":
      await deleteKafkaParameters(clients.ssm, item.name);
      return;
    case "crawler":
      await clients.glue.send(new DeleteCrawlerCommand({ Name: item.name }));
      return;
    case "table":
      await clients.glue.send(
        new DeleteTableCommand({ DatabaseName: item.database, Name: item.table }),
      );
      return;
    case "database":
      await clients.glue.send(new DeleteDatabaseCommand({ Name: item.database }));
      return;
    case "objects": {
      const store = clients.s3(item.uri);
      try {
        for await (const { key } of store.list("")) await store.delete(key);
      } finally {
        store.close();
      }
      return;
    }
  }
}
