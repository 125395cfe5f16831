/**
 * The lake consumer: a Kafka consumer group that decodes ticks, sends poison messages to a
 * dead-letter topic, hands the rest to the {@linkcode LakeSink}, and commits offsets only after
 * the sink made the data durable.
 *
 * @module
 */

import type { Consumer, EachBatchPayload, Kafka, Producer } from "kafkajs";
import { LakeSink, type LakeSinkOptions, type SinkRecord, type SinkStats } from "../lake/sink.ts";
import { type Logger, silentLogger } from "../log.ts";
import { decodeTick, type Tick } from "../tick.ts";
import { ensureTopic } from "../kafka/admin.ts";
import { isConnectionError, KafkaUnavailableError } from "../kafka/client.ts";
import { createTickProducer } from "../kafka/producer.ts";

/** Counters reported while consuming. */
export interface ConsumeProgress extends SinkStats {
  /** Messages received (valid and poison). */
  messages: number;
  /** Poison messages sent to the dead-letter topic. */
  deadLettered: number;
  /** Time since the consumer started. */
  elapsedMs: number;
  /** The most recent valid tick received. */
  last?: Tick;
}

/** Why {@linkcode consumeToLake} returned. */
export type StopReason = "idle" | "limit" | "signal";

/** What {@linkcode consumeToLake} did. */
export interface ConsumeResult extends ConsumeProgress {
  /** Why it stopped. */
  stoppedBy: StopReason;
}

/** Options of {@linkcode consumeToLake}. */
export interface ConsumeOptions extends Omit<LakeSinkOptions, "commit" | "signal" | "logger"> {
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
 */
export async function consumeToLake(kafka: Kafka, options: ConsumeOptions): Promise<ConsumeResult> {
  const logger = options.logger ?? silentLogger;
  const deadLetterTopic = options.deadLetterTopic ?? `${options.topic}.dlq`;
  const started = performance.now();
  const counters = { messages: 0, deadLettered: 0, last: undefined as Tick | undefined };
  let consumer: Consumer | undefined;
  let producer: Producer | undefined;
  try {
    await ensureTopic(kafka, { topic: options.topic, brokers: options.brokers, logger });
    await ensureTopic(kafka, { topic: deadLetterTopic, brokers: options.brokers, logger });
    if (options.fromBeginning) await resetToEarliest(kafka, options.group, options.topic, logger);

    consumer = kafka.consumer({
      groupId: options.group,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.min(3_000, Math.floor((options.sessionTimeoutMs ?? 30_000) / 3)),
      maxBytesPerPartition: options.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: 32 * 1024 * 1024,
      allowAutoTopicCreation: false,
    });
    producer = createTickProducer(kafka);
    const theConsumer = consumer;
    const sink = new LakeSink({
      ...options,
      logger,
      signal: options.abortRetries,
      commit: (partition, next) =>
        theConsumer.commitOffsets([
          { topic: options.topic, partition, offset: next.toString() },
        ]),
    });
    const progress = (): ConsumeProgress => ({
      ...sink.stats,
      ...counters,
      elapsedMs: performance.now() - started,
    });

    await producer.connect();
    await consumer.connect();
    // After any rebalance kafkajs resumes every partition from its committed offset. While one is
    // under way, time-based flushes wait: the partitions may be about to move to another member.
    let rebalancing = false;
    consumer.on(consumer.events.REBALANCING, () => rebalancing = true);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      rebalancing = false;
      void sink.reset();
    });
    await consumer.subscribe({ topics: [options.topic], fromBeginning: true });

    let lastActivity = performance.now();
    let busy = 0;
    let failure: unknown;
    let stop: (reason: StopReason) => void = () => {};
    const stopped = new Promise<StopReason>((resolve) => stop = resolve);
    const deadLetters = producer;

    const handleBatch = async (
      batch: EachBatchPayload["batch"],
      heartbeat: () => Promise<void>,
      resolveOffset: (offset: string) => void,
    ): Promise<void> => {
      const records: SinkRecord[] = [];
      const poison: {
        offset: string;
        value: Buffer | null;
        key: Buffer | null;
        reason: string;
      }[] = [];
      for (const message of batch.messages) {
        const text = message.value?.toString("utf8") ?? "";
        try {
          const tick = decodeTick(text);
          records.push({
            offset: BigInt(message.offset),
            tick,
            timestamp: Number(message.timestamp),
            size: text.length,
          });
          counters.last = tick;
        } catch (error) {
          poison.push({
            offset: message.offset,
            value: message.value,
            key: message.key,
            reason: message.value === null ? "null value" : (error as Error).message,
          });
        }
      }
      if (poison.length > 0) {
        await deadLetters.send({
          topic: deadLetterTopic,
          acks: -1,
          messages: poison.map((p) => ({
            key: p.key,
            value: p.value,
            headers: {
              "dlq.reason": p.reason,
              "dlq.source": `${batch.topic}/${batch.partition}/${p.offset}`,
            },
          })),
        });
        for (const p of poison) {
          logger.warn(
            `Sent offset ${p.offset} of partition ${batch.partition} to ${deadLetterTopic}: ${p.reason}.`,
          );
        }
        counters.deadLettered += poison.length;
      }
      counters.messages += batch.messages.length;
      await sink.add(
        {
          partition: batch.partition,
          firstOffset: BigInt(batch.firstOffset()!),
          lastOffset: BigInt(batch.lastOffset()),
          records,
        },
        { heartbeat },
      );
      resolveOffset(batch.lastOffset());
      if (options.maxMessages !== undefined && counters.messages >= options.maxMessages) {
        stop("limit");
      }
    };

    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload: EachBatchPayload) => {
        const { batch, heartbeat, resolveOffset, isRunning, isStale } = payload;
        if (!isRunning() || isStale() || batch.isEmpty()) return;
        // Idleness counts from the end of the last batch: a slow flush is not an idle topic.
        busy++;
        try {
          await handleBatch(batch, heartbeat, resolveOffset);
        } finally {
          busy--;
          lastActivity = performance.now();
        }
      },
    });
    consumer.on(consumer.events.CRASH, (event) => {
      if (!event.payload.restart) {
        failure = event.payload.error;
        stop("signal");
      }
    });

    const onAbort = () => stop("signal");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) stop("signal");
    let flushing = false;
    const ticker = setInterval(() => {
      if (!flushing && !rebalancing) {
        flushing = true;
        sink.flushDue().catch((error) => {
          failure = error;
          stop("signal");
        }).finally(() => flushing = false);
      }
      options.onProgress?.(progress());
      if (
        options.idleExitSeconds !== undefined && busy === 0 &&
        performance.now() - lastActivity >= options.idleExitSeconds * 1000
      ) stop("idle");
    }, 250);

    const reason = await stopped;
    clearInterval(ticker);
    options.signal?.removeEventListener("abort", onAbort);
    consumer.pause([{ topic: options.topic }]);
    if (!failure) await sink.flushAll();
    if (failure) throw failure;
    const result = { ...progress(), stoppedBy: reason };
    options.onProgress?.(result);
    return result;
  } catch (error) {
    if (isConnectionError(error)) throw new KafkaUnavailableError(options.brokers ?? [], error);
    throw error;
  } finally {
    await consumer?.disconnect().catch(() => {});
    await producer?.disconnect().catch(() => {});
  }
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
