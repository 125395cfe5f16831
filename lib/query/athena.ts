/**
 * Runs SQL on Amazon Athena: submit, poll with backoff until the query settles, page through the
 * results converting each column by its Athena type, and report what the scan cost. Aborting the
 * signal (Ctrl-C in `deno task query`) stops the query on Athena too.
 *
 * @module
 */

import {
  AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import { nameDeniedActions } from "../aws_denied.ts";
import { type Logger, silentLogger } from "../log.ts";
import { systemClock } from "../time.ts";
import type { ColumnType, QueryColumn, QueryResult, Value } from "./result.ts";

/** The part of an `AthenaClient` this module uses (so tests can hand in a wrapped client). */
export interface AthenaLike {
  /** Sends one command. */
  send: AthenaClient["send"];
}

/** Backoff of the status polling. */
export interface PollOptions {
  /** First wait between status checks, in ms. @default 200 */
  initialMs?: number;
  /** Longest wait between status checks, in ms. @default 5000 */
  maxMs?: number;
  /** Each wait is the previous times this. @default 1.6 */
  factor?: number;
}

/** Options of {@linkcode queryAthena}. */
export interface AthenaQueryOptions {
  /** Glue database the query runs in. */
  database: string;
  /** Athena workgroup. @default "primary" */
  workgroup?: string;
  /** Where Athena writes results (`s3://bucket/prefix/`); optional when the workgroup sets one. */
  outputLocation?: string;
  /** Client to use. @default new AthenaClient({ region, endpoint }) */
  client?: AthenaLike;
  /** AWS region for the default client. @default the SDK's (env AWS_REGION) */
  region?: string;
  /** Endpoint for the default client, e.g. moto's. @default the SDK's (env AWS_ENDPOINT_URL) */
  endpoint?: string;
  /** Idempotency token: resubmitting with the same token returns the same query. @default crypto.randomUUID() */
  clientRequestToken?: string;
  /** Aborting it stops the query on Athena and rejects with {@linkcode AthenaQueryCancelledError}. */
  signal?: AbortSignal;
  /** Status polling backoff. */
  poll?: PollOptions;
  /** Rows per GetQueryResults page (1-1000). @default 1000 */
  pageSize?: number;
  /** Called on every status change, for progress displays. */
  onState?: (state: string, elapsedMs: number) => void;
  /** Where progress goes. @default silentLogger */
  logger?: Logger;
  /** Waits between polls; resolves early when the signal aborts. @default systemClock.sleep */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Raised when Athena reports a query FAILED (or an unknown final state); carries Athena's reason. */
export class AthenaQueryError extends Error {
  /** The final state (`FAILED`, …). */
  readonly state: string;
  /** Athena's query execution id. */
  readonly queryExecutionId: string;
  /** Athena's reason, as it gave it. */
  readonly reason?: string;
  /** Creates the error. */
  constructor(
    message: string,
    details: { state: string; queryExecutionId: string; reason?: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "AthenaQueryError";
    this.state = details.state;
    this.queryExecutionId = details.queryExecutionId;
    this.reason = details.reason;
  }
}

/** Raised when a query was cancelled, by the caller's signal or on Athena's side. */
export class AthenaQueryCancelledError extends Error {
  /** Athena's query execution id. */
  readonly queryExecutionId: string;
  /** Creates the error. */
  constructor(message: string, queryExecutionId: string) {
    super(message);
    this.name = "AthenaQueryCancelledError";
    this.queryExecutionId = queryExecutionId;
  }
}

/** Athena's price per byte scanned: $5 per TB (10^12 bytes). */
export const ATHENA_USD_PER_TB = 5;
/** Athena bills at least 10 MB per query. */
export const ATHENA_MIN_BILLED_BYTES = 10 * 1024 * 1024;

/**
 * What a query that scanned `bytes` costs on Athena: bytes rounded up to whole megabytes, at
 * least 10 MB, at $5 per TB.
 *
 * @example
 * ```ts
 * import { athenaCostUsd } from "./athena.ts";
 * athenaCostUsd(0); // 0.000052428800 (the 10 MB minimum)
 * ```
 */
export function athenaCostUsd(bytes: number): number {
  const mb = 1024 * 1024;
  const billed = Math.max(ATHENA_MIN_BILLED_BYTES, Math.ceil(bytes / mb) * mb);
  return (billed / 1e12) * ATHENA_USD_PER_TB;
}

/** The result column type of an Athena column type (`varchar`, `bigint`, `timestamp(3)`, …). */
export function athenaColumnType(athenaType: string | undefined): ColumnType {
  const type = (athenaType ?? "varchar").toLowerCase().replace(/\(.*$/, "").trim();
  if (["tinyint", "smallint", "integer", "int", "bigint"].includes(type)) return "bigint";
  if (["double", "float", "real", "decimal"].includes(type)) return "double";
  if (type === "boolean") return "boolean";
  if (type === "date") return "date";
  if (type.startsWith("timestamp")) return "timestamp";
  return "string";
}

/**
 * Converts one Athena result cell (always text, absent for NULL) to a typed value. Timestamps
 * (`2021-05-31 00:00:00.000`, optionally with ` UTC`) are read as UTC.
 */
export function athenaValue(text: string | undefined, type: ColumnType): Value {
  if (text === undefined) return null;
  switch (type) {
    case "bigint":
    case "double":
      return Number(text);
    case "boolean":
      return text === "true";
    case "timestamp": {
      const iso = text.trim().replace(/ UTC$/, "").replace(" ", "T");
      const date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(iso) ? iso : `${iso}Z`);
      return Number.isNaN(date.getTime()) ? text : date;
    }
    default:
      return text;
  }
}

/**
 * Runs one statement on Athena and returns its typed rows.
 *
 * Polls GetQueryExecution with exponential backoff through QUEUED → RUNNING → SUCCEEDED (RUNNING
 * may fall back to QUEUED when Athena retries), then pages through GetQueryResults.
 *
 * @example
 * ```ts ignore
 * import { queryAthena } from "./athena.ts";
 * const result = await queryAthena("SELECT symbol, max(close) AS high FROM ticks GROUP BY 1", {
 *   database: "stock_market", outputLocation: "s3://my-athena-results/", signal: AbortSignal.timeout(60_000),
 * });
 * console.log(result.rows, result.stats.costUsd);
 * ```
 * @throws {AthenaQueryError} when the query fails, with Athena's reason.
 * @throws {AthenaQueryCancelledError} when the signal aborts (the query is stopped) or someone
 * cancelled it.
 */
export async function queryAthena(sql: string, options: AthenaQueryOptions): Promise<QueryResult> {
  const client = options.client ?? nameDeniedActions(
    new AthenaClient({ region: options.region, endpoint: options.endpoint }),
  );
  const logger = options.logger ?? silentLogger;
  const sleep = options.sleep ?? systemClock.sleep;
  const { signal } = options;
  const started = performance.now();
  if (signal?.aborted) {
    throw new AthenaQueryCancelledError("The query was cancelled before it started.", "");
  }

  const start = await client.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      QueryExecutionContext: { Database: options.database },
      WorkGroup: options.workgroup ?? "primary",
      ClientRequestToken: options.clientRequestToken ?? crypto.randomUUID(),
      ...(options.outputLocation
        ? { ResultConfiguration: { OutputLocation: options.outputLocation } }
        : {}),
    }),
  );
  const id = start.QueryExecutionId;
  if (!id) {
    throw new Error("Athena did not return a QueryExecutionId; check the endpoint and retry.");
  }
  logger.info(`Athena query ${id} submitted.`);

  const execution = await waitForQuery(client, id, { ...options, sleep, logger, started });
  const state = execution.QueryExecution?.Status?.State ?? "UNKNOWN";
  if (state === "CANCELLED") {
    throw new AthenaQueryCancelledError(
      signal?.aborted
        ? `Query ${id} was stopped on Athena because it was cancelled here.`
        : `Query ${id} was cancelled on Athena: ${reasonOf(execution) ?? "no reason given"}.`,
      id,
    );
  }
  if (state !== "SUCCEEDED") {
    const reason = reasonOf(execution);
    throw new AthenaQueryError(
      `Athena query ${id} ${state}: ${reason ?? "no reason given"}\n  SQL: ${oneLine(sql)}`,
      { state, queryExecutionId: id, reason },
    );
  }

  const statementType = execution.QueryExecution?.StatementType;
  const { columns, rows } = await readResults(client, id, {
    pageSize: options.pageSize ?? 1000,
    skipHeader: statementType === undefined || statementType === "DML",
    signal,
  });
  const scanned = execution.QueryExecution?.Statistics?.DataScannedInBytes ?? 0;
  return {
    engine: "athena",
    sql,
    columns,
    rows,
    stats: {
      dataScannedBytes: scanned,
      costUsd: athenaCostUsd(scanned),
      elapsedMs: performance.now() - started,
      queryExecutionId: id,
    },
  };
}

