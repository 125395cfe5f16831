/**
 * The ingest job: a Kafka consumer group that splits each fetched batch into ticks and poison
 * messages ({@linkcode splitPacked}, in a worker: {@linkcode WorkerSplitter}), dead-letters the
 * poison ({@linkcode DeadLetterWriter}), hands the ticks to the {@linkcode LakeSink}, and commits
 * offsets only once the sink made them durable.
 *
 * The split runs on a second core while this thread fetches and decodes the next batches: a
 * fetched batch is handed on (packed, to the split worker, then to the sink) and kafkajs fetches
 * on. Each partition's batches reach the sink in fetch order, at most `MAX_BATCHES_AHEAD` (2)
 * of them waiting behind the one being added. The sink still decides where a partition
 * continues: a batch it refuses or fails to take ends the partition's chain, the batches behind
 * it are dropped and the consumer seeks back to what the sink holds; a rebalance drops every
 * chain.
 *
 * With `writeBehind` (off by default; `deno task consume --write-behind`) the sink writes a full
 * range behind: kafkajs fetches the next batches only once `eachBatch` returned, so the fetch and
 * decode of the next rows overlap the range's writes, checkpoint and commit, at the cost of one
 * more range in memory (measured: 384 against 340 MiB peak RSS at 10M rows, over the 384 MiB
 * budget of the default; a gain within the noise on a local folder, where the consumer is
 * CPU-bound; it pays where each write waits on the network).
 *
 * Kafka's consumer position is not trusted to be durable: the sink says where each partition
 * continues and the job seeks there when a fetch starts elsewhere. Any rebalance (or a commit the
 * broker refuses because the group moved on) ends the member's ownership at once; after a rejoin
 * each partition resumes from its committed offset.
 *
 * @module
 */

import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from "kafkajs";
import {
  type Expectation,
  FencedError,
  LakeSink,
  type LakeSinkOptions,
  type SinkStats,
  type WaitContext,
} from "../lake/sink.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { Tick } from "../tick.ts";
import { ensureTopic } from "../kafka/admin.ts";
import { isConnectionError, KafkaUnavailableError } from "../kafka/client.ts";
import { createTickProducer } from "../kafka/producer.ts";
import { isRetriableError, keepAlive } from "../retry.ts";
import { sleep } from "../time.ts";
import { DeadLetterWriter } from "./dead_letters.ts";
import { errorAction, isMembershipLost, RejoinRequest } from "./membership.ts";
import { packBatch, type PoisonMessage, poisonMessages, type SplitBatch } from "./split.ts";
import { type Splitter, WorkerSplitter } from "./splitter.ts";

/** Counters reported while consuming. */
export interface ConsumeProgress extends SinkStats {
  /** Messages received (valid and poison). */
  messages: number;
  /** Poison messages sent to the dead-letter topic. */
  deadLettered: number;
  /** Times the member rejoined its group after losing partitions or hitting an error. */
  rejoins: number;
  /** Time since the consumer started. */
  elapsedMs: number;
  /** The most recent valid tick received. */
  last?: Tick;
}

/** Why {@linkcode consumeToLake} returned: idle topic, message limit, or a stop signal. */
export type StopReason = "idle" | "limit" | "signal";

/** What {@linkcode consumeToLake} did. */
export interface ConsumeResult extends ConsumeProgress {
  /** Why it stopped. */
  stoppedBy: StopReason;
}

