/**
 * The Glue catalog of the lake, two ways:
 *
 * - {@linkcode ensureGlueTable} (the default): CreateDatabase and CreateTable/UpdateTable with
 *   Athena partition projection. No crawler, no `MSCK REPAIR TABLE`; new days are queryable at once.
 * - {@linkcode runGlueCrawler} (the seed's way): create or update a crawler on the table folder,
 *   configured to keep one table for the path even when a stray object has another schema, start
 *   it, poll until it is done and report the tables.
 *
 * Both are idempotent: running them again updates what is there.
 *
 * @module
 */

import {
  AlreadyExistsException,
  CrawlerRunningException,
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  CreateTableCommand,
  EntityNotFoundException,
  GetCrawlerCommand,
  type GetCrawlerCommandOutput,
  GetTableCommand,
  GetTablesCommand,
  GlueClient,
  ListCrawlsCommand,
  StartCrawlerCommand,
  type TableInput,
  UpdateCrawlerCommand,
  UpdateTableCommand,
} from "@aws-sdk/client-glue";
import { nameDeniedActions } from "../aws_denied.ts";
import { type Logger, silentLogger } from "../log.ts";
import { systemClock } from "../time.ts";

/** The part of a `GlueClient` this module uses. */
export interface GlueLike {
  /** Sends one command. */
  send: GlueClient["send"];
}

/** Raised when the crawler fails, stops or does not finish in time; the message says why. */
export class GlueCrawlerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "GlueCrawlerError";
  }
}

/** Options of {@linkcode ensureGlueTable}. */
export interface EnsureGlueTableOptions {
  /** Glue database (created when missing). */
  database: string;
  /** The table, e.g. from `tableInput()`. */
  table: TableInput;
  /** Client. @default new GlueClient({ region, endpoint }) */
  client?: GlueLike;
  /** Region for the default client. */
  region?: string;
  /** Endpoint for the default client (moto). */
  endpoint?: string;
  /** Progress. @default silentLogger */
  logger?: Logger;
}

/**
 * Creates the database and the table, or updates the table when it exists.
 *
 * @example
 * ```ts ignore
 * import { ensureGlueTable } from "./glue.ts";
 * await ensureGlueTable({ database: "stock_market", table: tableInput(found, { location }) });
 * ```
 * @returns whether the database and the table were created (false: they existed / were updated).
 */
export async function ensureGlueTable(
  options: EnsureGlueTableOptions,
): Promise<{ databaseCreated: boolean; tableCreated: boolean }> {
  const client = options.client ??
    nameDeniedActions(new GlueClient({ region: options.region, endpoint: options.endpoint }));
  const logger = options.logger ?? silentLogger;
  const databaseCreated = await ensureDatabase(client, options.database, logger);
  const name = options.table.Name!;
  let exists = true;
  try {
    await client.send(new GetTableCommand({ DatabaseName: options.database, Name: name }));
  } catch (error) {
    if (!(error instanceof EntityNotFoundException)) throw error;
    exists = false;
  }
  if (exists) {
    await client.send(
      new UpdateTableCommand({ DatabaseName: options.database, TableInput: options.table }),
    );
    logger.info(`Updated Glue table ${options.database}.${name}.`);
  } else {
    await client.send(
      new CreateTableCommand({ DatabaseName: options.database, TableInput: options.table }),
    );
    logger.info(`Created Glue table ${options.database}.${name}.`);
  }
  return { databaseCreated, tableCreated: !exists };
}

async function ensureDatabase(
  client: GlueLike,
  database: string,
  logger: Logger,
): Promise<boolean> {
  try {
    await client.send(
      new CreateDatabaseCommand({
        DatabaseInput: { Name: database, Description: "Stock market lake (deno task crawl)." },
      }),
    );
    logger.info(`Created Glue database ${database}.`);
    return true;
  } catch (error) {
    if (error instanceof AlreadyExistsException) return false;
    throw error;
  }
}

/** Options of {@linkcode runGlueCrawler}. */
export interface RunGlueCrawlerOptions {
  /** Crawler name. */
  name: string;
  /** IAM role the crawler runs as (name or ARN); it needs read access to the lake. */
  role: string;
  /** Glue database the crawler writes to (created when missing). */
  database: string;
  /** The table folder to crawl, `s3://bucket/prefix/ticks/`. */
  path: string;
  /** Client. @default new GlueClient({ region, endpoint }) */
  client?: GlueLike;
  /** Region for the default client. */
  region?: string;
  /** Endpoint for the default client (moto). */
  endpoint?: string;
  /** Wait between polls, in ms. @default 5000 */
  pollMs?: number;
  /** Give up after this long, in ms. @default 900000 (15 minutes) */
  timeoutMs?: number;
  /** Progress, one line per poll. @default silentLogger */
  logger?: Logger;
  /** Waits between polls. @default systemClock.sleep */
  sleep?: (ms: number) => Promise<void>;
  /** Clock, for the timeout. @default Date.now */
  now?: () => number;
}

/** What a crawl left in the catalog. */
export interface CrawlReport {
  /** The crawler's last crawl status (`SUCCEEDED`, or moto's `COMPLETED`). */
  status: string;
  /** Tables in the database after the crawl. */
  tables: string[];
  /** Whether the crawler was created (false: updated). */
  created: boolean;
}

