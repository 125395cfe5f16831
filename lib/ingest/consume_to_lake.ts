/**
 * The ingest job: a Kafka consumer group that splits each fetched batch into ticks and poison
 * messages ({@linkcode splitBatch}), dead-letters the poison ({@linkcode DeadLetterWriter}), hands
 * the ticks to the {@linkcode LakeSink}, and commits offsets only once the sink made them durable.
 *
 * Kafka's consumer position is not trusted to be durable: the sink says where each partition
 * continues and the job seeks there when a fetch starts elsewhere. Any rebalance (or a commit the
 * broker refuses because the group moved on) ends the member's ownership at once; after a rejoin
 * each partition resumes from its committed offset.
 *
 * @module
 */

import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from "kafkajs";
import { FencedError, LakeSink, type LakeSinkOptions, type SinkStats } from "../lake/sink.ts";
import { type Logger, silentLogger } from "../log.ts";
import type { Tick } from "../tick.ts";
import { ensureTopic } from "../kafka/admin.ts";
import { isConnectionError, KafkaUnavailableError } from "../kafka/client.ts";
import { createTickProducer } from "../kafka/producer.ts";
import { isRetriableError } from "../retry.ts";
import { sleep } from "../time.ts";
import { DeadLetterWriter } from "./dead_letters.ts";
import { isKafkaTransient, isMembershipLost, RejoinRequest } from "./membership.ts";
import { splitBatch } from "./split.ts";

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
  /** Called about once a second and at the end. */
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
  /** Largest fetch per partition, which bounds memory with the flush settings. @default 4 MiB */
  maxBytesPerPartition?: number;
}

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
 * @throws the store's own error (e.g. `S3StoreError` for access denied) when writing needs a fix.
 */
