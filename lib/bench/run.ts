/**
 * Runs the benchmark parts against the local stack (Kafka broker, moto S3, the project's Python
 * with DuckDB, the Kafka jars) and assembles the {@linkcode BenchReport}.
 *
 * Parts and their references (all measured in the same run):
 * - `producer`: the project's producer vs Kafka's Java ProducerPerformance, same broker, acks=all,
 *   compression, partitions and record values; gzip (the project default) and none.
 * - `consumer`: consumer → lake rows/s into a folder and into S3 (moto), in a child process,
 *   vs the target of 100,000 rows/s.
 * - `freshness`: produce → durable object p50/p99 at a stated `flushSeconds`, vs flush + 1 s.
 * - `memory`: the consumer's peak RSS at the small and the large size (1M and 10M rows).
 * - `query`: monthly OHLC (named analysis `ohlc`) over the large lake, Polars vs DuckDB.
 *
 * @module
 */

import { join } from "node:path";
import { DeleteBucketCommand } from "@aws-sdk/client-s3";
import { createKafka } from "../kafka/client.ts";
import { createTickProducer, produceTicks } from "../kafka/producer.ts";
import { FsStore } from "../lake/fs_store.ts";
import { S3Store } from "../lake/s3_store.ts";
import { type Logger, silentLogger } from "../log.ts";
import { venvBin } from "../ops/python_env.ts";
import { benchConsumer, type ConsumerFigure } from "./consumer.ts";
import { benchTicks, meanRecordBytes, writePayloadFile } from "./data.ts";
import { benchFreshness } from "./freshness.ts";
import { benchJavaProducer } from "./java_producer.ts";
import { readMachine } from "./machine.ts";
import { benchProducer } from "./producer.ts";
import { benchQuery } from "./query.ts";
import { type BenchReport, type Figure, formatNumber, ratioFigure } from "./report.ts";
import { BenchTopics } from "./topics.ts";

/** A part of the benchmark that `--skip` can leave out. */
export type BenchPart = "producer" | "consumer" | "freshness" | "memory" | "query";

/** Every {@linkcode BenchPart}, in the order they run. */
export const BENCH_PARTS: readonly BenchPart[] = [
  "producer",
  "consumer",
  "memory",
  "query",
  "freshness",
];

/** How big each part runs. */
export interface BenchSizes {
  /** Records each producer (kafkajs and Java) sends per codec. */
  producerRecords: number;
  /** Rows of the consumer throughput runs and of the small memory run. */
  smallRows: number;
  /** Rows of the large memory run and of the query lake. */
  largeRows: number;
  /** The sink's age trigger in the freshness run, seconds. */
  flushSeconds: number;
  /** Ticks per second in the freshness run. */
  freshnessRate: number;
  /** Seconds of producing in the freshness run. */
  freshnessSeconds: number;
  /** Timed query runs per engine. */
  queryRuns: number;
}

/** The full run: 1M and 10M rows (10-20 minutes on 2 cores). */
export const FULL_SIZES: BenchSizes = {
  producerRecords: 1_000_000,
  smallRows: 1_000_000,
  largeRows: 10_000_000,
  flushSeconds: 5,
  freshnessRate: 2_000,
  freshnessSeconds: 30,
  queryRuns: 5,
};

/** The CI-sized run (`--quick`): under 3 minutes on 2 cores; proves the bench works. */
export const QUICK_SIZES: BenchSizes = {
  producerRecords: 100_000,
  smallRows: 200_000,
  largeRows: 500_000,
  flushSeconds: 2,
  freshnessRate: 1_000,
  freshnessSeconds: 10,
  queryRuns: 3,
};