/**
 * The crawler `Configuration`: combine compatible schemas and make the table at the folder's
 * level, so objects with a stray extra field cannot split the path into one table per file.
 */
export function crawlerConfiguration(path: string): string {
  const level = path.replace(/^s3:\/\//, "").replace(/\/+$/, "").split("/").length;
  return JSON.stringify({
    Version: 1.0,
    Grouping: { TableGroupingPolicy: "CombineCompatibleSchemas", TableLevelConfiguration: level },
    CrawlerOutput: { Partitions: { AddOrUpdateBehavior: "InheritFromTable" } },
  });
}

/**
 * Creates or updates the crawler, starts it (or joins a crawl already running), polls with
 * progress until it is READY again, and lists the tables it left.
 *
 * @throws {GlueCrawlerError} when the crawl fails or is cancelled (with Glue's message), or does
 * not finish within `timeoutMs`.
 */
export async function runGlueCrawler(options: RunGlueCrawlerOptions): Promise<CrawlReport> {
  const client = options.client ??
    nameDeniedActions(new GlueClient({ region: options.region, endpoint: options.endpoint }));
  const logger = options.logger ?? silentLogger;
  if (!options.path.startsWith("s3://")) {
    throw new GlueCrawlerError(
      `A Glue crawler reads S3 only, not "${options.path}": use an s3:// lake (--lake s3://bucket/prefix).`,
    );
  }
  await ensureDatabase(client, options.database, logger);
  const created = await upsertCrawler(client, options, logger);
  await startCrawl(client, options.name, logger);
  const crawler = await waitUntilReady(client, options, logger);
  const status = crawler?.LastCrawl?.Status ?? "UNKNOWN";
  if (status === "FAILED" || status === "CANCELLED") {
    throw new GlueCrawlerError(
      `Crawler ${options.name} ${status}: ${crawler?.LastCrawl?.ErrorMessage ?? "no message"}. ` +
        "Check the crawler's role can read the lake and see its CloudWatch log.",
    );
  }
  const tables = await listTables(client, options.database);
  logger.info(`Crawl ${status}; tables in ${options.database}: ${tables.join(", ") || "none"}.`);
  return { status, tables, created };
}

/** Creates the crawler, or updates it to this definition; `true` when it was created. */
async function upsertCrawler(
  client: GlueLike,
  options: RunGlueCrawlerOptions,
  logger: Logger,
): Promise<boolean> {
  const definition = {
    Name: options.name,
    Role: options.role,
    DatabaseName: options.database,
    Targets: { S3Targets: [{ Path: options.path }] },
    SchemaChangePolicy: {
      UpdateBehavior: "UPDATE_IN_DATABASE" as const,
      DeleteBehavior: "LOG" as const,
    },
    RecrawlPolicy: { RecrawlBehavior: "CRAWL_EVERYTHING" as const },
    Configuration: crawlerConfiguration(options.path),
  };
  try {
    await client.send(new CreateCrawlerCommand(definition));
    logger.info(`Created Glue crawler ${options.name} on ${options.path}.`);
    return true;
  } catch (error) {
    if (!(error instanceof AlreadyExistsException)) throw error;
    await client.send(new UpdateCrawlerCommand(definition));
    logger.info(`Updated Glue crawler ${options.name} on ${options.path}.`);
    return false;
  }
}

/** Starts a crawl, or joins the one already running. */
async function startCrawl(client: GlueLike, name: string, logger: Logger): Promise<void> {
  try {
    await client.send(new StartCrawlerCommand({ Name: name }));
    logger.info(`Started crawler ${name}.`);
  } catch (error) {
    if (!(error instanceof CrawlerRunningException)) throw error;
    logger.info(`Crawler ${name} is already running; waiting for it.`);
  }
}

/** Polls with one progress line per poll until the crawler is READY again, or the timeout. */
async function waitUntilReady(
  client: GlueLike,
  options: RunGlueCrawlerOptions,
  logger: Logger,
): Promise<GetCrawlerCommandOutput["Crawler"]> {
  const sleep = options.sleep ?? systemClock.sleep;
  const now = options.now ?? Date.now;
  const started = now();
  const deadline = started + (options.timeoutMs ?? 900_000);
  while (true) {
    // ListCrawls reports the crawl in progress (and is what advances moto's simulated crawl).
    await client.send(new ListCrawlsCommand({ CrawlerName: options.name, MaxResults: 1 }))
      .catch(() => undefined);
    const crawler = (await client.send(new GetCrawlerCommand({ Name: options.name }))).Crawler;
    const state = crawler?.State ?? "UNKNOWN";
    const seconds = Math.round((now() - started) / 1000);
    logger.info(`Crawler ${options.name}: ${state} (${seconds} s).`);
    if (state === "READY") return crawler;
    if (now() >= deadline) {
      throw new GlueCrawlerError(
        `Crawler ${options.name} is still ${state} after ${seconds} s; check it in the Glue console or raise the timeout.`,
      );
    }
    await sleep(options.pollMs ?? 5000);
  }
}

/** Every table of a Glue database, sorted. */
async function listTables(client: GlueLike, database: string): Promise<string[]> {
  const tables: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new GetTablesCommand({ DatabaseName: database, NextToken: token }),
    );
    for (const table of page.TableList ?? []) if (table.Name) tables.push(table.Name);
    token = page.NextToken;
  } while (token);
  return tables.sort();
}
