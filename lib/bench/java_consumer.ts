/**
 * The reference consumer: Kafka's own consumer perf test (`org.apache.kafka.tools.ConsumerPerformance`
 * from `kafka-tools`, Java client) reading the same topic from the same broker with the same fetch
 * sizes as the lake consumer (`max.partition.fetch.bytes` 256 KiB, `fetch.max.bytes` 32 MiB), in a
 * fresh group from the beginning. It only counts the records; the lake consumer also decodes,
 * validates, encodes Parquet and writes objects.
 *
 * @module
 */

import { join } from "node:path";
import { runKafkaTool } from "./java_tool.ts";

/** What ConsumerPerformance measured. */
export interface JavaConsumerFigure {
  /** Records consumed. */
  records: number;
  /** Records per second over the fetch time (group join excluded, like our steady rate). */
  recordsPerSec: number;
  /** Records per second including the group join (the tool's `nMsg.sec`). */
  recordsPerSecWithStartup: number;
  /** Group join time, ms. */
  rebalanceMs: number;
}

/** Raised when ConsumerPerformance cannot run or its output cannot be read; says what to do. */
export class JavaConsumerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "JavaConsumerError";
  }
}

/**
 * Reads ConsumerPerformance's result (the line after its `start.time, end.time, …` header).
 *
 * @example
 * ```ts
 * import { parseConsumerPerformance } from "./java_consumer.ts";
 * parseConsumerPerformance(
 *   "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, " +
 *     "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n" +
 *     "2026-11-30 05:55:13:169, 2026-11-30 05:55:18:646, 186.1, 33.9, 1000000, 182581.7, 857, " +
 *     "4620, 40.3, 216450.2\n",
 * ).recordsPerSec; // 216450.2
 * ```
 * @throws {JavaConsumerError} when there is no result line.
 */
export function parseConsumerPerformance(output: string): JavaConsumerFigure {
  const lines = output.trim().split("\n").map((l) => l.split(",").map((c) => c.trim()));
  const at = lines.findIndex((cells) => cells[0] === "start.time");
  const header = lines[at] ?? [];
  const values = lines[at + 1];
  const field = (name: string) => Number(values?.[header.indexOf(name)]);
  const figure = {
    records: field("data.consumed.in.nMsg"),
    recordsPerSec: field("fetch.nMsg.sec"),
    recordsPerSecWithStartup: field("nMsg.sec"),
    rebalanceMs: field("rebalance.time.ms"),
  };
  if (at < 0 || !values || !Number.isFinite(figure.records) || !(figure.recordsPerSec > 0)) {
    throw new JavaConsumerError(
      `ConsumerPerformance printed no result line; its output ends with: ${
        output.trim().slice(-500) || "(nothing)"
      }`,
    );
  }
  return figure;
}

/** Options of {@linkcode benchJavaConsumer}. */
export interface JavaConsumerOptions {
  /** Bootstrap servers. */
  brokers: string[];
  /** A topic holding at least `records` records. */
  topic: string;
  /** A fresh group (it reads from the earliest offset). */
  group: string;
  /** Records to consume. */
  records: number;
  /** A scratch folder for the consumer config file. */
  scratch: string;
  /** `max.partition.fetch.bytes`, as the lake consumer's `maxBytesPerPartition`. @default 256 KiB */
  maxBytesPerPartition?: number;
  /** `fetch.max.bytes`, as the lake consumer's `maxBytes`. @default 32 MiB */
  maxBytes?: number;
  /** Folder of the Kafka jars. @default ".cache/kafka/jars" */
  jarsDir?: string;
}

/**
 * Runs ConsumerPerformance on `topic` and returns its rate.
 *
 * @throws {JavaConsumerError} when java or kafka-tools is missing, or the tool fails.
 */
export async function benchJavaConsumer(options: JavaConsumerOptions): Promise<JavaConsumerFigure> {
  const config = join(options.scratch, `consumer-${options.group}.properties`);
  await Deno.writeTextFile(
    config,
    [
      `fetch.max.bytes=${options.maxBytes ?? 32 * 1024 * 1024}`,
      "auto.offset.reset=earliest",
    ].join("\n") + "\n",
  );
  const text = await runKafkaTool("org.apache.kafka.tools.ConsumerPerformance", [
    "--bootstrap-server",
    options.brokers.join(","),
    "--topic",
    options.topic,
    "--group",
    options.group,
    "--messages",
    String(options.records),
    "--fetch-size",
    String(options.maxBytesPerPartition ?? 256 * 1024),
    "--timeout",
    "30000",
    "--consumer.config",
    config,
  ], { jarsDir: options.jarsDir, error: (message) => new JavaConsumerError(message) });
  return parseConsumerPerformance(text);
}
