/**
 * The lake sink: buffers ticks per Kafka partition, writes them as deterministic objects, and only
 * then lets the caller commit the offsets. It is independent of kafkajs so it can be tested alone.
 *
 * ## Exactly once
 * Each flush covers a contiguous offset range `[start, end]` of one partition. Before any object is
 * written, the range is recorded in a small checkpoint object (`_sink/<group>/<topic>+<p>.json`).
 * Object keys are derived from `(dt, topic, partition, start)`, so rewriting a range rewrites the
 * same keys. After a crash anywhere between the checkpoint and the commit, the next owner of the
 * partition resumes at the committed offset, finds the checkpoint for that very offset, and flushes
 * at exactly the recorded `end` — whatever its own size or time triggers say — so it overwrites the
 * same objects with the same rows. A crash before the checkpoint leaves nothing behind. Hence every
 * record lands exactly once, even with time-based flushes and event-date partitions.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log.ts";
import { retry } from "../retry.ts";
import type { Tick } from "../tick.ts";
import { encodeTicks, type LakeFormat } from "./encode.ts";
import { objectKey, partitionFor } from "./layout.ts";
import type { Store } from "./store.ts";

/** One decoded record handed to the sink. */
export interface SinkRecord {
  /** Kafka offset of the record. */
  offset: bigint;
  /** The decoded tick. */
  tick: Tick;
  /** Kafka record timestamp in epoch ms (the ingest time used by `partitionBy: "ingest"`). */
  timestamp: number;
  /** Size of the record's value in bytes, for the byte-based flush trigger. */
  size: number;
}

/** A contiguous run of offsets from one fetch, with the valid records among them. */
export interface SinkBatch {
  /** Kafka partition. */
  partition: number;
  /** First offset of the run (poison messages included). */
  firstOffset: bigint;
  /** Last offset of the run (poison messages included). */
  lastOffset: bigint;
  /** The valid records of the run, in offset order. */
  records: SinkRecord[];
}

/** Called once a range is durable; must commit `nextOffset` for `partition` to Kafka. */
export type CommitFn = (partition: number, nextOffset: bigint) => Promise<void>;

/** The clock the sink reads for age-based flushes. */
export interface SinkClock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Options of {@linkcode LakeSink}. */
export interface LakeSinkOptions {
  /** Where objects are written. */
  store: Store;
  /** Kafka topic, part of every object name. */
  topic: string;
  /** Consumer group, part of the checkpoint path (one sink state per group). */
  group: string;
  /** Commits offsets after a range is durable. */
  commit: CommitFn;
  /** Object format. @default "parquet" */
  format?: LakeFormat;
  /** Gzip JSON Lines objects. @default false */
  gzip?: boolean;
  /** Partition objects by event date (`ts`) or ingest date (Kafka record timestamp). @default "event" */
  partitionBy?: "event" | "ingest";
  /**
   * Width of a `dt` partition: `day` (the date itself), or `month` / `year` (the first day of the
   * month / year). Wider partitions keep historical replays of daily bars from writing one small
   * object per trading day. @default "day"
   */
  dtGranularity?: "day" | "month" | "year";
  /** Objects written at once within a flush. @default 8 */
  writeConcurrency?: number;
  /** Flush a partition once it buffers this many rows. @default 50000 */
  flushRows?: number;
  /** Flush a partition once its buffered values reach this many bytes. @default 16 MiB */
  flushBytes?: number;
  /** Flush a partition once its oldest buffered row is this old, even with no new data. @default 30 */
  flushSeconds?: number;
  /** Lake table (the first path segment). @default "ticks" */
  table?: string;
  /** Clock for age-based flushes. @default Date */
  clock?: SinkClock;
  /** Where retries and flushes are reported. @default silentLogger */
  logger?: Logger;
  /** Stops retries (a second Ctrl-C). */
  signal?: AbortSignal;
  /** Longest backoff between failed writes. @default 15000 */
  maxRetryDelayMs?: number;
}

