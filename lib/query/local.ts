/**
 * The local query engine: Polars SQL over the lake (a folder, or S3 through Polars' cloud
 * options), with the lake registered as one table (`ticks`) that includes the partition column `dt`.
 *
 * @module
 */

import pl from "nodejs-polars";
import { DecodeError, decodeObject, ticksToFrame } from "../lake/encode.ts";
import { readTable } from "../lake/generations.ts";
import { formatFor, parseObjectKey } from "../lake/layout.ts";
import { S3Store } from "../lake/s3_store.ts";
import type { Store } from "../lake/store.ts";
import { PRICE_COLUMNS } from "../tick.ts";
import { columnTypeOf, type QueryResult, type Value } from "./result.ts";

const DT_PATTERN = /(?:^|\/)dt=(\d{4}-\d{2}-\d{2})\//;

/** Raised when a local query cannot run; the message carries Polars' reason and the SQL. */
export class LocalQueryError extends Error {
  /** The SQL that failed, when a query failed (not the lake). */
  readonly sql?: string;
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions & { sql?: string }) {
    super(message, options);
    this.name = "LocalQueryError";
    this.sql = options?.sql;
  }
}

/** Options of {@linkcode openLocalEngine}. */
export interface LocalEngineOptions {
  /** The lake: its objects are listed through it, JSON Lines objects are read through it. */
  store: Store;
  /** The name SQL uses for the lake table. @default "ticks" */
  table?: string;
  /** Folder of the table under the lake root. @default "ticks/" */
  prefix?: string;
  /**
   * Polars cloud options for an `s3://` lake. Without an access key in them, the credentials of
   * the store's S3 client are added ({@linkcode withStoreCredentials}). @default s3CloudOptions()
   */
  cloudOptions?: Record<string, string>;
  /**
   * Choose the objects again (list the lake anew) before a query when the engine's choice is
   * older than this, so a long-lived engine (a notebook session) never reads a partition whose
   * replaced objects a compaction has since deleted (they stay for its grace period, 15 min by
   * default). @default 300000 (5 minutes)
   */
  refreshMs?: number;
  /** Clock for `refreshMs`. @default Date.now */
  now?: () => number;
  /**
   * More tables SQL can use beside `table` (e.g. `curatedTables` of `lib/transform/frames.ts`:
   * `bars_daily`, `symbols`), chosen again whenever the lake is. @default none
   */
  tables?: (store: Store) => Promise<Record<string, pl.LazyDataFrame>>;
}

/** A lake opened for SQL: run as many queries as you like against the same scan. */
export interface LocalEngine {
  /** The table as a lazy frame (columns of the lake plus `dt`). */
  readonly frame: pl.LazyDataFrame;
  /** The table name SQL refers to. */
  readonly table: string;
  /**
   * Runs one Polars SQL statement.
   *
   * @throws {LocalQueryError} with Polars' reason and the SQL when the statement is not valid.
   */
  query(sql: string): Promise<QueryResult>;
}