export async function consumeToLake(kafka: Kafka, options: ConsumeOptions): Promise<ConsumeResult> {
  const logger = options.logger ?? silentLogger;
  const deadLetterTopic = options.deadLetterTopic ?? `${options.topic}.dlq`;
  const started = performance.now();
  const counters = { messages: 0, joins: 0, last: undefined as Tick | undefined };
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  let admin: Admin | undefined;
  try {
    await ensureTopic(kafka, { topic: options.topic, brokers: options.brokers, logger });
    await ensureTopic(kafka, { topic: deadLetterTopic, brokers: options.brokers, logger });
    if (options.fromBeginning) await resetToEarliest(kafka, options.group, options.topic, logger);

    const sessionTimeout = options.sessionTimeoutMs ?? 30_000;
    consumer = kafka.consumer({
      groupId: options.group,
      sessionTimeout,
      rebalanceTimeout: sessionTimeout,
      heartbeatInterval: Math.min(3_000, Math.floor(sessionTimeout / 3)),
      maxBytesPerPartition: options.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      allowAutoTopicCreation: false,
    });
    producer = createTickProducer(kafka);
    admin = kafka.admin();
    const theConsumer = consumer;
    const theAdmin = admin;
    const sink = new LakeSink({
      ...options,
      logger,
      signal: options.abortRetries,
      commit: (partition, next) => commitOrFence(theConsumer, options.topic, partition, next),
      committed: (partition) => committedOffset(theAdmin, options.group, options.topic, partition),
    });
    const deadLetters = new DeadLetterWriter({ producer, topic: deadLetterTopic, logger });
    const progress = (): ConsumeProgress => ({
      ...sink.stats,
      messages: counters.messages,
      last: counters.last,
      rejoins: Math.max(0, counters.joins - 1),
      deadLettered: deadLetters.sent,
      elapsedMs: performance.now() - started,
    });

    await producer.connect();
    await admin.connect();
    await consumer.connect();
    // A rebalance ends ownership of every partition at once: a flush in progress writes nothing
    // more and does not commit. Partitions are claimed again from their committed offsets.
    // Time-based flushes wait while a rebalance is under way.
    let rebalancing = false;
    // Idleness counts from the end of the last batch or the last (re)join: waiting for the group
    // (a dead member's session to expire) is not an idle topic.
    let lastActivity = performance.now();
    consumer.on(consumer.events.REBALANCING, () => {
      rebalancing = true;
      sink.revoke();
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      rebalancing = false;
      counters.joins++;
      lastActivity = performance.now();
      sink.revoke();
    });
    await consumer.subscribe({ topics: [options.topic], fromBeginning: true });

    let busy = 0;
    let failure: unknown;
    let stop: (reason: StopReason | "error") => void = () => {};
    const stopped = new Promise<StopReason | "error">((resolve) => stop = resolve);
    const fail = (error: unknown) => {
      failure ??= error;
      stop("error");
    };

    const handleBatch = async ({ batch, heartbeat, resolveOffset }: EachBatchPayload) => {
      const { partition } = batch;
      // The offset this fetch asked for (kafkajs keeps it on the batch, untyped): the run covers
      // [fetched, last message], even where compaction left gaps.
      const fetched = BigInt((batch as unknown as { fetchedOffset: string }).fetchedOffset);
      const context = { heartbeat: () => keepMembership(heartbeat, logger) };
      const expected = await sink.expect(partition, fetched, context);
      if (expected === "fenced") {
        throw new RejoinRequest(`partition ${partition} was taken over by another writer`);
      }
      if (expected !== fetched) {
        // The consumer's position ran ahead of (or behind) what the sink holds: go back to it.
        logger.warn(
          `partition ${partition}: fetched from offset ${fetched}, the lake continues at ${expected}; seeking there.`,
        );
        theConsumer.seek({ topic: options.topic, partition, offset: expected.toString() });
        return;
      }
      const split = splitBatch(batch.messages);
      await deadLetters.send(batch.topic, partition, split.poison);
      counters.messages += batch.messages.length;
      if (split.last) counters.last = split.last;
      const lastOffset = batch.messages.at(-1)!.offset;
      const added = await sink.add(
        { partition, firstOffset: fetched, lastOffset: BigInt(lastOffset), records: split.records },
        context,
      );
      if (added) resolveOffset(lastOffset);
      if (options.maxMessages !== undefined && counters.messages >= options.maxMessages) {
        stop("limit");
      }
    };

    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload: EachBatchPayload) => {
        const { batch, isRunning, isStale } = payload;
        if (!isRunning() || isStale() || batch.isEmpty() || failure) return;
        // Idleness counts from the end of the last batch: a slow flush is not an idle topic.
        busy++;
        try {
          await handleBatch(payload);
        } catch (error) {
          if (error instanceof FencedError || isMembershipLost(error)) {
            sink.revoke();
            throw error instanceof FencedError ? new RejoinRequest(error.message) : error;
          }
          if (isRetriableError(error) || isKafkaTransient(error)) {
            // kafkajs retries (or restarts the consumer) from its own position; the sink's
            // expect() sends it back to what is durable.
            logger.warn(
              `Batch of partition ${batch.partition} failed, retrying: ${describe(error)}`,
            );
            throw error;
          }
          fail(error); // needs a person: stop with this error (a store error is not a Kafka one)
        } finally {
          busy--;
          lastActivity = performance.now();
        }
      },
    });
    consumer.on(consumer.events.CRASH, (event) => {
      sink.revoke(); // a crashed consumer has left its group
      if (!event.payload.restart) fail(originalCause(event.payload.error));
    });

    const onAbort = () => stop("signal");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) stop("signal");
    let flushing = false;
    const ticker = setInterval(() => {
      if (!flushing && !rebalancing && !failure) {
        flushing = true;
        sink.flushDue().catch((error) => {
          // A fenced partition was reported by the sink; its next batch makes the member rejoin.
          if (error instanceof FencedError || isMembershipLost(error)) return;
          if (isRetriableError(error) || isKafkaTransient(error)) {
            logger.warn(`Timed flush failed, retrying on the next tick: ${describe(error)}`);
          } else fail(error);
        }).finally(() => flushing = false);
      }
      options.onProgress?.(progress());
      if (
        options.idleExitSeconds !== undefined && busy === 0 && !rebalancing &&
        counters.joins > 0 &&
        performance.now() - lastActivity >= options.idleExitSeconds * 1000
      ) stop("idle");
    }, 250);

    const reason = await stopped;
    clearInterval(ticker);
    options.signal?.removeEventListener("abort", onAbort);
    consumer.pause([{ topic: options.topic }]);
    if (!failure) {
      await sink.flushAll().catch((error) => {
        if (!(error instanceof FencedError || isMembershipLost(error))) throw error;
        logger.warn(`Final flush skipped: ${describe(error)}`);
      });
    }
    if (failure || reason === "error") throw failure;
    const result = { ...progress(), stoppedBy: reason };
    options.onProgress?.(result);
    return result;
  } catch (error) {
    if (isConnectionError(error) && !isOurs(error)) {
      throw new KafkaUnavailableError(options.brokers ?? [], error);
    }
    throw error;
  } finally {
    await consumer?.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
    await admin?.disconnect().catch(() => {});
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
  } finally {
    await admin.disconnect();
  }
}