/** What the sink has done so far. */
export interface SinkStats {
  /** Rows written to the lake (a replayed range counts again). */
  rowsWritten: number;
  /** Objects written. */
  objectsWritten: number;
  /** Bytes written, objects only. */
  bytesWritten: number;
  /** Offset commits made. */
  commits: number;
  /** Rows buffered now, across partitions. */
  bufferedRows: number;
  /** Bytes buffered now, across partitions. */
  bufferedBytes: number;
}

/** The checkpoint written before a range's objects. */
export interface SinkCheckpoint {
  /** First offset of the range. */
  start: string;
  /** Last offset of the range (inclusive). */
  end: string;
  /** Objects the range writes. */
  keys: string[];
}

interface PartitionBuffer {
  start: bigint;
  end: bigint;
  records: SinkRecord[];
  bytes: number;
  openedAt: number;
  /** Set while replaying a range recorded in a checkpoint: flush exactly at this offset. */
  forcedEnd?: bigint;
}

/** Extra work to do while waiting (heartbeats), passed by the consumer. */
export interface WaitContext {
  /** Keeps the consumer's group membership alive; throws when the partition was taken away. */
  heartbeat?: () => Promise<void>;
}

/**
 * Buffers records per partition and writes them to the lake exactly once.
 *
 * @example
 * ```ts
 * import { LakeSink } from "./sink.ts";
 * import { MemoryStore } from "./memory_store.ts";
 * const sink = new LakeSink({
 *   store: new MemoryStore(),
 *   topic: "stock_market",
 *   group: "stock_market_lake",
 *   commit: async (partition, next) => console.log(partition, next),
 * });
 * ```
 */
export class LakeSink {
  readonly #options: Required<
    Omit<LakeSinkOptions, "signal" | "commit" | "store">
  >;
  readonly #store: Store;
  readonly #commit: CommitFn;
  readonly #signal?: AbortSignal;
  readonly #buffers = new Map<number, PartitionBuffer>();
  /** Next offset each partition expects; a batch starting before it means a re-delivery. */
  readonly #expected = new Map<number, bigint>();
  #queue: Promise<unknown> = Promise.resolve();
  readonly #stats = { rowsWritten: 0, objectsWritten: 0, bytesWritten: 0, commits: 0 };