/** Options of {@linkcode runBench}. */
export interface RunBenchOptions {
  /** Run the CI-sized variant. @default false */
  quick?: boolean;
  /** Parts to leave out. @default [] */
  skip?: BenchPart[];
  /** Override sizes (tests). @default FULL_SIZES or QUICK_SIZES */
  sizes?: Partial<BenchSizes>;
  /** Bootstrap servers. @default env KAFKA_BROKERS or "127.0.0.1:9092" */
  brokers?: string[];
  /** S3 emulator endpoint for the S3 consumer run. @default env AWS_ENDPOINT_URL */
  s3Endpoint?: string;
  /** A Python with duckdb. @default the project's venv (`.cache/venv/bin/python`) */
  python?: string;
  /** Folder of the Kafka jars. @default ".cache/kafka/jars" */
  jarsDir?: string;
  /** Where progress goes. @default silentLogger */
  logger?: Logger;
}

/** Raised for settings the benchmark cannot run with; says what to provide. */
export class BenchSetupError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BenchSetupError";
  }
}

const FILL_CHUNK = 500_000;
const JAVA_NAME = "Java ProducerPerformance";
const CONSUMER_TARGET = 100_000;

/**
 * Runs the benchmark and returns the report (nothing is asserted about speed: `met` says whether
 * each target was reached).
 *
 * @example
 * ```ts ignore
 * import { runBench } from "./run.ts";
 * import { formatReport } from "./report.ts";
 * console.log(formatReport(await runBench({ quick: true })));
 * ```
 * @throws {BenchSetupError} when a needed service or setting is missing.
 */