async function waitForQuery(
  client: AthenaLike,
  id: string,
  options: AthenaQueryOptions & {
    sleep: NonNullable<AthenaQueryOptions["sleep"]>;
    logger: Logger;
    started: number;
  },
): Promise<GetQueryExecutionCommandOutput> {
  const initial = options.poll?.initialMs ?? 200;
  const max = options.poll?.maxMs ?? 5000;
  const factor = options.poll?.factor ?? 1.6;
  let wait = initial;
  let last = "";
  let stopping = false;
  while (true) {
    if (options.signal?.aborted && !stopping) {
      stopping = true;
      options.logger.info(`Stopping Athena query ${id}…`);
      await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }));
    }
    const execution = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = execution.QueryExecution?.Status?.State ?? "UNKNOWN";
    if (state !== last) {
      const elapsed = performance.now() - options.started;
      options.logger.info(`Athena query ${id}: ${state} after ${(elapsed / 1000).toFixed(1)} s.`);
      options.onState?.(state, elapsed);
      last = state;
    }
    if (state === "SUCCEEDED" || state === "FAILED" || state === "CANCELLED") return execution;
    if (state !== "QUEUED" && state !== "RUNNING") {
      throw new AthenaQueryError(
        `Athena query ${id} is in an unknown state ${state}; see the console.`,
        {
          state,
          queryExecutionId: id,
        },
      );
    }
    // Once stopping, keep polling promptly until Athena confirms CANCELLED.
    await options.sleep(stopping ? initial : wait, stopping ? undefined : options.signal);
    wait = Math.min(max, wait * factor);
  }
}