/** Options of {@linkcode consumeToLake}. */
export interface ConsumeOptions
  extends Omit<LakeSinkOptions, "commit" | "committed" | "signal" | "logger"> {
  /** Reset the group's committed offsets to the start of the topic first (re-ingest). @default false */
  fromBeginning?: boolean;
  /** Stop after this many seconds without a message, having flushed and committed. */
  idleExitSeconds?: number;
  /** Stop after this many messages, having flushed and committed (bounded runs in notebooks). */
  maxMessages?: number;
  /** Topic for poison messages. @default `${topic}.dlq` */
  deadLetterTopic?: string;
  /** Graceful stop: flush, commit, disconnect. */
  signal?: AbortSignal;
  /** Immediate stop of retries (a second Ctrl-C). */
  abortRetries?: AbortSignal;
  /**
   * Called every 250 ms, once as soon as the first messages arrive (so a benchmark can time the
   * run from them, not from the next tick), and at the end.
   */
  onProgress?: (progress: ConsumeProgress) => void;
  /** Bootstrap servers, for error messages. */
  brokers?: string[];
  /** Where flushes, retries and dead letters are reported. @default silentLogger */
  logger?: Logger;
  /**
   * How long the group waits for a silent member before moving its partitions. A consumer killed
   * without a goodbye blocks its partitions for this long. @default 30000 (the broker allows 6000+)
   */
  sessionTimeoutMs?: number;
  /**
   * Largest fetch per partition, which bounds memory with the flush settings. kafkajs holds a
   * fetch's decoded messages, many times their wire size (a gzip topic inflates ~5×), until the
   * batch is handled: over 1M rows of a gzip topic the consumer peaked at 789 MiB RSS with 4 MiB,
   * 476 MiB with 1 MiB, 384 MiB with 512 KiB and 333 MiB with 256 KiB, at the same rate on a local
   * broker. A broker far away may want larger fetches for an uncompressed topic. @default 256 KiB
   */
  maxBytesPerPartition?: number;
  /**
   * Where fetched batches are split into ticks and poison. The caller closes one it passes.
   * @default a {@linkcode WorkerSplitter} of the run's own (the split on the second core)
   */
  splitter?: Splitter;
}

/**
 * How long the broker holds a fetch that finds no new records: Java's `fetch.max.wait.ms` default
 * (kafkajs' is 5 s). A seek (a batch sent back to what the lake holds) takes effect at the next
 * fetch, so this bounds how long it waits on an idle topic.
 */
const FETCH_MAX_WAIT_MS = 500;

/** Batches of one partition handed on to the splitter and the sink, in fetch order. */
interface Pipeline {
  /** Resolves once every batch handed on so far was added to the sink (or dropped). */
  tail: Promise<void>;
  /** Batches handed on and not yet added. */
  depth: number;
  /** Where the partition's next fetch must start: after the last batch handed on. */
  next: bigint;
  /** Ended (a refusal, a failure, a revoke): its batches not yet added are dropped. */
  dead: boolean;
}

/**
 * Batches of a partition that may wait (being split) while the one before is added to the sink.
 * One was as fast as two while the consumer thread did most of the work; since fetched batches are
 * decoded in place, two measured faster (`bench:ab`: 1.20× and 1.14× at the median of 5 rounds)
 * for ~10 MiB more (peak RSS at 1M rows 239–253 against 225–237 MiB; 278 MiB at 10M rows, 1.02×
 * the 1M figure, in `deno task bench --only memory`).
 */
const MAX_BATCHES_AHEAD = 2;

/**
 * Consumes the topic into the lake until idle, a message limit, or the signal.
 *
 * @example
 * ```ts
 * import { createKafka } from "../kafka/client.ts";
 * import { consumeToLake } from "./consume_to_lake.ts";
 * import { openStore } from "../lake/open_store.ts";
 * const result = await consumeToLake(createKafka({ brokers: ["localhost:9092"] }), {
 *   topic: "stock_market",
 *   group: "stock_market_lake",
 *   store: openStore("./lake"),
 *   idleExitSeconds: 5,
 * });
 * console.log(result.rowsWritten);
 * ```
 * @throws {KafkaUnavailableError} when the brokers cannot be reached.
 * @throws {GroupInUseError} for `fromBeginning` while other members of the group run.
 * @throws the store's own error (e.g. `S3StoreError` for access denied) when writing needs a fix.
 */