export async function runBench(options: RunBenchOptions = {}): Promise<BenchReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const quick = options.quick ?? false;
  const sizes = { ...(quick ? QUICK_SIZES : FULL_SIZES), ...options.sizes };
  const skip = new Set(options.skip ?? []);
  const runs = (part: BenchPart) => !skip.has(part);
  const logger = options.logger ?? silentLogger;
  const brokers = options.brokers ??
    (Deno.env.get("KAFKA_BROKERS") ?? "127.0.0.1:9092").split(",").map((b) => b.trim());
  const s3Endpoint = options.s3Endpoint ?? Deno.env.get("AWS_ENDPOINT_URL");
  if (runs("consumer") && !s3Endpoint) {
    throw new BenchSetupError(
      "The consumer part writes to S3 too and needs AWS_ENDPOINT_URL (e.g. http://127.0.0.1:5000 " +
        "with `deno task up`), or skip it with --skip consumer.",
    );
  }
  const kafka = createKafka({ brokers, logger });
  const run = Date.now().toString(36);
  const figures: Figure[] = [];
  const record = (...measured: Figure[]) => {
    for (const f of measured) {
      figures.push(f);
      logger.info(
        `  ${f.label}: ${formatNumber(f.value)} ${f.unit} vs ${
          formatNumber(f.reference.value)
        } (${f.reference.name}) = ${f.ratio.toFixed(2)}×`,
      );
    }
  };
  const settings: Record<string, unknown> = { sizes, brokers, partitions: 3 };
  const scratch = await Deno.makeTempDir({ prefix: "bench_" });
  await using topics = new BenchTopics(kafka, run);
  try {
    const recordBytes = meanRecordBytes();
    settings.recordBytes = Math.round(recordBytes);

    if (runs("producer")) {
      const payloadFile = join(scratch, "payload.txt");
      await writePayloadFile(payloadFile);
      settings.producer = {
        acks: "all",
        kafkajs:
          "createTickProducer (idempotent, 1 in flight), batchSize 1000, linger 20 ms, key=symbol",
        java: "ProducerPerformance defaults (idempotent, 5 in flight, batch.size 16384), no key, " +
          "--payload-file of the same tick JSON",
      };
      for (const compression of ["gzip", "none"] as const) {
        logger.info(`producer (${compression}): ${sizes.producerRecords} records, kafkajs…`);
        const ours = await benchProducer(kafka, {
          topic: await topics.create(`producer-${compression}`),
          records: sizes.producerRecords,
          compression,
        });
        logger.info(`producer (${compression}): Java ProducerPerformance…`);
        const java = await benchJavaProducer({
          brokers,
          topic: await topics.create(`java-${compression}`),
          records: sizes.producerRecords,
          compression,
          payloadFile,
          recordBytes,
          jarsDir: options.jarsDir,
        });
        const name = `${JAVA_NAME}, ${compression}`;
        record(
          ratioFigure({
            id: `producer.${compression}.records_per_sec`,
            label: `Producer, ${compression}, acks=all`,
            value: ours.recordsPerSec,
            unit: "records/s",
            reference: { name, value: java.recordsPerSec },
            atLeast: 0.5,
          }),
          ratioFigure({
            id: `producer.${compression}.mb_per_sec`,
            label: `Producer, ${compression}, acks=all (${Math.round(recordBytes)} B values)`,
            value: ours.mbPerSec,
            unit: "MB/s",
            reference: { name, value: java.mbPerSec },
            atLeast: 0.5,
          }),
        );
      }
    }

    const needsData = runs("consumer") || runs("memory") || runs("query");
    const dataRows = runs("memory") || runs("query") ? sizes.largeRows : sizes.smallRows;
    let dataTopic = "";
    if (needsData) {
      dataTopic = await topics.create("data");
      logger.info(`filling ${dataTopic} with ${dataRows} ticks…`);
      const producer = createTickProducer(kafka);
      await producer.connect();
      try {
        // In chunks: produceTicks' batching keeps memory per message until its source ends
        // (see the report), which runs out of heap near 10M messages in one call.
        const ticks = benchTicks(dataRows);
        let sent = 0;
        const fillStarted = performance.now();
        while (sent < dataRows) {
          const chunk = take(ticks, Math.min(FILL_CHUNK, dataRows - sent));
          sent += (await produceTicks(producer, chunk, { topic: dataTopic })).sent;
        }
        settings.fill = {
          rows: sent,
          seconds: Math.round((performance.now() - fillStarted) / 1000),
        };
      } finally {
        await producer.disconnect();
      }
    }
    let groupCount = 0;
    const consume = (lake: string, rows: number, env?: Record<string, string>) => {
      logger.info(`consumer: ${rows} rows → ${lake}…`);
      return benchConsumer({
        brokers,
        topic: dataTopic,
        group: `bench-${run}-g${++groupCount}`,
        lake,
        rows,
        env,
      });
    };

    let small: ConsumerFigure | undefined;
    if (runs("consumer") || runs("memory")) {
      small = await consume(join(scratch, "lake-small"), sizes.smallRows);
    }
    let large: ConsumerFigure | undefined;
    const largeLake = join(scratch, "lake-large");
    if (runs("memory") || runs("query")) large = await consume(largeLake, sizes.largeRows);

    if (runs("consumer")) {
      const s3 = await consumeToS3(sizes.smallRows, s3Endpoint!, run, consume);
      settings.consumer = {
        flushRows: 50_000,
        format: "parquet (snappy)",
        process: "child deno process",
        rate: "rows / (last commit − first message)",
        runs: { local: small, s3 },
      };
      record(
        consumerFigure(
          "consumer.local.rows_per_sec",
          "Consumer → lake, local folder",
          small!,
          sizes.smallRows,
        ),
        consumerFigure(
          "consumer.s3.rows_per_sec",
          "Consumer → lake, S3 (moto)",
          s3,
          sizes.smallRows,
        ),
      );
    }
    if (runs("memory")) {
      record(
        ratioFigure({
          id: "memory.peak_rss_large",
          label: `Consumer peak RSS at ${millions(sizes.largeRows)} rows`,
          value: large!.peakRss / 1024 ** 2,
          unit: "MiB",
          reference: {
            name: `peak RSS at ${millions(sizes.smallRows)} rows`,
            value: small!.peakRss / 1024 ** 2,
          },
          atMost: 1.25,
        }),
      );
      settings.memory = {
        sampling: "/proc/<pid>/status VmHWM (and VmRSS every 100 ms)",
        runs: { small, large },
      };
    }
    if (runs("query")) {
      const python = options.python ?? venvBin("python");
      logger.info(`query: monthly OHLC over ${large!.rows} rows, Polars vs DuckDB…`);
      const query = await benchQuery({ lakeDir: largeLake, python, runs: sizes.queryRuns });
      settings.query = { analysis: "ohlc, interval month", rows: query.rows, groups: query.groups };
      record(ratioFigure({
        id: "query.ohlc_month_ms",
        label: `Monthly OHLC over ${millions(query.rows)} rows (median of ${query.runs})`,
        value: query.polarsMs,
        unit: "ms",
        reference: { name: "DuckDB", value: query.duckdbMs },
        atMost: 1.5,
      }));
    }
    if (runs("freshness")) {
      logger.info(
        `freshness: ${sizes.freshnessRate}/s for ${sizes.freshnessSeconds} s, flush every ${sizes.flushSeconds} s…`,
      );
      const fresh = await benchFreshness(kafka, {
        topic: await topics.create("freshness"),
        group: `bench-${run}-fresh`,
        store: new FsStore(join(scratch, "lake-fresh")),
        flushSeconds: sizes.flushSeconds,
        rate: sizes.freshnessRate,
        durationSeconds: sizes.freshnessSeconds,
        brokers,
      });
      settings.freshness = {
        flushSeconds: fresh.flushSeconds,
        rate: fresh.rate,
        rows: fresh.rows,
        maxMs: Math.round(fresh.maxMs),
      };
      const bound = {
        name: `flush ${sizes.flushSeconds} s + 1 s`,
        value: (sizes.flushSeconds + 1) * 1000,
      };
      record(
        ratioFigure({
          id: "freshness.p50_ms",
          label: `Freshness p50 (produce → durable), flush ${sizes.flushSeconds} s`,
          value: fresh.p50Ms,
          unit: "ms",
          reference: bound,
          atMost: 1,
        }),
        ratioFigure({
          id: "freshness.p99_ms",
          label: `Freshness p99 (produce → durable), flush ${sizes.flushSeconds} s`,
          value: fresh.p99Ms,
          unit: "ms",
          reference: bound,
          atMost: 1,
        }),
      );
    }
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  return {
    quick,
    startedAt,
    durationMs: performance.now() - started,
    machine: await readMachine(),
    settings,
    figures,
    skipped: BENCH_PARTS.filter((p) => skip.has(p)),
  };
}