/** Options of {@linkcode s3CloudOptions}. */
export interface S3CloudOptionsInput {
  /** AWS region. @default env AWS_REGION or "us-east-1" */
  region?: string;
  /** Emulator endpoint such as `http://127.0.0.1:5000`. @default env AWS_ENDPOINT_URL */
  endpoint?: string;
  /** Where the region and endpoint defaults are read from. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
}

/**
 * Builds the Polars `cloudOptions` that let it read an S3 lake: region, and path-style plain HTTP
 * for an emulator endpoint. Credentials are not read here: {@linkcode openLocalEngine} adds the
 * ones the lake's S3 client resolves ({@linkcode withStoreCredentials}).
 */
export function s3CloudOptions(input: S3CloudOptionsInput = {}): Record<string, string> {
  const env = input.env ?? Deno.env.toObject();
  const options: Record<string, string> = {
    aws_region: input.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
  };
  const endpoint = input.endpoint ?? env.AWS_ENDPOINT_URL;
  if (endpoint) {
    options.aws_endpoint_url = endpoint;
    options.aws_virtual_hosted_style_request = "false";
    if (endpoint.startsWith("http://")) options.aws_allow_http = "true";
  }
  return options;
}

/**
 * Adds to Polars cloud options the credentials the store's S3 client resolves through the AWS
 * SDK's default chain: environment keys, then `AWS_PROFILE` from the shared credentials and config
 * files (including SSO, `credential_process` and assumed roles), web identity, then the ECS or EC2
 * instance role. Polars then reads with exactly the credentials that listed the lake; Polars'
 * own lookup knows environment keys only. Options that already hold an access key, and stores
 * that are not S3, are returned unchanged. The keys are a snapshot: temporary ones (SSO, a role)
 * expire with their session, so reopen the engine after that.
 *
 * @throws {LocalQueryError} when the chain finds no credentials; the message says how to give some.
 */
export async function withStoreCredentials(
  cloudOptions: Record<string, string>,
  store: Store,
): Promise<Record<string, string>> {
  if (cloudOptions.aws_access_key_id || !(store instanceof S3Store)) return cloudOptions;
  let credentials;
  try {
    credentials = await store.client.config.credentials();
  } catch (error) {
    throw new LocalQueryError(
      `No AWS credentials for Polars to read ${store.uri}: ${
        firstLine((error as Error).message)
      }. Set AWS_PROFILE (after \`aws configure\` or \`aws sso login\`), run where an instance ` +
        "role is attached, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
      { cause: error },
    );
  }
  return {
    ...cloudOptions,
    aws_access_key_id: credentials.accessKeyId,
    aws_secret_access_key: credentials.secretAccessKey,
    ...(credentials.sessionToken ? { aws_session_token: credentials.sessionToken } : {}),
  };
}

/**
 * Opens the lake for Polars SQL. Parquet objects are scanned lazily (only the columns and `dt`
 * partitions a query needs are read); JSON Lines objects (`.jsonl`, `.jsonl.gz`) are read whole.
 * The objects are chosen once, at open, by the reader rule of `lib/lake/generations.ts`, so a
 * compaction running meanwhile never shows a row twice. The choice is renewed before a query
 * once it is older than `refreshMs` (5 minutes), well inside a compaction's grace period, so a
 * long-lived engine never reads objects that `deno task compact` has since deleted.
 *
 * @example
 * ```ts ignore
 * import { openLocalEngine } from "./local.ts";
 * import { openStore } from "../lake/open_store.ts";
 * const engine = await openLocalEngine({ store: await openStore("./lake") });
 * const result = await engine.query("SELECT symbol, COUNT(*) AS n FROM ticks GROUP BY symbol");
 * ```
 * @throws {LocalQueryError} when the lake holds no objects under `ticks/dt=…/`.
 */
export async function openLocalEngine(options: LocalEngineOptions): Promise<LocalEngine> {
  const table = options.table ?? "ticks";
  const now = options.now ?? Date.now;
  const refreshMs = options.refreshMs ?? 300_000;
  let snapshot = { opened: now(), ...await chooseObjects(options, table) };
  return {
    get frame() {
      return snapshot.frame;
    },
    table,
    async query(sql: string): Promise<QueryResult> {
      if (now() - snapshot.opened > refreshMs) {
        snapshot = { opened: now(), ...await chooseObjects(options, table) };
      }
      const started = performance.now();
      const lazy = snapshot.context.execute(sql) as pl.LazyDataFrame & { _ldf: unknown };
      // nodejs-polars returns the SQL error inside the frame; calling collect on it would surface
      // only "_ldf.collectSync is not a function".
      if (lazy._ldf instanceof Error) {
        throw new LocalQueryError(
          `Polars SQL rejected the query: ${firstLine(lazy._ldf.message)}\n  SQL: ${oneLine(sql)}`,
          { sql, cause: lazy._ldf },
        );
      }
      let df: pl.DataFrame;
      try {
        df = await lazy.collect();
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new LocalQueryError(
          `Polars could not run the query: ${firstLine(reason)}\n  SQL: ${oneLine(sql)}`,
          { sql, cause: error },
        );
      }
      return frameResult(df, sql, performance.now() - started);
    },
  };
}

/** Lists the lake with the reader rule and builds the scan of the live objects. */
async function chooseObjects(
  options: LocalEngineOptions,
  table: string,
): Promise<{ frame: pl.LazyDataFrame; context: ReturnType<typeof pl.SQLContext> }> {
  const prefix = withSlash(options.prefix ?? "ticks/");
  // The reader rule of lib/lake/generations.ts: a compacted partition counts its current
  // generation only, never the objects it replaced nor other generations.
  const views = (await readTable(options.store, prefix)).filter((v) =>
    DT_PATTERN.test(v.partition)
  );
  const keys = { parquet: 0, jsonl: [] as string[] };
  for (const object of views.flatMap((view) => view.objects)) {
    const format = formatFor(object.key)?.format;
    if (format === "parquet") keys.parquet++;
    else if (format === "jsonl") keys.jsonl.push(object.key);
  }
  const where = joinUri(options.store.uri, prefix);
  if (keys.parquet === 0 && keys.jsonl.length === 0) {
    throw new LocalQueryError(
      `The lake has no data under "${where}" (expected ${prefix}dt=YYYY-MM-DD/*.parquet or *.jsonl): ` +
        "run `deno task consume` to fill it, or pass --lake to point at another lake.",
    );
  }
  const frames: pl.LazyDataFrame[] = [];
  if (keys.parquet > 0) {
    const s3 = options.store.uri.startsWith("s3://");
    const cloudOptions = s3
      ? await withStoreCredentials(options.cloudOptions ?? s3CloudOptions(), options.store)
      : undefined;
    const scan = (path: string, hive: boolean) =>
      pl.scanParquet(
        path,
        {
          hivePartitioning: hive,
          tryParseHiveDates: false,
          ...(cloudOptions ? { cloudOptions } : {}),
        } as Parameters<typeof pl.scanParquet>[1],
      );
    // One folder level skips generation folders (`_g…/`). (A character class such as `[!_.]`
    // would skip hidden names too, but Polars' S3 globbing then matches no key holding `+`.)
    const visible = "*.parquet";
    if (views.every((view) => !view.manifest)) {
      frames.push(normalise(scan(`${where}dt=*/${visible}`, true)));
    } else {
      // Compacted partitions name their objects; the others keep one glob each.
      const parts: pl.LazyDataFrame[] = [];
      for (const view of views) {
        const dt = pl.lit(view.partition.match(DT_PATTERN)![1]).alias("dt");
        const paths = view.manifest
          ? view.objects.filter((o) => o.key.endsWith(".parquet")).map((o) =>
            joinUri(options.store.uri, o.key)
          )
          : view.objects.some((o) => o.key.endsWith(".parquet"))
          ? [joinUri(options.store.uri, view.partition) + visible]
          : [];
        for (const path of paths) parts.push(scan(path, false).withColumns(dt));
      }
      frames.push(normalise(parts.length === 1 ? parts[0] : pl.concat(parts, { how: "vertical" })));
    }
  }
  if (keys.jsonl.length > 0) frames.push(normalise(await readJsonLines(options.store, keys.jsonl)));
  const frame = frames.length === 1 ? frames[0] : pl.concat(frames, { how: "diagonal" });
  const more = await options.tables?.(options.store);
  return { frame, context: pl.SQLContext({ ...more, [table]: frame }) };
}

/**
 * Runs one Polars SQL statement over the lake (opens it, queries, returns typed rows).
 *
 * @example
 * ```ts ignore
 * import { queryLocal } from "./local.ts";
 * import { openStore } from "../lake/open_store.ts";
 * const result = await queryLocal("SELECT COUNT(*) AS n FROM ticks", { store: await openStore("./lake") });
 * result.rows[0].n;
 * ```
 */
export async function queryLocal(sql: string, options: LocalEngineOptions): Promise<QueryResult> {
  return await (await openLocalEngine(options)).query(sql);
}

/** Turns a collected frame into a {@linkcode QueryResult} (dates as `YYYY-MM-DD`, integers as numbers). */
export function frameResult(df: pl.DataFrame, sql: string, elapsedMs: number): QueryResult {
  const columns = Object.entries(df.schema as Record<string, pl.DataType>).map(([name, dtype]) => ({
    name,
    type: columnTypeOf(dtype),
  }));
  const rows = df.toRecords().map((record) => {
    const row: Record<string, Value> = {};
    for (const { name, type } of columns) row[name] = cell(record[name], type);
    return row;
  });
  return { engine: "local", sql, columns, rows, stats: { elapsedMs } };
}

function cell(value: unknown, type: string): Value {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Date) return type === "date" ? value.toISOString().slice(0, 10) : value;
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") {
    return value;
  }
  return JSON.stringify(value);
}