export async function consumeToLake(kafka: Kafka, options: ConsumeOptions): Promise<ConsumeResult> {
  const logger = options.logger ?? silentLogger;
  const deadLetterTopic = options.deadLetterTopic ?? `${options.topic}.dlq`;
  const splitter = options.splitter ?? new WorkerSplitter();
  let clients: Clients | undefined;
  try {
    await ensureTopic(kafka, { topic: options.topic, brokers: options.brokers, logger });
    await ensureTopic(kafka, { topic: deadLetterTopic, brokers: options.brokers, logger });
    if (options.fromBeginning) await resetToEarliest(kafka, options.group, options.topic, logger);
    clients = createClients(kafka, options);
    const run = new IngestRun(clients, options, deadLetterTopic, logger, splitter);
    await clients.producer.connect();
    await clients.admin.connect();
    await clients.consumer.connect();
    run.watchGroup();
    await clients.consumer.subscribe({ topics: [options.topic], fromBeginning: true });
    await clients.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => run.onBatch(payload),
    });
    return await run.untilStopped();
  } catch (error) {
    if (isConnectionError(error) && !isOurs(error)) {
      throw new KafkaUnavailableError(options.brokers ?? [], error);
    }
    throw error;
  } finally {
    await clients?.consumer.disconnect().catch(() => {});
    await clients?.producer.disconnect().catch(() => {});
    await clients?.admin.disconnect().catch(() => {});
    if (!options.splitter) splitter.close();
  }
}

/** The three Kafka clients of one run. */
interface Clients {
  consumer: Consumer;
  producer: Producer;
  admin: Admin;
}

function createClients(kafka: Kafka, options: ConsumeOptions): Clients {
  const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
  return {
    consumer: kafka.consumer({
      groupId: options.group,
      sessionTimeout,
      rebalanceTimeout: sessionTimeout,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
      maxBytesPerPartition: options.maxBytesPerPartition ?? 256 * 1024,
      maxBytes: 32 * 1024 * 1024,
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      allowAutoTopicCreation: false,
    }),
    producer: createTickProducer(kafka),
    admin: kafka.admin(),
  };
}

/**
 * One run of the ingest job: the sink, the dead-letter writer, and the state the consumer's
 * events and the timer share (rebalancing, busy batches, last activity, the first failure).
 */
class IngestRun {
  readonly #consumer: Consumer;
  readonly #options: ConsumeOptions;
  readonly #logger: Logger;
  readonly #sink: LakeSink;
  readonly #deadLetters: DeadLetterWriter;
  readonly #started = performance.now();
  readonly #counters = { messages: 0, joins: 0, last: undefined as Tick | undefined };
  /** A rebalance is under way: time-based flushes and idle exits wait. */
  #rebalancing = false;
  /** Batches being handled now, or handed on and not yet in the sink. */
  #busy = 0;
  /** Per partition: the batches handed on to the splitter and the sink, in fetch order. */
  readonly #pipelines = new Map<number, Pipeline>();
  /** Counts revokes: a batch handed on before one is dropped. */
  #epoch = 0;
  /** Why a batch handed on asked the member to rejoin its group; the next batch does it. */
  #rejoin?: string;
  readonly #splitter: Splitter;
  /** End of the last batch or (re)join: waiting for the group is not an idle topic. */
  #lastActivity = performance.now();
  #failure: unknown;
  #stop: (reason: StopReason | "error") => void = () => {};
  readonly #stopped = new Promise<StopReason | "error">((resolve) => this.#stop = resolve);

