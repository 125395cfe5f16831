/**
 * Where things go in the lake: deterministic object keys, the `dt` partition of a tick, the file
 * formats and their extensions, and the rules every store key follows.
 *
 * A key looks like `ticks/dt=2021-05-31/stock_market+0+00000000000000001234.parquet`: table,
 * Hive-style date partition, then Kafka topic, partition and first offset of the batch
 * (zero-padded to 20 digits, as Confluent's S3 sink names objects). The same batch always gets the
 * same key, so a replay overwrites instead of duplicating.
 *
 * @module
 */

import { type Tick, utcDate } from "../tick.ts";

/** A file format of lake objects. */
export type LakeFormat = "parquet" | "jsonl";

/** Every {@linkcode LakeFormat}, in order of preference. */
export const LAKE_FORMATS: readonly LakeFormat[] = ["parquet", "jsonl"];

/** File extension of each format; gzip-compressed JSON Lines adds `.gz` (see {@linkcode GZIP_EXTENSION}). */
export const FORMAT_EXTENSIONS: Readonly<Record<LakeFormat, string>> = {
  parquet: ".parquet",
  jsonl: ".jsonl",
};

/** Extension appended to gzip-compressed JSON Lines objects: `.jsonl.gz`. */
export const GZIP_EXTENSION = ".gz";

/** The default lake table. */
export const DEFAULT_TABLE = "ticks";

/** Raised for a key, table, date, topic, partition or offset that the lake layout cannot use. */
export class LayoutError extends Error {
  /** Creates the error; the message says what was wrong and what is accepted. */
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

/**
 * The file extension for a format.
 *
 * @example
 * ```ts
 * import { extensionFor } from "./layout.ts";
 * extensionFor("jsonl", { gzip: true }); // ".jsonl.gz"
 * ```
 * @throws {LayoutError} for an unknown format or gzip with Parquet (Parquet compresses inside).
 */
export function extensionFor(format: LakeFormat, options: { gzip?: boolean } = {}): string {
  if (!LAKE_FORMATS.includes(format)) {
    throw new LayoutError(
      `Unknown lake format "${format}": use one of ${LAKE_FORMATS.join(", ")}.`,
    );
  }
  if (options.gzip && format === "parquet") {
    throw new LayoutError(
      "Parquet objects cannot be gzipped: Parquet compresses its own pages; drop the gzip option.",
    );
  }
  return FORMAT_EXTENSIONS[format] + (options.gzip ? GZIP_EXTENSION : "");
}

/** The format of an object, as told by its key's extension. */
export interface ObjectFormat {
  /** The encoding of the object. */
  format: LakeFormat;
  /** Whether the object is gzip-compressed (`.jsonl.gz`). */
  gzip: boolean;
}

/**
 * Tells the format of an object from its key, or `undefined` when the extension is not a lake one.
 *
 * @example
 * ```ts
 * import { formatFor } from "./layout.ts";
 * formatFor("ticks/dt=2021-05-31/t+0+00000000000000000000.jsonl.gz"); // { format: "jsonl", gzip: true }
 * formatFor("ticks/_SUCCESS"); // undefined
 * ```
 */
export function formatFor(key: string): ObjectFormat | undefined {
  if (key.endsWith(FORMAT_EXTENSIONS.parquet)) return { format: "parquet", gzip: false };
  if (key.endsWith(FORMAT_EXTENSIONS.jsonl)) return { format: "jsonl", gzip: false };
  if (key.endsWith(FORMAT_EXTENSIONS.jsonl + GZIP_EXTENSION)) {
    return { format: "jsonl", gzip: true };
  }
  return undefined;
}

/**
 * Checks a store key: relative to the lake root, `/`-separated, no empty, `.` or `..` segments,
 * no backslashes or control characters.
 *
 * @example
 * ```ts
 * import { assertStoreKey } from "./layout.ts";
 * assertStoreKey("ticks/dt=2021-05-31/a.parquet"); // ok
 * assertStoreKey("../etc/passwd"); // throws LayoutError
 * ```
 * @throws {LayoutError} naming the key and the rule it breaks.
 */
export function assertStoreKey(key: string): void {
  const problem = keyProblem(key, false);
  if (problem) throw new LayoutError(`Invalid object key ${JSON.stringify(key)}: ${problem}.`);
}

/**
 * Checks a listing prefix: like {@linkcode assertStoreKey} but it may be empty (the whole lake),
 * end with `/`, or stop in the middle of a segment (`ticks/dt=2021-`).
 *
 * @throws {LayoutError} naming the prefix and the rule it breaks.
 */
export function assertStorePrefix(prefix: string): void {
  if (prefix === "") return;
  const problem = keyProblem(prefix, true);
  if (problem) throw new LayoutError(`Invalid list prefix ${JSON.stringify(prefix)}: ${problem}.`);
}

function keyProblem(key: string, isPrefix: boolean): string | undefined {
  if (typeof key !== "string") return "it must be a string";
  if (key === "") return "it is empty; use a path such as ticks/dt=2021-05-31/name.parquet";
  if (key.startsWith("/")) return "it must be relative to the lake root (no leading /)";
  // deno-lint-ignore no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(key)) {
    return "it must use / as separator and contain no control characters";
  }
  const segments = key.split("/");
  if (isPrefix && segments.at(-1) === "") segments.pop();
  for (const segment of segments) {
    if (segment === "") return "it has an empty path segment (//) or a trailing /";
    if (segment === "." || segment === "..") return "it must not contain . or .. segments";
  }
  return undefined;
}