function consumerFigure(
  id: string,
  label: string,
  figure: ConsumerFigure,
  requested: number,
): Figure {
  return ratioFigure({
    id,
    label: `${label}, ${millions(requested)} rows`,
    value: figure.rowsPerSec,
    unit: "rows/s",
    reference: { name: "target", value: CONSUMER_TARGET },
    atLeast: 1,
  });
}

async function consumeToS3(
  rows: number,
  endpoint: string,
  run: string,
  consume: (lake: string, rows: number, env?: Record<string, string>) => Promise<ConsumerFigure>,
): Promise<ConsumerFigure> {
  const bucket = `bench-${run}-${crypto.randomUUID().slice(0, 8)}`;
  const store = new S3Store({
    bucket,
    endpoint,
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
  });
  await store.ensureBucket();
  try {
    return await consume(`s3://${bucket}/lake`, rows, {
      ...Deno.env.toObject(),
      AWS_ENDPOINT_URL: endpoint,
    });
  } finally {
    for await (const { key } of store.list("")) await store.delete(key);
    await store.client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    store.close();
  }
}

/** The next `n` items of `iterator`, without closing it. */
function* take<T>(iterator: Iterator<T>, n: number): Generator<T> {
  for (let i = 0; i < n; i++) {
    const next = iterator.next();
    if (next.done) return;
    yield next.value;
  }
}

function millions(rows: number): string {
  return rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
}