  constructor(
    clients: Clients,
    options: ConsumeOptions,
    deadLetterTopic: string,
    logger: Logger,
    splitter: Splitter,
  ) {
    const { consumer, admin } = clients;
    this.#consumer = consumer;
    this.#options = options;
    this.#logger = logger;
    this.#splitter = splitter;
    this.#sink = new LakeSink({
      ...options,
      logger,
      signal: options.abortRetries,
      commit: (partition, next) => commitOrFence(consumer, options.topic, partition, next),
      committed: (partition) => committedOffset(admin, options.group, options.topic, partition),
    });
    this.#deadLetters = new DeadLetterWriter({
      producer: clients.producer,
      topic: deadLetterTopic,
      logger,
    });
  }

  /** Counters for progress displays. */
  progress(): ConsumeProgress {
    return {
      ...this.#sink.stats,
      messages: this.#counters.messages,
      last: this.#counters.last,
      rejoins: Math.max(0, this.#counters.joins - 1),
      deadLettered: this.#deadLetters.sent,
      elapsedMs: performance.now() - this.#started,
    };
  }

  /**
   * A rebalance ends ownership of every partition at once: a flush in progress writes nothing
   * more and does not commit; partitions are claimed again from their committed offsets. A crashed
   * consumer has left its group too; one kafkajs does not restart ends the run with its cause.
   */
  watchGroup(): void {
    const consumer = this.#consumer;
    consumer.on(consumer.events.REBALANCING, () => {
      this.#rebalancing = true;
      this.#revoke();
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.#rebalancing = false;
      this.#counters.joins++;
      this.#lastActivity = performance.now();
      this.#revoke();
    });
    consumer.on(consumer.events.CRASH, (event) => {
      this.#revoke();
      if (!event.payload.restart) this.#fail(originalCause(event.payload.error));
    });
  }

  /** kafkajs' `eachBatch`: handles a batch and decides what an error out of it means. */
  async onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, isRunning, isStale } = payload;
    if (!isRunning() || isStale() || batch.isEmpty() || this.#failure) return;
    this.#busy++;
    try {
      await this.#handleBatch(payload);
    } catch (error) {
      const action = errorAction(error);
      if (action === "rejoin") {
        this.#revoke();
        throw error instanceof FencedError ? new RejoinRequest(error.message) : error;
      }
      if (action === "retry") {
        // kafkajs retries (or restarts the consumer) from its own position; the sink's expect()
        // sends it back to what is durable.
        this.#logger.warn(
          `Batch of partition ${batch.partition} failed, retrying: ${describe(error)}`,
        );
        throw error;
      }
      this.#fail(error); // needs a person: stop with this error (a store error is not a Kafka one)
    } finally {
      this.#busy--;
      this.#lastActivity = performance.now();
    }
  }

  /** Seeks to where the sink continues, dead-letters the poison, hands the ticks to the sink. */
  async #handleBatch({ batch, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    const { partition } = batch;
    // The offset this fetch asked for (kafkajs keeps it on the batch, untyped): the run covers
    // [fetched, last message], even where compaction left gaps.
    const fetched = BigInt((batch as unknown as { fetchedOffset: string }).fetchedOffset);
    if (this.#rejoin !== undefined) throw new RejoinRequest(this.#rejoin);
    const context = { heartbeat: () => keepMembership(heartbeat, this.#logger) };
    const expected = await this.#expected(partition, fetched, context);
    if (expected === "fenced") {
      throw new RejoinRequest(`partition ${partition} was taken over by another writer`);
    }
    if (expected !== fetched) {
      // The consumer's position ran ahead of (or behind) what the sink holds: go back to it.
      this.#logger.warn(
        `partition ${partition}: fetched from offset ${fetched}, the lake continues at ${expected}; seeking there.`,
      );
      this.#consumer.seek({ topic: batch.topic, partition, offset: expected.toString() });
      return;
    }
    // The split runs in the splitter (a worker) while this thread fetches the next batch; the
    // sink takes the rows in fetch order, one partition's batches chained one after another.
    const { topic, messages } = batch;
    const splitting = this.#split(messages);
    const first = this.#counters.messages === 0;
    this.#counters.messages += messages.length;
    if (first) this.#options.onProgress?.(this.progress());
    const lastOffset = messages.at(-1)!.offset;
    const pipeline = this.#pipelines.get(partition) ?? this.#newPipeline(partition);
    pipeline.next = BigInt(lastOffset) + 1n;
    const previous = pipeline.tail;
    const epoch = this.#epoch;
    pipeline.depth++;
    this.#busy++;
    pipeline.tail = previous.then(async () => {
      if (pipeline.dead || epoch !== this.#epoch) return; // dropped: see #endPipeline
      const { split, poison } = await splitting;
      if (split.last) this.#counters.last = split.last;
      await this.#deadLetters.send(topic, partition, poison);
      if (pipeline.dead || epoch !== this.#epoch) return;
      const added = await this.#sink.add(
        { partition, firstOffset: fetched, lastOffset: BigInt(lastOffset), rows: split.rows },
        context,
      );
      if (!added) this.#failPipeline(partition, pipeline, fetched);
    }).catch((error) => this.#failPipeline(partition, pipeline, fetched, error)).finally(() => {
      pipeline.depth--;
      this.#busy--;
      this.#lastActivity = performance.now();
    });
    resolveOffset(lastOffset);
    // At most MAX_BATCHES_AHEAD batches of a partition wait for the sink: memory stays bounded.
    if (pipeline.depth > MAX_BATCHES_AHEAD) {
      await keepAlive(previous, context.heartbeat, 1000);
      if (this.#rejoin !== undefined) throw new RejoinRequest(this.#rejoin); // found meanwhile
    }
    const { maxMessages } = this.#options;
    if (maxMessages !== undefined && this.#counters.messages >= maxMessages) this.#stop("limit");
  }

  /**
   * Splits `messages` in the splitter and picks out the poison as soon as it answers: the
   * kafkajs messages (and the inflated batch their Buffers view) are then free, not held until
   * the sink takes the rows. (A function of its own, so no closure of the caller keeps them.)
   */
  #split(messages: KafkaMessage[]): Promise<{ split: SplitBatch; poison: PoisonMessage[] }> {
    const splitter = this.#splitter;
    const splitting = splitter.split(packBatch(messages, (size) => splitter.allocate(size)))
      .then((split) => ({ split, poison: poisonMessages(messages, split) }));
    splitting.catch(() => {}); // its failure is the step's
    return splitting;
  }

  /** Where `partition`'s next fetch must start: after the batches handed on, else the sink's word. */
  async #expected(
    partition: number,
    fetched: bigint,
    context: Required<WaitContext>,
  ): Promise<Expectation> {
    const pipeline = this.#pipelines.get(partition);
    if (pipeline && pipeline.next === fetched) return fetched;
    if (pipeline) {
      // kafkajs fetched from elsewhere (a retry, a seek): let the batches handed on land first.
      await keepAlive(pipeline.tail, context.heartbeat, 1000);
      this.#endPipeline(partition, pipeline);
    }
    return await this.#sink.expect(partition, fetched, context);
  }

  #newPipeline(partition: number): Pipeline {
    const pipeline: Pipeline = { tail: Promise.resolve(), depth: 0, next: 0n, dead: false };
    this.#pipelines.set(partition, pipeline);
    return pipeline;
  }

  /** Ends `pipeline`: its batches not yet added are dropped; the next fetch asks the sink. */
  #endPipeline(partition: number, pipeline: Pipeline): void {
    pipeline.dead = true;
    if (this.#pipelines.get(partition) === pipeline) this.#pipelines.delete(partition);
  }

  /**
   * Ends `pipeline` after a batch the sink refused or failed to take, and sends the consumer back
   * to where the sink continues (kafkajs' position ran ahead with the batches handed on). A
   * failure that needs a person stops the run; others (a store timeout, a takeover, a refused
   * commit) are retried from there, as kafkajs retries a failed batch.
   */
  #failPipeline(partition: number, pipeline: Pipeline, from: bigint, error?: unknown): void {
    const action = error === undefined ? undefined : errorAction(error);
    if (action === "stop") return this.#fail(error); // even after a revoke: it needs a person
    if (pipeline.dead) return; // revoked or ended: the next fetch asks the sink anyway
    this.#endPipeline(partition, pipeline);
    if (action === "rejoin") {
      // Taken over, or the group moved on: the member rejoins, as from a batch that threw this.
      this.#rejoin ??= `partition ${partition}: ${describe(error)}`;
    } else if (action === "retry") {
      this.#logger.warn(`Batch of partition ${partition} failed, retrying: ${describe(error)}`);
    }
    // Back to where the sink continues; or, when it no longer writes the partition, to this
    // batch: fetching it again brings the next batch, which makes the member rejoin (at the end
    // of the topic no other batch would come).
    const position = this.#sink.position(partition);
    const offset = action !== "rejoin" && typeof position === "bigint" ? position : from;
    // kafkajs applies the seek at its next fetch, once the one under way returns (at most
    // FETCH_MAX_WAIT_MS on an idle topic): until the rows come again the run is not idle.
    this.#consumer.seek({ topic: this.#options.topic, partition, offset: offset.toString() });
    this.#lastActivity = performance.now();
  }

  /** Ends ownership of every partition: the sink's and the batches handed on alike. */
  #revoke(): void {
    this.#sink.revoke();
    this.#epoch++;
    this.#rejoin = undefined;
    for (const pipeline of this.#pipelines.values()) pipeline.dead = true;
    this.#pipelines.clear();
  }

  /** Waits until every batch handed on was added to the sink (or dropped). */
  async #drainPipelines(): Promise<void> {
    while (this.#pipelines.size > 0) {
      const pipelines = [...this.#pipelines];
      await Promise.all(pipelines.map(([, pipeline]) => pipeline.tail));
      for (const [partition, pipeline] of pipelines) {
        if (this.#pipelines.get(partition) === pipeline && pipeline.depth === 0) {
          this.#pipelines.delete(partition);
        }
      }
    }
  }

  /**
   * Every 250 ms: flushes ranges that are due by age, reports progress, and stops when idle;
   * resolves once the run stops, having flushed and committed what it holds (unless it failed).
   */
  async untilStopped(): Promise<ConsumeResult> {
    const { signal } = this.#options;
    const onAbort = () => this.#stop("signal");
    signal?.addEventListener("abort", onAbort, { once: true });
    if (signal?.aborted) this.#stop("signal");
    let flushing = false;
    const ticker = setInterval(() => {
      if (!flushing && !this.#rebalancing && !this.#failure) {
        flushing = true;
        this.#sink.flushDue().catch((error) => this.#timedFlushFailed(error))
          .finally(() => flushing = false);
      }
      this.#options.onProgress?.(this.progress());
      if (this.#idle()) this.#stop("idle");
    }, 250);
    const reason = await this.#stopped;
    clearInterval(ticker);
    signal?.removeEventListener("abort", onAbort);
    this.#consumer.pause([{ topic: this.#options.topic }]);
    await this.#drainPipelines();
    if (!this.#failure) {
      await this.#sink.flushAll().catch((error) => {
        if (errorAction(error) !== "rejoin") throw error;
        this.#logger.warn(`Final flush skipped: ${describe(error)}`);
      });
    }
    if (this.#failure || reason === "error") throw this.#failure;
    const result = { ...this.progress(), stoppedBy: reason };
    this.#options.onProgress?.(result);
    return result;
  }

  #idle(): boolean {
    const { idleExitSeconds } = this.#options;
    return idleExitSeconds !== undefined && this.#busy === 0 && !this.#rebalancing &&
      this.#counters.joins > 0 &&
      performance.now() - this.#lastActivity >= idleExitSeconds * 1000;
  }

  #timedFlushFailed(error: unknown): void {
    const action = errorAction(error);
    // A fenced partition was reported by the sink; its next batch makes the member rejoin.
    if (action === "rejoin") return;
    if (action === "retry") {
      this.#logger.warn(`Timed flush failed, retrying on the next tick: ${describe(error)}`);
    } else this.#fail(error);
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
    this.#stop("error");
  }
}