async function readResults(
  client: AthenaLike,
  id: string,
  options: { pageSize: number; skipHeader: boolean; signal?: AbortSignal },
): Promise<{ columns: QueryColumn[]; rows: Record<string, Value>[] }> {
  let columns: QueryColumn[] | undefined;
  const rows: Record<string, Value>[] = [];
  let token: string | undefined;
  let first = true;
  do {
    if (options.signal?.aborted) {
      throw new AthenaQueryCancelledError(`Reading the results of ${id} was cancelled.`, id);
    }
    const page: GetQueryResultsCommandOutput = await client.send(
      new GetQueryResultsCommand({
        QueryExecutionId: id,
        MaxResults: options.pageSize,
        NextToken: token,
      }),
    );
    columns ??= columnsOf(page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []);
    let pageRows = page.ResultSet?.Rows ?? [];
    if (first && options.skipHeader && pageRows.length > 0) pageRows = pageRows.slice(1);
    first = false;
    for (const row of pageRows) {
      const data = row.Data ?? [];
      const record: Record<string, Value> = {};
      columns.forEach((column, i) => {
        record[column.name] = athenaValue(data[i]?.VarCharValue, column.type);
      });
      rows.push(record);
    }
    token = page.NextToken;
  } while (token);
  return { columns: columns ?? [], rows };
}

function columnsOf(info: ColumnInfo[]): QueryColumn[] {
  return info.map((column, i) => ({
    name: column.Name ?? column.Label ?? `_col${i}`,
    type: athenaColumnType(column.Type),
  }));
}

function reasonOf(execution: GetQueryExecutionCommandOutput): string | undefined {
  const status = execution.QueryExecution?.Status;
  return status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage;
}

function oneLine(sql: string): string {
  return sql.replace(/\s+/g, " ").trim();
}
