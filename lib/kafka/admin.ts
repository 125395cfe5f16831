/**
 * Topic administration: make sure the tick topic (and its dead-letter topic) exist before any
 * message is sent. Topics are created up front because broker-side auto-creation under KRaft
 * gives kafkajs errors (kafkajs#1563). New topics are replicated for the cluster they land on:
 * `min(3, brokers)` replicas and, from 3 brokers up, `min.insync.replicas=2`, so a write
 * acknowledged with acks=all survives the loss of any one broker.
 *
 * @module
 */

import { ConfigResourceTypes, type Kafka } from "kafkajs";
import { type Logger, silentLogger } from "../log.ts";
import { replicationForBrokers } from "../ops/broker_config.ts";
import { isConnectionError, KafkaUnavailableError } from "./client.ts";
import { sleep } from "../time.ts";

/** Options of {@linkcode ensureTopic}. */
export interface EnsureTopicOptions {
  /** Topic name. */
  topic: string;
  /** Partitions for a new topic. @default 3 */
  partitions?: number;
  /** Replication factor for a new topic. @default min(3, live brokers in the cluster metadata) */
  replicationFactor?: number;
  /**
   * `min.insync.replicas` of a new topic. @default 2 when the topic has 3 or more replicas, else 1
   */
  minInsyncReplicas?: number;
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
  /** Replicas of its partitions (of partition 0, for an existing topic). */
  replicationFactor: number;
  /** Its `min.insync.replicas` (the broker default when the topic does not set one). */
  minInsyncReplicas: number;
  /** True when this call created it. */
  created: boolean;
}

/**
 * Creates the topic if it is missing, replicated for the cluster (see the module doc); leaves an
 * existing one as it is (and says so when its partition count differs from the one asked for).
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
  const { topic, partitions = 3, logger = silentLogger } = options;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`Partitions must be a whole number of at least 1, got ${partitions}.`);
  }
  for (const name of ["replicationFactor", "minInsyncReplicas"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new RangeError(`${name} must be a whole number of at least 1, got ${value}.`);
    }
  }
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = await admin.listTopics();
    let created = false;
    if (!existing.includes(topic)) {
      const { brokers } = await admin.describeCluster();
      const replicationFactor = options.replicationFactor ??
        replicationForBrokers(Math.max(1, brokers.length)).replicationFactor;
      const minInsyncReplicas = options.minInsyncReplicas ?? (replicationFactor >= 3 ? 2 : 1);
      created = await admin.createTopics({
        topics: [{
          topic,
          numPartitions: partitions,
          replicationFactor,
          configEntries: [{ name: "min.insync.replicas", value: String(minInsyncReplicas) }],
        }],
        // kafkajs' own wait gives up on the "unknown topic" a broker answers on a multi-node
        // cluster until the new topic's metadata reaches it; the wait below tolerates it.
        waitForLeaders: false,
      });
      if (created) {
        logger.info(
          `Created topic ${topic} with ${partitions} partition(s), replication factor ` +
            `${replicationFactor}, min.insync.replicas ${minInsyncReplicas}.`,
        );
      }
    }
    const metadata = await whileTopicPropagates(topic, async () => {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const list = metadata.topics[0]?.partitions ?? [];
      // A new topic is ready once every partition has a leader; an existing one is reported as is.
      return list.length > 0 && (!created || list.every((p) => p.leader >= 0))
        ? metadata
        : undefined;
    });
    const partitionList = metadata.topics[0]?.partitions ?? [];
    const count = partitionList.length;
    if (!created && count !== partitions) {
      logger.info(`Topic ${topic} exists with ${count} partition(s); keeping it.`);
    }
    const replicas = partitionList.find((p) => p.partitionId === 0)?.replicas.length ?? 0;
    const { resources } = await whileTopicPropagates(topic, () =>
      admin.describeConfigs({
        resources: [{
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configNames: ["min.insync.replicas"],
        }],
        includeSynonyms: false,
      }));
    const minIsr = Number(
      resources[0]?.configEntries.find((e) => e.configName === "min.insync.replicas")
        ?.configValue ?? 1,
    );
    return {
      topic,
      partitions: count,
      replicationFactor: replicas,
      minInsyncReplicas: minIsr,
      created,
    };
  } catch (error) {
    if (isConnectionError(error)) throw new KafkaUnavailableError(options.brokers ?? [], error);
    throw error;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** How long a new topic may take to reach every broker's metadata with a leader per partition. */
const TOPIC_PROPAGATION_MS = 30_000;

/**
 * Runs `attempt` until it returns a value, treating "unknown topic" and "leader not available"
 * (a just-created topic that has not reached this broker, or a partition electing a leader) as
 * "not yet", for up to {@linkcode TOPIC_PROPAGATION_MS}.
 */
async function whileTopicPropagates<T>(
  topic: string,
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + TOPIC_PROPAGATION_MS;
  for (;;) {
    try {
      const result = await attempt();
      if (result !== undefined) return result;
    } catch (error) {
      const types = [error, (error as { cause?: unknown })?.cause].map((e) =>
        (e as { type?: string })?.type
      );
      if (
        !types.some((type) =>
          type === "UNKNOWN_TOPIC_OR_PARTITION" || type === "LEADER_NOT_AVAILABLE"
        )
      ) {
        throw error;
      }
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Topic ${topic} has no leader for every partition after ${TOPIC_PROPAGATION_MS / 1000} s.`,
      );
    }
    await sleep(100);
  }
}