/** Longest wait for one heartbeat's answer while writing. */
const HEARTBEAT_WAIT_MS = 3_000;

/**
 * Sends a group heartbeat while the sink waits on the store. A heartbeat that fails because the
 * broker is unreachable is reported and does not interrupt the write (the group decides whether
 * the member survives, and a late commit is refused if it did not); one that says the member lost
 * its partitions stops the wait.
 */
async function keepMembership(heartbeat: () => Promise<void>, logger: Logger): Promise<void> {
  const beat = heartbeat();
  beat.catch(() => {}); // a late failure of a heartbeat we stopped waiting for is not news
  const gaveUp = new AbortController();
  try {
    // A heartbeat to a coordinator that just died can take a request timeout (30 s) to fail:
    // wait a few seconds at most, so the write it guards is not held up by it.
    await Promise.race([beat, sleep(HEARTBEAT_WAIT_MS, gaveUp.signal).catch(() => {})]);
  } catch (error) {
    if (isMembershipLost(error) || !isRetriableError(error)) throw error;
    logger.warn(`Kafka heartbeat failed (${describe(error)}); the write goes on.`);
  } finally {
    gaveUp.abort();
  }
}

/**
 * Commits `next` for `partition`; a refusal because the group moved on (stale generation,
 * unknown member) becomes a {@linkcode FencedError}: the rows are durable, the new owner resumes
 * from the older committed offset and rewrites the same range.
 */
