/**
 * Sends ticks to Kafka: key = symbol (so one symbol's ticks stay ordered in one partition),
 * value = the tick's JSON wire form, acks from all in-sync replicas, idempotent, batched and
 * compressed.
 *
 * Each request carries one partition. kafkajs 2.2.4 loses messages otherwise when a broker dies
 * mid-send (kafkajs#1303): a send to several leaders remembers which brokers answered, and when
 * the dead leader's partitions move to a broker that already answered for its own partitions, the
 * retry never sends them, yet the send resolves as acknowledged. With one partition per send the
 * retry goes to the new leader, and the idempotent producer's sequence numbers make it land once.
 *
 * @module
 */

import {
  CompressionTypes,
  type Kafka,
  type Message,
  Partitioners,
  type PartitionMetadata,
  type Producer,
} from "kafkajs";
import type { Tick } from "../tick.ts";
import { batches } from "./batches.ts";
import { isConnectionError, KafkaUnavailableError } from "./client.ts";
import { encodeTicks, tickMessages } from "./tick_batch.ts";

/** Compression codecs kafkajs supports without extra packages. */
export type Compression = "gzip" | "none";

/**
 * How a send retries. kafkajs gives every producer the client's retries (5, about 6 s in all),
 * less than a leader failover takes on a multi-broker cluster: a SIGKILLed leader is fenced after
 * `broker.session.timeout.ms` (9 s) before a new one is elected, and until then sends fail with
 * connection errors; on 2 busy cores the drill test measured 8 to 21 s from kill to next ack.
 * 12 retries at up to 5 s apart wait about 40 s, then fail with an error. Retrying is safe: the
 * idempotent producer re-sends a batch with its sequence numbers, so the broker drops a batch it
 * already has.
 */
export const PRODUCER_RETRY = { retries: 12, initialRetryTime: 200, maxRetryTime: 5000 } as const;

/**
 * Creates an idempotent producer (acks=all is implied) with the Java client's partitioner, whose
 * sends ride out a broker failover ({@linkcode PRODUCER_RETRY}).
 */
export function createTickProducer(kafka: Kafka): Producer {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { ...PRODUCER_RETRY },
  });
  clients.set(producer, { kafka, partitions: new Map() });
  return producer;
}

/** The client of each producer {@linkcode createTickProducer} made, and its topics' partition counts. */
const clients = new WeakMap<Producer, { kafka: Kafka; partitions: Map<string, number> }>();

/**
 * The partition count of `topic`, read once per producer of {@linkcode createTickProducer};
 * `undefined` for another producer.
 */
async function partitionCount(producer: Producer, topic: string): Promise<number | undefined> {
  const client = clients.get(producer);
  if (client === undefined) return undefined;
  const known = client.partitions.get(topic);
  if (known !== undefined) return known;
  const count = await topicPartitionCount(client.kafka, topic);
  if (count !== undefined) client.partitions.set(topic, count);
  return count;
}

/** The partition count of an existing `topic`, read from the brokers' metadata; `undefined` if none. */
export async function topicPartitionCount(
  kafka: Kafka,
  topic: string,
): Promise<number | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length ?? 0;
    return count > 0 ? count : undefined;
  } catch (error) {
    if ((error as { type?: string }).type === "UNKNOWN_TOPIC_OR_PARTITION") return undefined;
    throw error;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The partition of each key on a topic of `partitions` partitions, by the producer's partitioner
 * (murmur2 of the key, as the Java client), computed once per key.
 *
 * @example
 * ```ts
 * import { keyPartitioner } from "./producer.ts";
 * const partitionOf = keyPartitioner("stock_market", 3);
 * partitionOf("NYA") === partitionOf("NYA"); // true
 * ```
 */
export function keyPartitioner(topic: string, partitions: number): (key: string) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from(
    { length: partitions },
    (_, partitionId) => ({ partitionId, leader: 0 }) as PartitionMetadata,
  );
  const known = new Map<string, number>();
  return (key) => {
    let partition = known.get(key);
    if (partition === undefined) {
      partition = partitioner({ topic, partitionMetadata, message: { key, value: null } });
      known.set(key, partition);
    }
    return partition;
  };
}

/**
 * Splits ticks by the partition the producer's partitioner gives their symbol (see
 * {@linkcode keyPartitioner}), in order: partition → its ticks.
 */
function ticksByPartition(
  ticks: readonly Tick[],
  partitionOf: (key: string) => number,
): Map<number, Tick[]> {
  const groups = new Map<number, Tick[]>();
  for (const tick of ticks) {
    const partition = partitionOf(tick.symbol);
    const group = groups.get(partition);
    if (group === undefined) groups.set(partition, [tick]);
    else group.push(tick);
  }
  return groups;
}

