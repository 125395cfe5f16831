/**
 * The lake sink: buffers ticks per Kafka partition, writes them as deterministic objects, and only
 * then lets the caller commit the offsets. It knows nothing of kafkajs, so it is tested alone; the
 * ingest job (`lib/ingest/`) wires it to a consumer group.
 *
 * ## Exactly once
 * Each flush covers a contiguous offset range `[start, end]` of one partition. Before any object is
 * written, the range is appended to the partition's checkpoint log (`lib/lake/checkpoint_log.ts`)
 * together with the settings that shape its objects. Object keys are derived from
 * `(dt, topic, partition, start)`, so rewriting a range rewrites the same keys. After a crash
 * anywhere between the checkpoint and the commit, the next owner of the partition resumes at the
 * committed offset, finds the range starting there in the log, and flushes at exactly its recorded
 * `end` with its recorded settings — whatever its own size, time or format settings say — so it
 * overwrites the same objects with the same rows.
 *
 * ## Ownership
 * A partition's writer is one explicit state (like Kafka Connect's `TopicPartitionWriter`):
 * absent (not claimed), `open` (claimed, maybe buffering, maybe replaying a recorded range) or
 * `fenced` (another writer took the partition over). Claiming writes the next entry of the log, so
 * a zombie that wakes up finds its next checkpoint number taken and writes nothing. Before every
 * object write and right before the commit the writer checks that it is still the partition's
 * state: {@linkcode LakeSink.revoke} (called on every rebalance) ends ownership at once.
 *
 * ## Positions
 * The sink, not the consumer's in-memory position, decides where a partition continues:
 * {@linkcode LakeSink.expect} names the next offset it needs. A fetch from anywhere else (a
 * consumer that retried from an offset it had resolved but the sink had not made durable) is
 * refused, and the caller seeks back, so a buffered row is never skipped.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log.ts";
import { keepAlive, retry } from "../retry.ts";
import { type Clock, systemClock } from "../time.ts";
import {
  CheckpointLog,
  type CheckpointRange,
  FencedError,
  type RangeSettings,
} from "./checkpoint_log.ts";
import { encodeColumns, type LakeFormat } from "./encode.ts";
import { type DtGranularity, objectKey, partitionFor, widenDt } from "./layout.ts";
import type { Store } from "./store.ts";
import { type FetchedRows, type TickColumns, TickRows } from "./tick_rows.ts";

export { FencedError } from "./checkpoint_log.ts";
export { type FetchedRows, fetchedRows } from "./tick_rows.ts";

/** A contiguous run of offsets from one fetch, with the valid rows among them. */
export interface SinkBatch {
  /** Kafka partition. */
  partition: number;
  /** The offset the fetch asked for: the run covers `[firstOffset, lastOffset]`. */
  firstOffset: bigint;
  /** Last offset of the run (poison messages included). */
  lastOffset: bigint;
  /** The valid rows of the run, in offset order ({@linkcode fetchedRows} makes them from ticks). */
  rows: FetchedRows;
}

/**
 * Called once a range is durable; must commit `nextOffset` for `partition` to Kafka. Throws
 * {@linkcode FencedError} when the group took the partition away (stale generation).
 */
export type CommitFn = (partition: number, nextOffset: bigint) => Promise<void>;

/** The committed offset of a partition, read from Kafka when a writer claims it. */
export type CommittedFn = (partition: number) => Promise<bigint | undefined>;

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
  /**
   * Reads a partition's committed offset when the sink claims it: the first fetch must start
   * there. @default trust the first fetch
   */
  committed?: CommittedFn;
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
  dtGranularity?: DtGranularity;
  /** Objects written at once within a flush. @default 16 */
  writeConcurrency?: number;
  /**
   * Write a range that became due by size in the background: {@linkcode LakeSink.add} returns
   * once its flush started, so the consumer fetches and decodes the next rows meanwhile (one
   * flush in flight at a time; the next waits for it). Offsets are still committed only once
   * their range is durable. @default false (add resolves once durable and committed)
   */
  writeBehind?: boolean;
  /** Flush a partition once it buffers this many rows. @default 50000 */
  flushRows?: number;
  /** Flush a partition once its buffered values reach this many bytes. @default 16 MiB */
  flushBytes?: number;
  /** Flush a partition once its oldest buffered row is this old, even with no new data. @default 30 */
  flushSeconds?: number;
  /** Lake table (the first path segment). @default "ticks" */
  table?: string;
  /** Clock for age-based flushes and checkpoint dates (only `now` is read). @default systemClock */
  clock?: Pick<Clock, "now">;
  /** Where retries and flushes are reported. @default silentLogger */
  logger?: Logger;
  /** Stops retries (a second Ctrl-C). */
  signal?: AbortSignal;
  /** Longest backoff between failed writes. @default 15000 */
  maxRetryDelayMs?: number;
  /** Identity written into the checkpoint log. @default host:pid:random */
  writer?: string;
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
  /** Partitions this sink stopped writing because another writer took them over. */
  fenced: number;
  /** Fetches refused because they did not start where the sink continues. */
  refused: number;
}