async function commitOrFence(
  consumer: Consumer,
  topic: string,
  partition: number,
  next: bigint,
): Promise<void> {
  try {
    await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
  } catch (error) {
    if (isMembershipLost(error)) {
      throw new FencedError(
        partition,
        `the broker refused the commit of offset ${next}: ${describe(error)}`,
      );
    }
    throw error;
  }
}

/** The group's committed offset of one partition, or `undefined` when it has none. */
async function committedOffset(
  admin: Admin,
  groupId: string,
  topic: string,
  partition: number,
): Promise<bigint | undefined> {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const found = offsets[0]?.partitions.find((p) => p.partition === partition)?.offset;
  return found === undefined || BigInt(found) < 0n ? undefined : BigInt(found);
}

/** The innermost cause of a kafkajs wrapper error (what actually went wrong). */
function originalCause(error: unknown): unknown {
  let e = error;
  for (let depth = 0; depth < 5; depth++) {
    const cause = (e as { cause?: unknown })?.cause;
    if (!cause || cause === e) break;
    e = cause;
  }
  return e;
}

/**
 * Raised by `fromBeginning` (`deno task consume --from-beginning`) while other members of the
 * group are running: Kafka resets a group's offsets only while it is empty.
 */
export class GroupInUseError extends Error {
  /** Creates the error for `group`, asked to restart `topic` from its beginning. */
  constructor(readonly group: string, readonly topic: string) {
    super(
      `Cannot reset group ${group} to the beginning of ${topic}: other members of the group are ` +
        `running. Stop them first (a killed one leaves the group after its session timeout), ` +
        `or leave out --from-beginning to join them where the group is.`,
    );
    this.name = "GroupInUseError";
  }
}

/** True when a kafkajs-named error only wraps one of ours (a store error, a bad tick). */
function isOurs(error: unknown): boolean {
  const cause = originalCause(error);
  return cause !== error && !(cause as { name?: string })?.name?.startsWith("KafkaJS");
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function resetToEarliest(
  kafka: Kafka,
  groupId: string,
  topic: string,
  logger: Logger,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.resetOffsets({ groupId, topic, earliest: true });
    logger.info(`Reset group ${groupId} to the beginning of ${topic}.`);
  } catch (error) {
    if (/no running instances/.test(describe(error))) throw new GroupInUseError(groupId, topic);
    throw error;
  } finally {
    await admin.disconnect();
  }
}
