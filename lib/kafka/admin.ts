/**
 * Topic administration: make sure the tick topic (and its dead-letter topic) exist before any
 * message is sent. Topics are created up front because broker-side auto-creation under KRaft
 * gives kafkajs errors (kafkajs#1563).
 *
 * @module
 */

import type { Kafka } from "kafkajs";
import { type Logger, silentLogger } from "../log.ts";
import { isConnectionError, KafkaUnavailableError } from "./client.ts";

/** Options of {@linkcode ensureTopic}. */
export interface EnsureTopicOptions {
  /** Topic name. */
  topic: string;
  /** Partitions for a new topic. @default 3 */
  partitions?: number;
  /** Replication factor for a new topic. @default 1 (single-node broker) */
  replicationFactor?: number;
  /** Bootstrap servers, for error messages. */
  brokers?: string[];
  /** Where creation is reported. @default silentLogger */
  logger?: Logger;
}

/** What {@linkcode ensureTopic} found or did. */
export interface TopicInfo {
  /** Topic name. */
  topic: string;
  /** Number of partitions the topic has now. */
  partitions: number;
  /** True when this call created it. */
  created: boolean;
}

/**
 * Creates the topic if it is missing; leaves an existing one as it is (and says so when its
 * partition count differs from the one asked for).
 *
 * @example
 * ```ts
 * import { createKafka } from "./client.ts";
 * import { ensureTopic } from "./admin.ts";
 * const info = await ensureTopic(createKafka({ brokers: ["localhost:9092"] }), {
 *   topic: "stock_market",
 * });
 * ```
 * @throws {KafkaUnavailableError} when no broker answers.
 */
export async function ensureTopic(kafka: Kafka, options: EnsureTopicOptions): Promise<TopicInfo> {
  const { topic, partitions = 3, replicationFactor = 1, logger = silentLogger } = options;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`Partitions must be a whole number of at least 1, got ${partitions}.`);
  }
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = await admin.listTopics();
    let created = false;
    if (!existing.includes(topic)) {
      created = await admin.createTopics({
        topics: [{ topic, numPartitions: partitions, replicationFactor }],
        waitForLeaders: true,
      });
      if (created) logger.info(`Created topic ${topic} with ${partitions} partition(s).`);
    }
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length ?? 0;
    if (!created && count !== partitions) {
      logger.info(`Topic ${topic} exists with ${count} partition(s); keeping it.`);
    }
    return { topic, partitions: count, created };
  } catch (error) {
    if (isConnectionError(error)) throw new KafkaUnavailableError(options.brokers ?? [], error);
    throw error;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}