/** Gives every lake frame the same column types: `ts` a UTC millisecond timestamp, prices doubles. */
function normalise(frame: pl.LazyDataFrame): pl.LazyDataFrame {
  const schema = frame.limit(0).collectSync().schema as Record<string, pl.DataType>;
  const casts: pl.Expr[] = [];
  if (schema.ts && schema.ts.variant !== "Datetime") {
    casts.push(pl.col("ts").cast(pl.Datetime("ms", "UTC")));
  }
  for (const column of PRICE_COLUMNS) {
    if (schema[column] && schema[column].variant !== "Float64") {
      casts.push(pl.col(column).cast(pl.Float64));
    }
  }
  return casts.length ? frame.withColumns(...casts) : frame;
}

async function readJsonLines(store: Store, keys: string[]): Promise<pl.LazyDataFrame> {
  const frames: pl.DataFrame[] = [];
  for (const key of keys) {
    const bytes = await store.get(key);
    if (!bytes) continue;
    let ticks;
    try {
      ticks = decodeObject(key, bytes);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      throw new LocalQueryError(`${error.message} Remove or repair the object.`, { cause: error });
    }
    const dt = parseObjectKey(key)?.dt ?? key.match(DT_PATTERN)![1];
    frames.push(ticksToFrame(ticks).withColumns(pl.lit(dt).alias("dt")));
  }
  return (frames.length === 1 ? frames[0] : pl.concat(frames)).lazy();
}

function withSlash(prefix: string): string {
  return prefix.endsWith("/") ? prefix : `${prefix}/`;
}

function joinUri(root: string, prefix: string): string {
  return `${root.replace(/\/+$/, "")}/${prefix}`;
}

function firstLine(text: string): string {
  return text.split("\n")[0];
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, " ").trim();
}
