/**
 * The checkpoint log of one Kafka partition: how the lake sink remembers what it is writing, and
 * how it fences a writer that lost the partition (a "zombie": a member frozen past its session
 * timeout by a GC pause, a laptop lid or SIGSTOP, which wakes up with buffers and timers).
 *
 * The log is a folder of small numbered objects, `_sink/<group>/<topic>+<p>/<seq>.json`, each
 * created with {@linkcode Store.putIfAbsent} (S3 `If-None-Match: *`; a hard link on a folder), so
 * of two writers racing for the next number exactly one wins:
 *
 * - **claim**: a member that starts owning the partition writes number `latest + 1`, copying the
 *   last recorded range. From then on any older writer's next write finds its number taken.
 * - **append**: before writing a range's objects, the owner writes number `mine + 1` recording
 *   the range (offsets, object keys, the settings that shape them). If that number is taken, or a
 *   higher one exists (a number pruned earlier and re-created by a zombie), the writer is fenced
 *   and writes nothing more for the partition.
 * - **prune**: after an append, numbers below `mine - 1` are deleted; the latest always stays, so
 *   "is there a higher number" stays answerable.
 *
 * What remains: a writer that passed its append and then froze can still put that range's objects
 * later. The new owner resumes at the committed offset, which is that range's start, reads the
 * range from the log and writes exactly it again, with the recorded settings: the late writes put
 * the same bytes under the same keys. Its late commit carries a stale group generation and the
 * broker refuses it.
 *
 * @module
 */

import { hostname } from "node:os";
import { type Logger, silentLogger } from "../log.ts";
import { type Clock, sleep, systemClock } from "../time.ts";
import type { LakeFormat } from "./encode.ts";
import {
  checkpointKey,
  checkpointPrefix,
  type DtGranularity,
  legacyCheckpointKey,
  parseCheckpointSeq,
} from "./layout.ts";
import type { Store } from "./store.ts";

/** The settings that decide a range's object keys and bytes; a replay reuses them. */
export interface RangeSettings {
  /** Lake table (first path segment). */
  table: string;
  /** Object format. */
  format: LakeFormat;
  /** Gzip JSON Lines objects. */
  gzip: boolean;
  /** Partition by event time or ingest time. */
  partitionBy: "event" | "ingest";
  /** Width of a `dt` partition. */
  dtGranularity: DtGranularity;
}

/** A contiguous offset range of one partition and the objects it writes. */
export interface CheckpointRange {
  /** First offset (inclusive), decimal. */
  start: string;
  /** Last offset (inclusive), decimal. */
  end: string;
  /** Object keys the range writes. */
  keys: string[];
  /** Settings the objects were shaped with; absent in checkpoints of older versions. */
  settings?: RangeSettings;
}

/** One entry of the log. */
export interface CheckpointRecord {
  /** Its number in the log. */
  seq: number;
  /** Who wrote it: `host:pid:random`. */
  writer: string;
  /** A claim of ownership, or a range about to be written. */
  kind: "claim" | "range";
  /** The last range written (for a claim: copied from the entry before it). */
  range?: CheckpointRange;
  /** When it was written, ISO 8601. */
  at: string;
}

/** Claims lost in a row before giving up: only a second live owner loses that often. */
const CLAIM_ATTEMPTS = 20;

/** Raised when another writer took the partition over: write nothing more for it. */
export class FencedError extends Error {
  /** The Kafka partition. */
  readonly partition: number;
  /** Creates the error. */
  constructor(partition: number, detail: string) {
    super(
      `Partition ${partition} was taken over by another writer (${detail}); this member stops ` +
        "writing it and leaves its rows to the new owner, which resumes from the committed offset.",
    );
    this.name = "FencedError";
    this.partition = partition;
  }
}

/** Runs a store operation with the caller's retries (and heartbeats). */
export type RetryFn = <T>(operation: () => Promise<T>, what: string) => Promise<T>;

/** Options of {@linkcode CheckpointLog}. */
export interface CheckpointLogOptions {
  /** The lake store. */
  store: Store;
  /** Consumer group. */
  group: string;
  /** Kafka topic. */
  topic: string;
  /** Kafka partition. */
  partition: number;
  /** Writer identity for the log entries. @default {@linkcode newWriterId} */
  writer?: string;
  /** Retries a store operation. @default no retries */
  retry?: RetryFn;
  /** Where migrations and fencing are reported. @default silentLogger */
  logger?: Logger;
  /** Clock for the `at` field (only `now` is read). @default systemClock */
  clock?: Pick<Clock, "now">;
}

/** A fresh writer identity: `host:pid:random`. */
export function newWriterId(): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return `${hostname()}:${Deno.pid}:${random}`;
}

/**
 * The checkpoint log of one partition, as seen by one writer.
 *
 * @example
 * ```ts
 * import { CheckpointLog } from "./checkpoint_log.ts";
 * import { MemoryStore } from "./memory_store.ts";
 * const log = new CheckpointLog({ store: new MemoryStore(), group: "g", topic: "t", partition: 0 });
 * const last = await log.claim(); // undefined: nothing was written yet
 * await log.append({ start: "0", end: "99", keys: ["ticks/dt=2021-05-31/t+0+00000000000000000000.parquet"] });
 * ```
 */
export class CheckpointLog {
  /** The Kafka partition. */
  readonly partition: number;
  /** This writer's identity. */
  readonly writer: string;
  readonly #store: Store;
  readonly #group: string;
  readonly #topic: string;
  readonly #retry: RetryFn;
  readonly #logger: Logger;
  readonly #clock: Pick<Clock, "now">;
  /** The number of the last entry this writer wrote; 0 before its claim. */
  #seq = 0;