/** The parts of a lake object key; see {@linkcode objectKey}. */
export interface ObjectKeyParts {
  /** Table folder: lower-case letters, digits and `_`. @default "ticks" */
  table?: string;
  /** Partition date `YYYY-MM-DD` (UTC). */
  dt: string;
  /** Kafka topic the batch came from. */
  topic: string;
  /** Kafka partition of the batch. */
  partition: number;
  /** Offset of the first message in the batch; kafkajs gives offsets as decimal strings. */
  startOffset: string | number | bigint;
  /** Encoding of the object. */
  format: LakeFormat;
  /** Gzip-compress the object (JSON Lines only). @default false */
  gzip?: boolean;
}

/** A parsed object key: every part of {@linkcode ObjectKeyParts} filled in. */
export interface ParsedObjectKey {
  /** Table folder. */
  table: string;
  /** Partition date `YYYY-MM-DD`. */
  dt: string;
  /** Kafka topic. */
  topic: string;
  /** Kafka partition. */
  partition: number;
  /** First offset of the batch as a decimal string without padding, like kafkajs offsets. */
  startOffset: string;
  /** Encoding of the object. */
  format: LakeFormat;
  /** Whether the object is gzip-compressed. */
  gzip: boolean;
}

/** Digits of a zero-padded offset in an object key (fits any signed 64-bit offset). */
export const OFFSET_DIGITS = 20;

const MAX_OFFSET = (1n << 63n) - 1n;
/** A lake table (and Glue database) name: what Glue and Athena accept unquoted. */
export const TABLE_PATTERN = /^[a-z0-9_]{1,255}$/;
/** {@linkcode TABLE_PATTERN} in words, for error messages. */
export const TABLE_RULE = "1-255 lower-case letters, digits or '_'";
/** A Kafka topic name, part of every object key. */
export const TOPIC_PATTERN = /^[A-Za-z0-9._-]{1,249}$/;
/** {@linkcode TOPIC_PATTERN} in words, for error messages. */
export const TOPIC_RULE = "1-249 letters, digits, '.', '_' or '-'";
/** {@linkcode isValidBucketName}'s rule in words, for error messages. */
export const BUCKET_RULE = "3-63 lower-case letters, digits, '.' or '-'";