interface Buffer {
  start: bigint;
  end: bigint;
  /** The buffered rows, as columns: no object per row for the garbage collector to trace. */
  rows: TickRows;
  bytes: number;
  openedAt: number;
}

/** One partition's writer: one explicit state. */
type PartitionWriter =
  | {
    state: "open";
    log: CheckpointLog;
    /** Next offset to commit once the buffer is durable (= the buffer's start). */
    committed: bigint;
    /** Next offset the sink needs. */
    next: bigint;
    buffer?: Buffer;
    /** A range recorded in the log that starts at `committed`: write exactly it again. */
    replay?: CheckpointRange;
    /** The range being written in the background while the consumer fetches on (at most one). */
    flushing?: Promise<void>;
    /** Why that write failed: thrown to the next caller; the range is buffered again. */
    failure?: { error: unknown };
  }
  | { state: "fenced"; reason: string };

type OpenWriter = Extract<PartitionWriter, { state: "open" }>;

/** Extra work to do while waiting (heartbeats), passed by the consumer. */
export interface WaitContext {
  /** Keeps the consumer's group membership alive; throws when the partition was taken away. */
  heartbeat?: () => Promise<void>;
}

/** Where a partition continues: the next offset, or `fenced` (leave it to its new owner). */
export type Expectation = bigint | "fenced";

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
    Omit<LakeSinkOptions, "signal" | "commit" | "committed" | "store" | "writer">
  >;
  readonly #store: Store;
  readonly #commit: CommitFn;
  readonly #committed?: CommittedFn;
  readonly #signal?: AbortSignal;
  readonly #writer?: string;
  readonly #writers = new Map<number, PartitionWriter>();
  #queue: Promise<unknown> = Promise.resolve();
  /** Background flushes under way, of current and revoked writers alike. */
  readonly #flushes = new Set<Promise<void>>();
  readonly #stats = {
    rowsWritten: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    commits: 0,
    fenced: 0,
    refused: 0,
  };

  /** Creates a sink; nothing is read or written until records arrive. */
  constructor(options: LakeSinkOptions) {
    this.#store = options.store;
    this.#commit = options.commit;
    this.#committed = options.committed;
    this.#signal = options.signal;
    this.#writer = options.writer;
    this.#options = {
      topic: options.topic,
      group: options.group,
      format: options.format ?? "parquet",
      gzip: options.gzip ?? false,
      partitionBy: options.partitionBy ?? "event",
      dtGranularity: options.dtGranularity ?? "day",
      writeConcurrency: positive("writeConcurrency", options.writeConcurrency ?? 16),
      writeBehind: options.writeBehind ?? false,
      flushRows: positive("flushRows", options.flushRows ?? 50_000),
      flushBytes: positive("flushBytes", options.flushBytes ?? 16 * 1024 * 1024),
      flushSeconds: positive("flushSeconds", options.flushSeconds ?? 30),
      table: options.table ?? "ticks",
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 15_000,
    };
  }

  /** Totals so far. */
  get stats(): SinkStats {
    let bufferedRows = 0;
    let bufferedBytes = 0;
    for (const writer of this.#writers.values()) {
      if (writer.state !== "open" || !writer.buffer) continue;
      bufferedRows += writer.buffer.rows.length;
      bufferedBytes += writer.buffer.bytes;
    }
    return { ...this.#stats, bufferedRows, bufferedBytes };
  }

  /** The settings new ranges are written with. */
  get settings(): RangeSettings {
    const o = this.#options;
    return {
      table: o.table,
      format: o.format,
      gzip: o.gzip,
      partitionBy: o.partitionBy,
      dtGranularity: o.dtGranularity,
    };
  }

  /**
   * Runs `task` after every earlier sink operation finished: adds, flushes and claims never
   * interleave. While waiting, `context.heartbeat` is called every few seconds.
   */
  exclusive<T>(task: () => Promise<T>, context: WaitContext = {}): Promise<T> {
    const previous = this.#queue.catch(() => {});
    const run = (async () => {
      await (context.heartbeat ? keepAlive(previous, context.heartbeat, 1000) : previous);
      return await task();
    })();
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Where `partition` continues: the offset its next fetch must start at (claiming the partition
   * first if this sink does not own it yet), or `"fenced"` when another writer took it over.
   */
  expect(
    partition: number,
    fetchedOffset: bigint,
    context: WaitContext = {},
  ): Promise<Expectation> {
    return this.exclusive(async () => {
      const writer = this.#writers.get(partition) ??
        await this.#claim(partition, fetchedOffset, context);
      if (writer.state === "fenced") return "fenced";
      this.#throwFailure(writer);
      if (writer.next !== fetchedOffset) this.#stats.refused++;
      return writer.next;
    }, context);
  }

  /**
   * Where `partition` continues, if this sink owns it: the next offset it needs, or `"fenced"`.
   * Unlike {@linkcode LakeSink.expect} it claims nothing and does not wait for other operations.
   */
  position(partition: number): Expectation | undefined {
    const writer = this.#writers.get(partition);
    if (!writer) return undefined;
    return writer.state === "open" ? writer.next : "fenced";
  }

  /**
   * Adds a fetched run of records and flushes every range that became due. Resolves once those
   * ranges are durable and committed; with `writeBehind`, a range due by size is written in the
   * background while the caller fetches on (one at a time: the next one waits for it); one
   * that fails puts its range back into the buffer (the rows added since are dropped and
   * {@linkcode LakeSink.expect} sends the consumer back to them) and its error is thrown by the
   * partition's next call. Claims the partition first if needed. A run that does not start where
   * the partition continues (see {@linkcode LakeSink.expect}), or of a fenced partition, is
   * refused: resolves `false` and changes nothing.
   *
   * @throws {FencedError} when the partition was taken over while writing; nothing more is written.
   */
  add(batch: SinkBatch, context: WaitContext = {}): Promise<boolean> {
    return this.exclusive(async () => {
      const writer = this.#writers.get(batch.partition) ??
        await this.#claim(batch.partition, batch.firstOffset, context);
      if (writer.state === "open") this.#throwFailure(writer);
      if (writer.state !== "open" || writer.next !== batch.firstOffset) {
        this.#stats.refused++;
        return false;
      }
      await this.#add(writer, batch, context);
      return true;
    }, context);
  }

  /** Flushes partitions whose oldest row is older than `flushSeconds` (the no-stuck-tail rule). */
  flushDue(context: WaitContext = {}): Promise<void> {
    return this.exclusive(async () => {
      const now = this.#options.clock.now();
      for (const [partition, writer] of [...this.#writers]) {
        if (writer.state !== "open" || !writer.buffer) continue;
        const due = writer.replay
          ? writer.buffer.end >= BigInt(writer.replay.end) // a replay waits for its recorded end
          : now - writer.buffer.openedAt >= this.#options.flushSeconds * 1000;
        if (due) {
          await this.#flushOwned(partition, writer, context);
        }
      }
    }, context);
  }

  /** Flushes every buffered range (graceful stop). Replays stop at what has arrived. */
  flushAll(context: WaitContext = {}): Promise<void> {
    return this.exclusive(async () => {
      for (const [partition, writer] of [...this.#writers]) {
        if (writer.state !== "open") continue;
        await this.#settle(writer, context);
        if (!writer.buffer) continue;
        if (writer.replay && writer.buffer.end < BigInt(writer.replay.end)) {
          // Writing part of a recorded range would leave the rest of its old objects behind;
          // leave it uncommitted and let the next run replay it whole.
          this.#writers.delete(partition);
          continue;
        }
        await this.#flushOwned(partition, writer, context);
      }
      await Promise.all(this.#flushes); // revoked writers' writes, stopped at their next object
    }, context);
  }

  /**
   * Ends ownership of `partitions` (default: all) at once, dropping their buffered, uncommitted
   * rows: a flush in progress writes nothing more and does not commit. Call it when the group
   * rebalances; the next fetch claims the partition again from its committed offset.
   */
  revoke(partitions?: number[]): void {
    if (partitions === undefined) this.#writers.clear();
    else for (const partition of partitions) this.#writers.delete(partition);
  }

  /** Claims a partition: a new entry in its checkpoint log, and the range to replay if any. */
  async #claim(
    partition: number,
    fetchedOffset: bigint,
    context: WaitContext,
  ): Promise<PartitionWriter> {
    const log = new CheckpointLog({
      store: this.#store,
      group: this.#options.group,
      topic: this.#options.topic,
      partition,
      writer: this.#writer,
      logger: this.#options.logger,
      clock: this.#options.clock,
      retry: (operation, what) => this.#retry(operation, what, context),
    });
    // A revoked writer of the partition may still be writing: claim after it stopped.
    await Promise.all(this.#flushes);
    // Not retried here: a Kafka that cannot answer is the consumer's to retry, not the store's.
    const committed = await this.#committed?.(partition);
    const start = committed ?? fetchedOffset;
    let writer: PartitionWriter;
    try {
      const last = await log.claim();
      writer = {
        state: "open",
        log,
        committed: start,
        next: start,
        replay: this.#replayOf(last, start, partition),
      };
    } catch (error) {
      if (!(error instanceof FencedError)) throw error;
      writer = { state: "fenced", reason: error.message };
      this.#stats.fenced++;
      this.#options.logger.warn(error.message);
    }
    this.#writers.set(partition, writer);
    return writer;
  }

  /** The recorded range to write again when resuming at `start`, if it starts there. */
  #replayOf(
    last: CheckpointRange | undefined,
    start: bigint,
    partition: number,
  ): CheckpointRange | undefined {
    if (!last) return undefined;
    const key = `the checkpoint log of partition ${partition}`;
    if (BigInt(last.start) === start) {
      const settings = last.settings ?? this.settings;
      const changed = (Object.keys(settings) as (keyof RangeSettings)[])
        .filter((name) => settings[name] !== this.settings[name]);
      this.#options.logger.warn(
        `partition ${partition}: replaying uncommitted range ${last.start}..${last.end} recorded in ${key}` +
          (changed.length > 0
            ? ` with its recorded ${changed.map((n) => `${n}=${settings[n]}`).join(", ")} ` +
              `(now ${
                changed.map((n) => `${n}=${this.settings[n]}`).join(", ")
              }; later ranges use the new settings)`
            : "") +
          ".",
      );
      return { ...last, settings };
    }
    if (start < BigInt(last.start)) {
      this.#options.logger.warn(
        `partition ${partition}: resuming at ${start}, before the last written range ${last.start}..${last.end}; ` +
          `offsets were reset, so rows written since may be written again.`,
      );
    }
    return undefined;
  }

  async #add(writer: OpenWriter, batch: SinkBatch, context: WaitContext): Promise<void> {
    const { partition, rows } = batch;
    let from = 0;
    let first = batch.firstOffset;
    while (true) {
      const replayEnd = writer.replay ? BigInt(writer.replay.end) : undefined;
      if (replayEnd !== undefined && batch.lastOffset > replayEnd) {
        // The run crosses the end of a recorded range: split it there.
        const end = Number(replayEnd);
        let cut = from;
        while (cut < rows.length && rows.offsets[cut] <= end) cut++;
        this.#append(writer, rows, from, cut, first, replayEnd);
        await this.#flushOwned(partition, writer, context);
        from = cut;
        first = replayEnd + 1n;
        continue;
      }
      this.#append(writer, rows, from, rows.length, first, batch.lastOffset);
      break;
    }
    const o = this.#options;
    const buffer = writer.buffer!;
    const due = writer.replay
      ? buffer.end >= BigInt(writer.replay.end)
      : buffer.rows.length >= o.flushRows || buffer.bytes >= o.flushBytes ||
        o.clock.now() - buffer.openedAt >= o.flushSeconds * 1000;
    if (!due) return;
    if (o.writeBehind) await this.#startFlush(partition, writer, context);
    else await this.#flushOwned(partition, writer, context);
  }

  /** Buffers rows `from` to `to` (excluded) of `rows`, which cover offsets `first` to `end`. */
  #append(
    writer: OpenWriter,
    rows: FetchedRows,
    from: number,
    to: number,
    first: bigint,
    end: bigint,
  ): void {
    const buffer = writer.buffer ??= {
      start: first,
      end: first - 1n,
      rows: new TickRows(),
      bytes: 0,
      openedAt: this.#options.clock.now(),
    };
    buffer.rows.append(rows, from, to);
    for (let i = from; i < to; i++) buffer.bytes += rows.sizes[i];
    buffer.end = end;
    writer.next = end + 1n;
  }

  /**
   * Starts flushing `writer`'s buffer once no flush is in flight (of any partition: memory holds
   * one range being written besides the buffers), and returns without waiting for it: the
   * consumer fetches and decodes the next rows while it is written. A failure of a writer that
   * still owns its partition is kept for the partition's next call.
   */
  async #startFlush(partition: number, writer: OpenWriter, context: WaitContext): Promise<void> {
    const inFlight = Promise.all(this.#flushes);
    await (context.heartbeat ? keepAlive(inFlight, context.heartbeat, 1000) : inFlight);
    await this.#settle(writer, context);
    const flush = this.#flushOwned(partition, writer, context).catch((error) => {
      // A takeover is the `fenced` state already; a revoked writer's failure is no one's news.
      if (this.#writers.get(partition) === writer) writer.failure ??= { error };
    }).finally(() => {
      this.#flushes.delete(flush);
      if (writer.flushing === flush) writer.flushing = undefined;
    });
    this.#flushes.add(flush);
    writer.flushing = flush;
  }

  /** Waits for `writer`'s background flush, heartbeating, and throws its failure if it failed. */
  async #settle(writer: OpenWriter, context: WaitContext): Promise<void> {
    const flushing = writer.flushing;
    if (flushing) {
      await (context.heartbeat ? keepAlive(flushing, context.heartbeat, 1000) : flushing);
    }
    this.#throwFailure(writer);
  }

  /** Throws (once) the failure of `writer`'s last background flush. */
  #throwFailure(writer: OpenWriter): void {
    const failure = writer.failure;
    writer.failure = undefined;
    if (failure) throw failure.error;
  }

  /** Flushes, turning a takeover into the `fenced` state (and rethrowing it). */
  async #flushOwned(partition: number, writer: OpenWriter, context: WaitContext): Promise<void> {
    // Without a flush in flight the buffer is taken before any await: a caller queued next (an
    // age-based flush) finds it gone instead of writing it twice.
    if (writer.flushing) await this.#settle(writer, context);
    else this.#throwFailure(writer);
    if (!writer.buffer) return; // the flush waited for wrote it
    try {
      await this.#flush(partition, writer, context);
    } catch (error) {
      if (error instanceof FencedError && this.#writers.get(partition) === writer) {
        this.#writers.set(partition, { state: "fenced", reason: error.message });
        this.#stats.fenced++;
        this.#options.logger.warn(error.message);
      }
      throw error;
    }
  }

  /** Throws unless `writer` still owns `partition` (no revoke, no takeover since it started). */
  #assertOwner(partition: number, writer: OpenWriter): void {
    if (this.#writers.get(partition) !== writer) {
      throw new FencedError(partition, "the group rebalanced while this member was writing it");
    }
  }

  async #flush(partition: number, writer: OpenWriter, context: WaitContext): Promise<void> {
    const buffer = writer.buffer!;
    const replay = writer.replay;
    const settings = replay?.settings ?? this.settings;
    const objects = this.#objects(partition, buffer, settings);
    const range: CheckpointRange = {
      start: buffer.start.toString(),
      end: buffer.end.toString(),
      keys: objects.map((x) => x.key),
      settings,
    };
    // Rows added while this range is written open a new buffer.
    writer.buffer = undefined;
    writer.replay = undefined;
    let recorded = false;
    try {
      if (objects.length > 0) {
        this.#assertOwner(partition, writer);
        await writer.log.append(range);
        recorded = true;
        await this.#writeObjects(partition, writer, objects, settings, context);
      }
      this.#assertOwner(partition, writer);
      await this.#commit(partition, buffer.end + 1n);
    } catch (error) {
      // Back to this range: the rows added since are dropped (the consumer is sent back to them).
      // Writes of a recorded range may still be in flight and land later: whatever comes next
      // for these offsets must be exactly this range again, so a late write puts the same bytes.
      writer.buffer = buffer;
      writer.next = buffer.end + 1n;
      writer.replay = recorded ? range : replay;
      throw error;
    }
    this.#stats.commits++;
    writer.committed = buffer.end + 1n;
    this.#options.logger.info(
      `partition ${partition}: wrote ${buffer.rows.length} rows in ${objects.length} object(s), ` +
        `committed offset ${buffer.end + 1n}.`,
    );
  }

  #objects(
    partition: number,
    buffer: Buffer,
    settings: RangeSettings,
  ): { key: string; rows: TickColumns }[] {
    const { rows } = buffer;
    const groups = new Map<string, number[]>(); // the row numbers of each dt
    const dts = new Map<number, string>(); // one date text per UTC day, not one per row
    const times = settings.partitionBy === "ingest" ? rows.ingest : rows.times;
    for (let i = 0; i < rows.length; i++) {
      const day = Math.floor(times[i] / 86_400_000);
      let dt = dts.get(day);
      if (dt === undefined) {
        dt = widenDt(
          partitionFor(rows.tick(i), { by: settings.partitionBy, ingestMs: rows.ingest[i] }),
          settings.dtGranularity,
        );
        dts.set(day, dt);
      }
      let group = groups.get(dt);
      if (!group) groups.set(dt, group = []);
      group.push(i);
    }
    return [...groups].sort(([a], [b]) => a < b ? -1 : 1).map(([dt, group]) => ({
      key: objectKey({
        table: settings.table,
        dt,
        topic: this.#options.topic,
        partition,
        startOffset: buffer.start,
        format: settings.format,
        gzip: settings.gzip,
      }),
      // One dt (the usual flush) writes the buffer as it is; more pick their rows out.
      rows: groups.size === 1 ? rows.columns() : rows.select(group),
    }));
  }

  /** Writes a range's objects, `writeConcurrency` at a time, heartbeating while they are in flight. */
  async #writeObjects(
    partition: number,
    writer: OpenWriter,
    objects: { key: string; rows: TickColumns }[],
    settings: RangeSettings,
    context: WaitContext,
  ): Promise<void> {
    let next = 0;
    const failed = new AbortController(); // the first failure stops the other workers' retries
    const signal = this.#signal ? AbortSignal.any([this.#signal, failed.signal]) : failed.signal;
    const worker = async () => {
      while (next < objects.length && !failed.signal.aborted) {
        const object = objects[next++];
        const bytes = encodeColumns(object.rows, { format: settings.format, gzip: settings.gzip });
        await this.#retry(
          () => {
            this.#assertOwner(partition, writer);
            return this.#store.put(object.key, bytes);
          },
          `writing ${object.key}`,
          context,
          signal,
        ).catch((error) => {
          failed.abort(error);
          throw error;
        });
        this.#stats.objectsWritten++;
        this.#stats.bytesWritten += bytes.length;
        this.#stats.rowsWritten += object.rows.length;
        // Between objects too: a flush of many quick writes outlasts the session as surely as
        // one slow write does (kafkajs sends a heartbeat only once its interval has passed).
        await context.heartbeat?.();
      }
    };
    const workers = Math.min(this.#options.writeConcurrency, objects.length);
    const results = await Promise.allSettled(Array.from({ length: workers }, worker));
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (rejected) throw rejected.reason;
  }

  #retry<T>(
    operation: () => Promise<T>,
    what: string,
    context: WaitContext,
    signal = this.#signal,
  ): Promise<T> {
    return retry(operation, {
      what,
      logger: this.#options.logger,
      signal,
      maxDelayMs: this.#options.maxRetryDelayMs,
      onWait: context.heartbeat,
    });
  }
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}.`);
  }
  return value;
}