  /** Creates the log view; nothing is read until {@linkcode CheckpointLog.claim}. */
  constructor(options: CheckpointLogOptions) {
    this.#store = options.store;
    this.#group = options.group;
    this.#topic = options.topic;
    this.partition = options.partition;
    this.writer = options.writer ?? newWriterId();
    this.#retry = options.retry ?? ((operation) => operation());
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
  }

  /** The number of the last entry this writer wrote (0 before its claim). */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Takes the partition over: writes the next number of the log, copying the last range, and
   * returns that range (what the previous owner was writing), or `undefined` for a new log.
   *
   * @throws {FencedError} when other writers keep taking the next number (two live owners).
   */
  async claim(): Promise<CheckpointRange | undefined> {
    for (let attempt = 1; attempt <= CLAIM_ATTEMPTS; attempt++) {
      const latest = await this.#latest();
      const seq = (latest?.seq ?? 0) + 1;
      const range = latest?.record?.range;
      if (await this.#create({ seq, writer: this.writer, kind: "claim", range, at: this.#now() })) {
        this.#seq = seq;
        await this.#prune(latest?.keys ?? []);
        return range;
      }
      await sleep(Math.random() * 20 * attempt); // another claim won: read again, then retry
    }
    throw new FencedError(
      this.partition,
      `${CLAIM_ATTEMPTS} claims in a row lost the race for the next checkpoint number: another live writer ` +
        `writes ${checkpointPrefix(this.#group, this.#topic, this.partition)}. Stop it (two ` +
        "consumers of the same group on different Kafka clusters?) and restart",
    );
  }

  /**
   * Records `range` as the next entry, before its objects are written.
   *
   * @throws {FencedError} when another writer claimed the partition since this writer's last entry.
   */
  async append(range: CheckpointRange): Promise<void> {
    if (this.#seq === 0) throw new Error("CheckpointLog.append needs a claim first.");
    const seq = this.#seq + 1;
    if (!await this.#create({ seq, writer: this.writer, kind: "range", range, at: this.#now() })) {
      throw new FencedError(this.partition, `checkpoint ${seq} was written by someone else first`);
    }
    const keys = await this.#keys();
    const highest = Math.max(...keys.map((key) => parseCheckpointSeq(key) ?? 0));
    if (highest > seq) {
      throw new FencedError(this.partition, `checkpoint ${highest} is newer than ours (${seq})`);
    }
    this.#seq = seq;
    await this.#prune(keys);
  }

  /** Deletes entries below `mine - 1`: the latest two stay. Best effort. */
  async #prune(keys: string[]): Promise<void> {
    for (const key of keys) {
      const seq = parseCheckpointSeq(key);
      if (seq !== undefined && seq < this.#seq - 1) {
        await this.#store.delete(key).catch((error) =>
          this.#logger.warn(`Could not prune ${key}: ${(error as Error).message}`)
        );
      }
    }
  }

  async #keys(): Promise<string[]> {
    const prefix = checkpointPrefix(this.#group, this.#topic, this.partition);
    return await this.#retry(async () => {
      const keys: string[] = [];
      for await (const { key } of this.#store.list(prefix)) {
        if (parseCheckpointSeq(key) !== undefined) keys.push(key);
      }
      return keys;
    }, `listing ${prefix}`);
  }

  /** The highest entry and its record (the legacy single checkpoint when the log is empty). */
  async #latest(): Promise<
    { seq: number; record?: CheckpointRecord; keys: string[] } | undefined
  > {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const keys = await this.#keys();
      if (keys.length === 0) return await this.#legacy();
      const key = keys.reduce((a, b) => (a > b ? a : b));
      const seq = parseCheckpointSeq(key)!;
      const bytes = await this.#retry(() => this.#store.get(key), `reading ${key}`);
      if (bytes === undefined) continue; // pruned between list and get: list again
      return { seq, record: this.#parse(key, bytes), keys };
    }
    throw new Error(
      `The checkpoint log ${
        checkpointPrefix(this.#group, this.#topic, this.partition)
      } changes faster than it can be read; is another writer pruning it?`,
    );
  }

  async #legacy(): Promise<{ seq: number; record?: CheckpointRecord; keys: string[] } | undefined> {
    const key = legacyCheckpointKey(this.#group, this.#topic, this.partition);
    const bytes = await this.#retry(() => this.#store.get(key), `reading ${key}`);
    if (bytes === undefined) return undefined;
    const old = this.#parse(key, bytes) as unknown as CheckpointRange | undefined;
    if (!old?.start || !old?.end) return undefined;
    this.#logger.info(`Migrating ${key} into the checkpoint log.`);
    return {
      seq: 0,
      record: { seq: 0, writer: "legacy", kind: "range", range: old, at: this.#now() },
      keys: [],
    };
  }

  #parse(key: string, bytes: Uint8Array): CheckpointRecord | undefined {
    try {
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      this.#logger.warn(`${key} is not valid JSON; ignoring what it recorded.`);
      return undefined;
    }
  }

  /**
   * Creates entry `record.seq`; `false` when the number is taken. A retried create that finds
   * its own bytes (the first attempt landed but its answer was lost) counts as written.
   */
  async #create(record: CheckpointRecord): Promise<boolean> {
    const key = checkpointKey(this.#group, this.#topic, this.partition, record.seq);
    const body = new TextEncoder().encode(JSON.stringify(record));
    let attempts = 0;
    const won = await this.#retry(() => {
      attempts++;
      return this.#store.putIfAbsent(key, body);
    }, `writing ${key}`);
    if (won || attempts === 1) return won;
    const stored = await this.#retry(() => this.#store.get(key), `reading ${key}`);
    return stored !== undefined && new TextDecoder().decode(stored) === JSON.stringify(record);
  }

  #now(): string {
    return new Date(this.#clock.now()).toISOString();
  }
}