/** Whether `name` is a valid S3 bucket name (3-63 of `a-z 0-9 . -`, starting and ending alphanumeric). */
export function isValidBucketName(name: string): boolean {
  return typeof name === "string" && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !name.includes("..");
}

/**
 * Splits `s3://bucket/prefix` into bucket and prefix (without leading or trailing slashes), or
 * `undefined` for anything that is not an `s3://` URI. Checks nothing: see `parseLakeUri` for a
 * lake URI's rules.
 *
 * @example
 * ```ts
 * import { parseS3Uri } from "./layout.ts";
 * parseS3Uri("s3://my-lake/stock_market/"); // { bucket: "my-lake", prefix: "stock_market" }
 * parseS3Uri("./lake"); // undefined
 * ```
 */
export function parseS3Uri(uri: string): { bucket: string; prefix: string } | undefined {
  const text = uri.trim();
  if (!text.startsWith("s3://")) return undefined;
  const rest = text.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = (slash < 0 ? "" : rest.slice(slash + 1)).replace(/^\/+|\/+$/g, "");
  return { bucket, prefix };
}
const KEY_PATTERN =
  /^([a-z0-9_]{1,255})\/dt=(\d{4}-\d{2}-\d{2})\/([A-Za-z0-9._-]{1,249})\+(\d{1,10})\+(\d{20})(\.parquet|\.jsonl|\.jsonl\.gz)$/;

/**
 * The deterministic key of the object holding one batch of one Kafka partition.
 *
 * @example
 * ```ts
 * import { objectKey } from "./layout.ts";
 * objectKey({ dt: "2021-05-31", topic: "stock_market", partition: 0, startOffset: "1234",
 *   format: "parquet" });
 * // "ticks/dt=2021-05-31/stock_market+0+00000000000000001234.parquet"
 * ```
 * @throws {LayoutError} for a bad table name, date, topic, partition, offset or format.
 */
export function objectKey(parts: ObjectKeyParts): string {
  const table = checkTable(parts.table ?? DEFAULT_TABLE);
  const dt = checkDate(parts.dt);
  const topic = checkTopic(parts.topic);
  const partition = checkPartition(parts.partition);
  const offset = checkOffset(parts.startOffset);
  const extension = extensionFor(parts.format, { gzip: parts.gzip });
  return `${table}/dt=${dt}/${topic}+${partition}+${
    offset.toString().padStart(OFFSET_DIGITS, "0")
  }${extension}`;
}

/**
 * Parses a key written by {@linkcode objectKey}; `undefined` for any other key (temp files,
 * markers, foreign objects), so listings can skip them.
 *
 * @example
 * ```ts
 * import { parseObjectKey } from "./layout.ts";
 * parseObjectKey("ticks/dt=2021-05-31/stock_market+0+00000000000000001234.parquet");
 * // { table: "ticks", dt: "2021-05-31", topic: "stock_market", partition: 0,
 * //   startOffset: "1234", format: "parquet", gzip: false }
 * ```
 */
export function parseObjectKey(key: string): ParsedObjectKey | undefined {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const [, table, dt, topic, partition, offset, extension] = match;
  if (dateProblem(dt)) return undefined;
  const startOffset = BigInt(offset);
  if (startOffset > MAX_OFFSET) return undefined;
  const partitionNumber = Number(partition);
  if (partitionNumber > 2 ** 31 - 1) return undefined;
  const { format, gzip } = formatFor(extension)!;
  return {
    table,
    dt,
    topic,
    partition: partitionNumber,
    startOffset: startOffset.toString(),
    format,
    gzip,
  };
}

/**
 * The prefix of every object of a table, e.g. `ticks/`.
 *
 * @throws {LayoutError} when the table name is not lower-case letters, digits and `_`.
 */
export function tablePrefix(table: string = DEFAULT_TABLE): string {
  return `${checkTable(table)}/`;
}

/**
 * The prefix of one date partition of a table, e.g. `ticks/dt=2021-05-31/`.
 *
 * @throws {LayoutError} for a bad table name or date.
 */