  /** Creates a sink; nothing is read or written until records arrive. */
  constructor(options: LakeSinkOptions) {
    this.#store = options.store;
    this.#commit = options.commit;
    this.#signal = options.signal;
    this.#options = {
      topic: options.topic,
      group: options.group,
      format: options.format ?? "parquet",
      gzip: options.gzip ?? false,
      partitionBy: options.partitionBy ?? "event",
      dtGranularity: options.dtGranularity ?? "day",
      writeConcurrency: positive("writeConcurrency", options.writeConcurrency ?? 8),
      flushRows: positive("flushRows", options.flushRows ?? 50_000),
      flushBytes: positive("flushBytes", options.flushBytes ?? 16 * 1024 * 1024),
      flushSeconds: positive("flushSeconds", options.flushSeconds ?? 30),
      table: options.table ?? "ticks",
      clock: options.clock ?? Date,
      logger: options.logger ?? silentLogger,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 15_000,
    };
  }

  /** Totals so far. */
  get stats(): SinkStats {
    let bufferedRows = 0;
    let bufferedBytes = 0;
    for (const buffer of this.#buffers.values()) {
      bufferedRows += buffer.records.length;
      bufferedBytes += buffer.bytes;
    }
    return { ...this.#stats, bufferedRows, bufferedBytes };
  }

  /**
   * Runs `task` after every earlier sink operation finished: adds, flushes and resets never
   * interleave. While waiting, `context.heartbeat` is called every few seconds.
   */
  exclusive<T>(task: () => Promise<T>, context: WaitContext = {}): Promise<T> {
    const previous = this.#queue;
    const run = (async () => {
      if (context.heartbeat) {
        let done = false;
        previous.finally(() => done = true);
        while (!done) {
          await Promise.race([previous.catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
          if (!done) await context.heartbeat();
        }
      } else {
        await previous.catch(() => {});
      }
      return await task();
    })();
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Adds a fetched run of records and flushes every range that became due. Resolves once those
   * ranges are durable and committed.
   */
  add(batch: SinkBatch, context: WaitContext = {}): Promise<void> {
    return this.exclusive(() => this.#add(batch, context), context);
  }

  /** Flushes partitions whose oldest row is older than `flushSeconds` (the no-stuck-tail rule). */
  flushDue(context: WaitContext = {}): Promise<void> {
    return this.exclusive(async () => {
      const now = this.#options.clock.now();
      for (const [partition, buffer] of [...this.#buffers]) {
        if (buffer.forcedEnd !== undefined) continue; // a replay waits for its recorded end
        if (now - buffer.openedAt >= this.#options.flushSeconds * 1000) {
          await this.#flush(partition, buffer, context);
        }
      }
    }, context);
  }

  /** Flushes every buffered range (graceful stop). Replays stop at what has arrived. */
  flushAll(context: WaitContext = {}): Promise<void> {
    return this.exclusive(async () => {
      for (const [partition, buffer] of [...this.#buffers]) {
        if (buffer.forcedEnd !== undefined && buffer.end < buffer.forcedEnd) {
          // Writing part of a recorded range would leave the rest of its old objects behind;
          // leave it uncommitted and let the next run replay it whole.
          this.#buffers.delete(partition);
          continue;
        }
        await this.#flush(partition, buffer, context);
      }
    }, context);
  }

  /**
   * Drops buffered, uncommitted rows (after a rebalance Kafka re-delivers them from the committed
   * offset). With no argument, drops every partition.
   */
  reset(partitions?: number[]): Promise<void> {
    return this.exclusive(() => {
      for (const partition of partitions ?? [...this.#buffers.keys(), ...this.#expected.keys()]) {
        this.#buffers.delete(partition);
        this.#expected.delete(partition);
      }
      return Promise.resolve();
    });
  }

  /** The checkpoint object key of a partition. */
  checkpointKey(partition: number): string {
    return `_sink/${this.#options.group}/${this.#options.topic}+${partition}.json`;
  }

  async #add(batch: SinkBatch, context: WaitContext): Promise<void> {
    const { partition } = batch;
    const expected = this.#expected.get(partition);
    if (expected !== undefined && batch.firstOffset < expected) {
      // Kafka re-delivers from the committed offset (rebalance or seek): start over from there.
      this.#options.logger.info(
        `partition ${partition}: re-delivery from offset ${batch.firstOffset}, dropping uncommitted buffer.`,
      );
      this.#buffers.delete(partition);
    }
    let buffer = this.#buffers.get(partition);
    let records = batch.records;
    let firstOffset = batch.firstOffset;
    while (true) {
      if (!buffer) {
        buffer = {
          start: firstOffset,
          end: firstOffset - 1n,
          records: [],
          bytes: 0,
          openedAt: this.#options.clock.now(),
          forcedEnd: await this.#replayEnd(partition, firstOffset, context),
        };
        this.#buffers.set(partition, buffer);
      }
      const forcedEnd = buffer.forcedEnd;
      if (forcedEnd !== undefined && batch.lastOffset > forcedEnd) {
        // The run crosses the end of a recorded range: split it there.
        const cut = records.findIndex((r) => r.offset > forcedEnd);
        const head = cut === -1 ? records : records.slice(0, cut);
        this.#append(buffer, head, forcedEnd);
        await this.#flush(partition, buffer, context);
        records = cut === -1 ? [] : records.slice(cut);
        firstOffset = forcedEnd + 1n;
        buffer = undefined;
        continue;
      }
      this.#append(buffer, records, batch.lastOffset);
      break;
    }
    this.#expected.set(partition, batch.lastOffset + 1n);
    const o = this.#options;
    const due = buffer.forcedEnd !== undefined
      ? buffer.end >= buffer.forcedEnd
      : buffer.records.length >= o.flushRows || buffer.bytes >= o.flushBytes ||
        o.clock.now() - buffer.openedAt >= o.flushSeconds * 1000;
    if (due) await this.#flush(partition, buffer, context);
  }

  #append(buffer: PartitionBuffer, records: SinkRecord[], end: bigint): void {
    for (const record of records) {
      buffer.records.push(record);
      buffer.bytes += record.size;
    }
    buffer.end = end;
  }

  /** Reads the partition's checkpoint: when it starts exactly here, the range must be replayed. */
  async #replayEnd(
    partition: number,
    offset: bigint,
    context: WaitContext,
  ): Promise<bigint | undefined> {
    const key = this.checkpointKey(partition);
    const bytes = await this.#retry(() => this.#store.get(key), `reading ${key}`, context);
    if (!bytes) return undefined;
    let checkpoint: SinkCheckpoint;
    try {
      checkpoint = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      this.#options.logger.warn(`${key} is not valid JSON; ignoring it.`);
      return undefined;
    }
    const start = BigInt(checkpoint.start);
    const end = BigInt(checkpoint.end);
    if (start === offset) {
      this.#options.logger.info(
        `partition ${partition}: replaying uncommitted range ${start}..${end} recorded in ${key}.`,
      );
      return end;
    }
    if (offset < start) {
      this.#options.logger.warn(
        `partition ${partition}: resuming at ${offset}, before the last written range ${start}..${end}; ` +
          `offsets were reset, so rows written since may be written again.`,
      );
    }
    return undefined;
  }

  async #flush(partition: number, buffer: PartitionBuffer, context: WaitContext): Promise<void> {
    const o = this.#options;
    const groups = new Map<string, Tick[]>();
    for (const record of buffer.records) {
      const dt = widen(
        partitionFor(record.tick, { by: o.partitionBy, ingestMs: record.timestamp }),
        o.dtGranularity,
      );
      let rows = groups.get(dt);
      if (!rows) groups.set(dt, rows = []);
      rows.push(record.tick);
    }
    const objects = [...groups].sort(([a], [b]) => a < b ? -1 : 1).map(([dt, ticks]) => ({
      key: objectKey({
        table: o.table,
        dt,
        topic: o.topic,
        partition,
        startOffset: buffer.start,
        format: o.format,
        gzip: o.gzip,
      }),
      ticks,
    }));
    if (objects.length > 0) {
      const checkpoint: SinkCheckpoint = {
        start: buffer.start.toString(),
        end: buffer.end.toString(),
        keys: objects.map((x) => x.key),
      };
      const body = new TextEncoder().encode(JSON.stringify(checkpoint));
      const key = this.checkpointKey(partition);
      await this.#retry(() => this.#store.put(key, body), `writing ${key}`, context);
      for (const object of objects) {
        const bytes = encodeTicks(object.ticks, { format: o.format, gzip: o.gzip });
        await this.#retry(
          () => this.#store.put(object.key, bytes),
          `writing ${object.key}`,
          context,
        );
        this.#stats.objectsWritten++;
        this.#stats.bytesWritten += bytes.length;
        this.#stats.rowsWritten += object.ticks.length;
      }
    }
    this.#buffers.delete(partition);
    await this.#commit(partition, buffer.end + 1n);
    this.#stats.commits++;
    o.logger.info(
      `partition ${partition}: wrote ${buffer.records.length} rows in ${objects.length} object(s), ` +
        `committed offset ${buffer.end + 1n}.`,
    );
  }

  #retry<T>(operation: () => Promise<T>, what: string, context: WaitContext): Promise<T> {
    return retry(operation, {
      what,
      logger: this.#options.logger,
      signal: this.#signal,
      maxDelayMs: this.#options.maxRetryDelayMs,
      onWait: context.heartbeat,
    });
  }
}

function widen(dt: string, granularity: "day" | "month" | "year"): string {
  if (granularity === "month") return `${dt.slice(0, 7)}-01`;
  if (granularity === "year") return `${dt.slice(0, 4)}-01-01`;
  return dt;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}.`);
  }
  return value;
}