/**
 * Splits messages by the partition the producer's partitioner (murmur2 of the key, as the Java
 * client) gives them on a topic of `partitions` partitions, each message marked with it
 * (notebook `01_kafka_producer` shows where each symbol went with it).
 *
 * @example
 * ```ts
 * import { byPartition } from "./producer.ts";
 * const groups = byPartition([{ key: "NYA", value: "{}" }], "stock_market", 3);
 * groups[0][0].partition; // NYA's partition
 * ```
 */
export function byPartition(messages: Message[], topic: string, partitions: number): Message[][] {
  const partitionOf = keyPartitioner(topic, partitions);
  const groups = new Map<number, Message[]>();
  for (const message of messages) {
    const partition = partitionOf(String(message.key));
    const group = groups.get(partition) ?? [];
    group.push({ ...message, partition });
    groups.set(partition, group);
  }
  return [...groups.values()];
}

/** Counters reported while producing. */
export interface ProduceProgress {
  /** Messages acknowledged by the broker so far. */
  sent: number;
  /** Payload bytes acknowledged so far (keys and values). */
  bytes: number;
  /** Time since the first send started. */
  elapsedMs: number;
  /** The most recent tick acknowledged. */
  last?: Tick;
}

/** Options of {@linkcode produceTicks}. */
export interface ProduceOptions {
  /** Destination topic (it must exist: see `ensureTopic`). */
  topic: string;
  /** Most messages per request. @default 1000 */
  batchSize?: number;
  /** Longest wait for a batch to fill before sending it. @default 20 */
  lingerMs?: number;
  /** Batch compression. @default "gzip" */
  compression?: Compression;
  /** Called after every acknowledged batch. */
  onProgress?: (progress: ProduceProgress) => void;
  /** Stops reading the source; what was read is still sent. */
  signal?: AbortSignal;
  /** Bootstrap servers, for error messages. */
  brokers?: string[];
}

/** What {@linkcode produceTicks} did. */
export interface ProduceResult extends ProduceProgress {
  /** True when the signal stopped it before the source ended. */
  stopped: boolean;
}

/**
 * Sends every tick of `ticks` and resolves once all are acknowledged.
 *
 * @example
 * ```ts
 * import { createKafka } from "./client.ts";
 * import { createTickProducer, produceTicks } from "./producer.ts";
 * const producer = createTickProducer(createKafka({ brokers: ["localhost:9092"] }));
 * await producer.connect();
 * await produceTicks(producer, [], { topic: "stock_market" });
 * await producer.disconnect();
 * ```
 * @throws {KafkaUnavailableError} when the brokers cannot be reached.
 */
export async function produceTicks(
  producer: Producer,
  ticks: AsyncIterable<Tick> | Iterable<Tick>,
  options: ProduceOptions,
): Promise<ProduceResult> {
  const compression = options.compression === "none"
    ? CompressionTypes.None
    : CompressionTypes.GZIP;
  const started = performance.now();
  const progress: ProduceProgress = { sent: 0, bytes: 0, elapsedMs: 0 };
  const source = batches(ticks, {
    size: options.batchSize ?? 1000,
    lingerMs: options.lingerMs ?? 20,
    signal: options.signal,
  });
  try {
    const partitions = await partitionCount(producer, options.topic);
    const partitionOf = partitions === undefined
      ? undefined
      : keyPartitioner(options.topic, partitions);
    for await (const batch of source) {
      // Each partition's ticks encoded once into one byte array (see tick_batch.ts).
      const groups = partitionOf === undefined
        ? [[undefined, batch] as const]
        : [...ticksByPartition(batch, partitionOf)];
      let bytes = 0;
      const requests = groups.map(([partition, group]) => {
        const encoded = encodeTicks(group);
        bytes += encoded.bytes.length;
        return tickMessages(encoded, partition);
      });
      // One send per partition, all at once (see the module doc); the batch counts once every
      // partition's send is acknowledged, and no send is left running when one fails.
      const sends = await Promise.allSettled(
        requests.map((messages) =>
          producer.send({ topic: options.topic, acks: -1, compression, messages })
        ),
      );
      const failed = sends.find((s): s is PromiseRejectedResult => s.status === "rejected");
      if (failed) throw failed.reason;
      progress.sent += batch.length;
      progress.bytes += bytes;
      progress.last = batch[batch.length - 1];
      progress.elapsedMs = performance.now() - started;
      options.onProgress?.(progress);
    }
  } catch (error) {
    if (isConnectionError(error)) throw new KafkaUnavailableError(options.brokers ?? [], error);
    throw error;
  }
  progress.elapsedMs = performance.now() - started;
  return { ...progress, stopped: options.signal?.aborted ?? false };
}