export function partitionPrefix(table: string, dt: string): string {
  return `${tablePrefix(table)}dt=${checkDate(dt)}/`;
}

/** Options of {@linkcode partitionFor}. */
export interface PartitionForOptions {
  /**
   * Partition by the tick's own time (`event`; replays land in the same place) or by when it
   * was ingested (`ingest`; needs `ingestMs`). @default "event"
   */
  by?: "event" | "ingest";
  /** Ingest time in epoch milliseconds; required when `by` is `ingest`. */
  ingestMs?: number;
}

/**
 * The `dt` partition (UTC date `YYYY-MM-DD`) a tick belongs to.
 *
 * @example
 * ```ts
 * import { partitionFor } from "./layout.ts";
 * partitionFor({ symbol: "NYA", ts: Date.UTC(2021, 4, 31, 23, 59), open: null, high: null,
 *   low: null, close: 1, adj_close: null, volume: null, close_usd: null }); // "2021-05-31"
 * ```
 * @throws {LayoutError} when the chosen time is not a finite epoch-millisecond number, or
 * `ingest` is chosen without `ingestMs`.
 */
export function partitionFor(tick: Tick, options: PartitionForOptions = {}): string {
  const by = options.by ?? "event";
  let ms: number | undefined;
  if (by === "event") ms = tick.ts;
  else if (by === "ingest") {
    if (options.ingestMs === undefined) {
      throw new LayoutError(
        'Partitioning by "ingest" needs ingestMs (epoch milliseconds of the batch); pass it or use by: "event".',
      );
    }
    ms = options.ingestMs;
  } else {
    throw new LayoutError(`Unknown partitioning "${by}": use "event" or "ingest".`);
  }
  if (typeof ms !== "number" || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
    throw new LayoutError(
      `Cannot partition by ${by} time ${String(ms)}: expected epoch milliseconds.`,
    );
  }
  return utcDate(ms);
}

function checkTable(table: string): string {
  if (typeof table !== "string" || !TABLE_PATTERN.test(table)) {
    throw new LayoutError(
      `Invalid table name ${
        JSON.stringify(table)
      }: use ${TABLE_RULE} (Glue/Athena table names), e.g. "ticks".`,
    );
  }
  return table;
}

function checkTopic(topic: string): string {
  if (typeof topic !== "string" || !TOPIC_PATTERN.test(topic)) {
    throw new LayoutError(
      `Invalid topic ${JSON.stringify(topic)}: a Kafka topic is ${TOPIC_RULE}.`,
    );
  }
  return topic;
}

function checkPartition(partition: number): number {
  if (!Number.isSafeInteger(partition) || partition < 0 || partition > 2 ** 31 - 1) {
    throw new LayoutError(
      `Invalid Kafka partition ${String(partition)}: expected an integer from 0 to 2147483647.`,
    );
  }
  return partition;
}

function checkOffset(offset: string | number | bigint): bigint {
  let value: bigint | undefined;
  if (typeof offset === "bigint") value = offset;
  else if (typeof offset === "number" && Number.isSafeInteger(offset)) value = BigInt(offset);
  else if (typeof offset === "string" && /^\d{1,20}$/.test(offset)) value = BigInt(offset);
  if (value === undefined || value < 0n || value > MAX_OFFSET) {
    throw new LayoutError(
      `Invalid start offset ${
        typeof offset === "string" ? JSON.stringify(offset) : String(offset)
      }: expected a non-negative integer Kafka offset (a decimal string, safe integer or bigint).`,
    );
  }
  return value;
}

function checkDate(dt: string): string {
  const problem = dateProblem(dt);
  if (problem) {
    throw new LayoutError(
      `Invalid partition date ${JSON.stringify(dt)}: ${problem}; expected YYYY-MM-DD (UTC).`,
    );
  }
  return dt;
}

