/**
 * The reference producer: Kafka's own producer perf test (`org.apache.kafka.tools.ProducerPerformance`
 * from `kafka-tools`, Java client) run against the same broker, with the same acks, compression,
 * topic partitions and record values (a `--payload-file` of benchmark ticks).
 *
 * @module
 */

import { type ProducerFigure, producerFigure } from "./producer.ts";
import { runKafkaTool } from "./java_tool.ts";
import type { Compression } from "../kafka/producer.ts";

/** The summary line ProducerPerformance prints at the end, parsed. */
export interface ProducerPerformanceSummary {
  /** Records sent. */
  records: number;
  /** Records per second. */
  recordsPerSec: number;
  /** MB/s as the tool prints it (MiB of payload per second). */
  mibPerSec: number;
  /** Mean latency, ms. */
  avgLatencyMs: number;
  /** 99th percentile latency, ms. */
  p99LatencyMs: number;
}

/** Raised when the Java reference cannot run or its output cannot be read; says what to do. */
export class JavaProducerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "JavaProducerError";
  }
}

const SUMMARY =
  /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, [\d.]+ ms max latency, \d+ ms 50th, \d+ ms 95th, (\d+) ms 99th/;

/**
 * Finds the final summary line in ProducerPerformance's output (it also prints interim lines
 * every 5 s; those say "records/sec" too but lack the percentiles).
 *
 * @example
 * ```ts
 * import { parseProducerPerformance } from "./java_producer.ts";
 * parseProducerPerformance(
 *   "200000 records sent, 86843.2 records/sec (15.74 MB/sec), 554.21 ms avg latency, " +
 *     "829.00 ms max latency, 704 ms 50th, 794 ms 95th, 816 ms 99th, 826 ms 99.9th.",
 * ).recordsPerSec; // 86843.2
 * ```
 * @throws {JavaProducerError} when there is no summary line.
 */
export function parseProducerPerformance(output: string): ProducerPerformanceSummary {
  const match = output.match(SUMMARY);
  if (!match) {
    throw new JavaProducerError(
      `ProducerPerformance printed no summary line; its output ends with: ${
        output.trim().slice(-500) || "(nothing)"
      }`,
    );
  }
  return {
    records: Number(match[1]),
    recordsPerSec: Number(match[2]),
    mibPerSec: Number(match[3]),
    avgLatencyMs: Number(match[4]),
    p99LatencyMs: Number(match[5]),
  };
}

/** Options of {@linkcode benchJavaProducer}. */
export interface JavaProducerOptions {
  /** Bootstrap servers. */
  brokers: string[];
  /** An existing, empty topic with the same partitions as the kafkajs run's. */
  topic: string;
  /** Records to send. */
  records: number;
  /** Compression, the same as the kafkajs run's. */
  compression: Compression;
  /** File of record values, one per line (see `writePayloadFile`). */
  payloadFile: string;
  /** Mean size of those values in bytes, for MB/s computed like the kafkajs figure. */
  recordBytes: number;
  /** Folder of the Kafka jars (kafka-tools and its dependencies). @default ".cache/kafka/jars" */
  jarsDir?: string;
  /** The java program. @default "java" */
  java?: string;
  /**
   * More producer properties, e.g. `{ "batch.size": "190000", "linger.ms": "20" }` to match our
   * side's batching (see {@linkcode matchedJavaProps}). @default {} (the tool's defaults)
   */
  producerProps?: Record<string, string>;
}

/**
 * The Java producer's properties that match our producer's settings: idempotent (which implies
 * acks=all), a batch of `batchSize` records of `recordBytes` (Java counts bytes per partition),
 * the same linger, and one request in flight per connection (kafkajs' idempotent producer sends one
 * request per broker at a time).
 *
 * @example
 * ```ts
 * import { matchedJavaProps } from "./java_producer.ts";
 * matchedJavaProps({ batchSize: 1000, recordBytes: 190, lingerMs: 20 })["batch.size"]; // "190000"
 * ```
 */
export function matchedJavaProps(
  options: { batchSize: number; recordBytes: number; lingerMs: number },
): Record<string, string> {
  return {
    "enable.idempotence": "true",
    "batch.size": String(Math.round(options.batchSize * options.recordBytes)),
    "linger.ms": String(options.lingerMs),
    "max.in.flight.requests.per.connection": "1",
  };
}

/**
 * Runs ProducerPerformance with acks=all and the given compression, and returns the figure in the
 * same units as the kafkajs one (the tool's own MB/s is MiB, ours MB).
 *
 * @throws {JavaProducerError} when java or kafka-tools is missing, or the tool fails.
 */
export async function benchJavaProducer(options: JavaProducerOptions): Promise<ProducerFigure> {
  const args = [
    "--topic",
    options.topic,
    "--num-records",
    String(options.records),
    "--payload-file",
    options.payloadFile,
    "--throughput",
    "-1",
    "--producer-props",
    `bootstrap.servers=${options.brokers.join(",")}`,
    "acks=all",
    `compression.type=${options.compression}`,
    ...Object.entries(options.producerProps ?? {}).map(([key, value]) => `${key}=${value}`),
  ];
  const text = await runKafkaTool("org.apache.kafka.tools.ProducerPerformance", args, {
    jarsDir: options.jarsDir,
    java: options.java,
    error: (message) => new JavaProducerError(message),
  });
  const summary = parseProducerPerformance(text);
  const elapsedMs = (summary.records / summary.recordsPerSec) * 1000;
  return producerFigure(summary.records, elapsedMs, options.recordBytes);
}
