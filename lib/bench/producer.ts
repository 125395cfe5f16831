/**
 * Producer throughput of the project's producer (`produceTicksInWorkers`, as `deno task produce`
 * runs it: kafkajs producer workers, acks=all, idempotent) on benchmark ticks generated before the
 * clock starts, so the figure covers encoding, batching, compression and the round trips to the
 * broker, not the simulator.
 *
 * @module
 */

import type { KafkaClientOptions } from "../kafka/client.ts";
import type { Compression } from "../kafka/producer.ts";
import { DEFAULT_PRODUCER_WORKERS, produceTicksInWorkers } from "../kafka/producer_workers.ts";
import type { Tick } from "../tick.ts";
import { benchTicks, meanRecordBytes } from "./data.ts";
import { perSecond } from "./stats.ts";

/** A producer throughput figure. */
export interface ProducerFigure {
  /** Records acknowledged. */
  records: number;
  /** Time from the first send to the last acknowledgement, ms. */
  elapsedMs: number;
  /** Records per second. */
  recordsPerSec: number;
  /** Record values per second in MB (10⁶ bytes): records/s × mean value size. */
  mbPerSec: number;
}

/** Options of {@linkcode benchProducer}. */
export interface ProducerBenchOptions {
  /** An existing, empty topic. */
  topic: string;
  /** Records to send. */
  records: number;
  /** Batch compression (the Java reference must use the same). */
  compression: Compression;
  /** Most records of one partition per request. @default 1000 (produceTicks' default) */
  batchSize?: number;
  /** Wait for a batch to fill, ms. @default 20 (produceTicks' default) */
  lingerMs?: number;
  /** Producer workers. @default DEFAULT_PRODUCER_WORKERS */
  workers?: number;
}

/**
 * Sends `records` benchmark ticks with the project's producer and measures the rate.
 *
 * @example
 * ```ts ignore
 * import { benchProducer } from "./producer.ts";
 * const figure = await benchProducer({ brokers: ["127.0.0.1:9092"] }, {
 *   topic: "bench-x-producer", records: 100_000, compression: "gzip",
 * });
 * ```
 */
export async function benchProducer(
  client: KafkaClientOptions,
  options: ProducerBenchOptions,
): Promise<ProducerFigure> {
  const ticks: Tick[] = [...benchTicks(options.records)];
  const result = await produceTicksInWorkers(ticks, {
    client,
    topic: options.topic,
    compression: options.compression,
    batchSize: options.batchSize,
    lingerMs: options.lingerMs,
    workers: options.workers ?? DEFAULT_PRODUCER_WORKERS,
  });
  // From the first send to the last acknowledgement (the workers connect before), as the Java
  // tool times its send loop.
  return producerFigure(result.sent, result.elapsedMs, meanRecordBytes());
}

/**
 * Builds a {@linkcode ProducerFigure} from a record count, a duration and the mean value size.
 *
 * @example
 * ```ts
 * import { producerFigure } from "./producer.ts";
 * producerFigure(100_000, 2_000, 200).mbPerSec; // 10
 * ```
 */
export function producerFigure(
  records: number,
  elapsedMs: number,
  recordBytes: number,
): ProducerFigure {
  const recordsPerSec = perSecond(records, elapsedMs);
  return { records, elapsedMs, recordsPerSec, mbPerSec: (recordsPerSec * recordBytes) / 1e6 };
}