function dateProblem(dt: string): string | undefined {
  if (typeof dt !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(dt)) return "wrong shape";
  const ms = Date.parse(`${dt}T00:00:00Z`);
  if (Number.isNaN(ms) || utcDate(ms) !== dt) return "no such calendar day";
  return undefined;
}

/** Width of a `dt` partition; see {@linkcode widenDt}. */
export type DtGranularity = "day" | "month" | "year";

/**
 * Widens a `dt` date to its partition: the date itself (`day`), or the first day of its month or
 * year. Wider partitions keep replays of daily bars from writing one small object per day.
 *
 * @example
 * ```ts
 * import { widenDt } from "./layout.ts";
 * widenDt("2021-05-31", "month"); // "2021-05-01"
 * ```
 */
export function widenDt(dt: string, granularity: DtGranularity): string {
  if (granularity === "month") return `${dt.slice(0, 7)}-01`;
  if (granularity === "year") return `${dt.slice(0, 4)}-01-01`;
  return dt;
}

/** The `dt` granularities, narrowest first. */
export const DT_GRANULARITIES: readonly DtGranularity[] = ["day", "month", "year"];

/**
 * The first `dt` value a lake of this granularity cannot hold (a `dt=2021-05-17` in a month lake),
 * or `undefined` when all fit.
 */
export function dtOutsideGranularity(
  partitions: readonly string[],
  granularity: DtGranularity,
): string | undefined {
  return partitions.find((dt) => widenDt(dt, granularity) !== dt);
}

/**
 * The widest granularity the lake's `dt` values can be sure of: `year` or `month` only when at
 * least two partitions all sit on the first day of a year or a month (one `dt=2024-05-01` may as
 * well be the first day of a day lake), otherwise `day`. A wrong `day` only costs a reader more
 * probes; a wrong `month` would hide days, so the guess stays narrow.
 *
 * @example
 * ```ts
 * import { inferDtGranularity } from "./layout.ts";
 * inferDtGranularity(["2021-01-01", "2021-02-01"]); // "month"
 * inferDtGranularity(["2021-02-01"]); // "day"
 * ```
 */
export function inferDtGranularity(partitions: readonly string[]): DtGranularity {
  if (partitions.length < 2) return "day";
  if (!dtOutsideGranularity(partitions, "year")) return "year";
  if (!dtOutsideGranularity(partitions, "month")) return "month";
  return "day";
}

/** Digits of a checkpoint sequence number in its key. */
export const CHECKPOINT_SEQ_DIGITS = 12;

/**
 * The folder of one partition's checkpoint log: `_sink/<group>/<topic>+<partition>/`, outside
 * every table so readers and crawlers never see it.
 *
 * @throws {LayoutError} for a bad topic or partition.
 */
export function checkpointPrefix(group: string, topic: string, partition: number): string {
  return `_sink/${group}/${checkTopic(topic)}+${checkPartition(partition)}/`;
}

/**
 * The key of checkpoint number `seq` of a partition, e.g.
 * `_sink/stock_market_lake/stock_market+0/000000000042.json`.
 */
export function checkpointKey(
  group: string,
  topic: string,
  partition: number,
  seq: number,
): string {
  if (!Number.isSafeInteger(seq) || seq < 1 || seq >= 10 ** CHECKPOINT_SEQ_DIGITS) {
    throw new LayoutError(`Invalid checkpoint sequence number ${seq}: expected 1 to 10^12-1.`);
  }
  return `${checkpointPrefix(group, topic, partition)}${
    String(seq).padStart(CHECKPOINT_SEQ_DIGITS, "0")
  }.json`;
}

/** The sequence number of a checkpoint key, or `undefined` for any other key. */
export function parseCheckpointSeq(key: string): number | undefined {
  const match = /\/(\d{12})\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

/** The single checkpoint object of sinks before the checkpoint log (read once, to migrate). */
export function legacyCheckpointKey(group: string, topic: string, partition: number): string {
  return `_sink/${group}/${checkTopic(topic)}+${checkPartition(partition)}.json`;
}
