/**
 * Sends ticks to Kafka: key = symbol (so one symbol's ticks stay ordered in one partition),
 * value = the tick's JSON wire form, acks from all in-sync replicas, idempotent, batched and
 * compressed.
 *
 * @module
 */

import { CompressionTypes, type Kafka, Partitioners, type Producer } from "kafkajs";
import { encodeTick, type Tick } from "../tick.ts";
import { batches } from "./batches.ts";
import { isConnectionError, KafkaUnavailableError } from "./client.ts";

/** Compression codecs kafkajs supports without extra packages. */
export type Compression = "gzip" | "none";

/** Creates an idempotent producer (acks=all is implied) with the Java client's partitioner. */
export function createTickProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
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
    for await (const batch of source) {
      let bytes = 0;
      const messages = batch.map((tick) => {
        const value = encodeTick(tick);
        bytes += value.length + tick.symbol.length;
        return { key: tick.symbol, value };
      });
      await producer.send({ topic: options.topic, acks: -1, compression, messages });
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
