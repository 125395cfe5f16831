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
 * - `csv`: CSV → ticks rows/s of the project's reader vs the same rows through npm `csv-parse`
 *   (no services needed).
 *
 * @module
 */

import { join } from "node:path";
import { DeleteBucketCommand } from "@aws-sdk/client-s3";
import type { Kafka } from "kafkajs";
import { DEFAULT_CONFIG } from "../config.ts";
import { createKafka } from "../kafka/client.ts";
import { createTickProducer, produceTicks } from "../kafka/producer.ts";
import { FsStore } from "../lake/fs_store.ts";
import { S3Store } from "../lake/s3_store.ts";
import { type Logger, silentLogger } from "../log.ts";
import { venvBin } from "../ops/local/python_env.ts";
import { benchConsumer, type ConsumerFigure } from "./consumer.ts";
import { benchCsv } from "./csv.ts";
import { benchTicks, meanRecordBytes, writePayloadFile } from "./data.ts";
import { benchFreshness } from "./freshness.ts";
import { benchJavaProducer } from "./java_producer.ts";
import { readMachine } from "./machine.ts";
import { benchProducer } from "./producer.ts";
import { benchCompaction } from "./compaction.ts";
import { benchQuery } from "./query.ts";
import { type BenchReport, type Figure, formatNumber, ratioFigure } from "./report.ts";
import { BenchTopics } from "./topics.ts";

/** A part of the benchmark that `--skip` can leave out. */
export type BenchPart =
  | "producer"
  | "consumer"
  | "freshness"
  | "memory"
  | "query"
  | "csv"
  | "compaction";

/** Every {@linkcode BenchPart}, in the order they run. */
export const BENCH_PARTS: readonly BenchPart[] = [
  "csv",
  "producer",
  "consumer",
  "memory",
  "query",
  "compaction",
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
  /** Timed runs of each CSV reader over the CSV file. */
  csvRuns: number;
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
  csvRuns: 7,
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
  csvRuns: 3,
};

/** Options of {@linkcode runBench}. */
export interface RunBenchOptions {
  /** Run the CI-sized variant. @default false */
  quick?: boolean;
  /** Parts to leave out. @default [] */
  skip?: BenchPart[];
  /** Override sizes (tests). @default FULL_SIZES or QUICK_SIZES */
  sizes?: Partial<BenchSizes>;
  /** Bootstrap servers (`PipelineConfig.brokers`). @default ["localhost:9092"] */
  brokers?: string[];
  /** S3 emulator endpoint for the S3 consumer run (`PipelineConfig.endpoint`); needed by `consumer`. */
  s3Endpoint?: string;
  /** AWS region of the S3 consumer run (`PipelineConfig.region`). @default "us-east-1" */
  region?: string;
  /** The CSV file of the `csv` part. @default "data/stock_data.csv" */
  csvFile?: string;
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

/** One run of the benchmark: its settings, services, scratch folder and what it has measured. */
interface BenchRun {
  options: RunBenchOptions;
  sizes: BenchSizes;
  runs: (part: BenchPart) => boolean;
  logger: Logger;
  brokers: string[];
  kafka: Kafka;
  /** Unique id of this run, part of topic, group and bucket names. */
  id: string;
  scratch: string;
  topics: BenchTopics;
  settings: Record<string, unknown>;
  figures: Figure[];
  /** Consumer groups used so far (each consumer run reads from the beginning in a fresh one). */
  groups: number;
}

/** The consumer runs the later parts read: the small (1M) and the large (10M) lake. */
interface ConsumedLakes {
  dataTopic: string;
  small?: ConsumerFigure;
  large?: ConsumerFigure;
  largeLake: string;
}

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
  const skip = new Set(options.skip ?? []);
  if (!skip.has("consumer") && !options.s3Endpoint) {
    throw new BenchSetupError(
      "The consumer part writes to S3 too and needs AWS_ENDPOINT_URL (e.g. http://127.0.0.1:5000 " +
        "with `deno task up`), or skip it with --skip consumer.",
    );
  }
  const logger = options.logger ?? silentLogger;
  const brokers = options.brokers ?? [...DEFAULT_CONFIG.brokers];
  const kafka = createKafka({ brokers, logger });
  const id = Date.now().toString(36);
  const sizes = { ...(quick ? QUICK_SIZES : FULL_SIZES), ...options.sizes };
  const scratch = await Deno.makeTempDir({ prefix: "bench_" });
  await using topics = new BenchTopics(kafka, id);
  const bench: BenchRun = {
    options,
    sizes,
    runs: (part) => !skip.has(part),
    logger,
    brokers,
    kafka,
    id,
    scratch,
    topics,
    settings: { sizes, brokers, partitions: 3 },
    figures: [],
    groups: 0,
  };
  try {
    await runParts(bench);
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
  return {
    quick,
    startedAt,
    durationMs: performance.now() - started,
    machine: await readMachine(),
    settings: bench.settings,
    figures: bench.figures,
    skipped: BENCH_PARTS.filter((p) => skip.has(p)),
  };
}

/** Runs the parts that are not skipped, in the order of {@linkcode BENCH_PARTS}. */
async function runParts(bench: BenchRun): Promise<void> {
  const { runs } = bench;
  bench.settings.recordBytes = Math.round(meanRecordBytes());
  if (runs("csv")) await measureCsv(bench);
  if (runs("producer")) await measureProducers(bench);
  const lakes = await consumeLakes(bench);
  if (runs("consumer")) await measureConsumers(bench, lakes);
  if (runs("memory")) recordMemory(bench, lakes);
  if (runs("query")) await measureQuery(bench, lakes);
  if (runs("compaction")) await measureCompaction(bench);
  if (runs("freshness")) await measureFreshness(bench);
}

/** Adds figures to the report and logs each next to its reference. */
function record(bench: BenchRun, ...measured: Figure[]): void {
  for (const f of measured) {
    bench.figures.push(f);
    bench.logger.info(
      `  ${f.label}: ${formatNumber(f.value)} ${f.unit} vs ${
        formatNumber(f.reference.value)
      } (${f.reference.name}) = ${f.ratio.toFixed(2)}×`,
    );
  }
}

/** CSV → ticks: the project's reader vs csv-parse, median of `csvRuns` runs each. */
async function measureCsv(bench: BenchRun): Promise<void> {
  const file = bench.options.csvFile ?? "data/stock_data.csv";
  bench.logger.info(`csv: ${file}, ${bench.sizes.csvRuns} runs per reader…`);
  const csv = await benchCsv({ file, repeats: bench.sizes.csvRuns });
  bench.settings.csv = {
    file,
    rows: csv.rows,
    ours: "parseCsvTicks (streaming, own tokenizer)",
    reference: "csv-parse 7.0.3 (streaming, info + raw for rejects), same rowToTick",
    runs: csv.runs,
  };
  record(
    bench,
    ratioFigure({
      id: "csv.rows_per_sec",
      label: `CSV → ticks, ${file} (median of ${bench.sizes.csvRuns})`,
      value: csv.oursRowsPerSec,
      unit: "rows/s",
      reference: { name: "csv-parse", value: csv.csvParseRowsPerSec },
      atLeast: 1.5,
    }),
  );
}

/** The project's producer vs Java ProducerPerformance, with gzip and without compression. */
async function measureProducers(bench: BenchRun): Promise<void> {
  const { sizes, logger, topics } = bench;
  const recordBytes = meanRecordBytes();
  const payloadFile = join(bench.scratch, "payload.txt");
  await writePayloadFile(payloadFile);
  bench.settings.producer = {
    acks: "all",
    kafkajs:
      "createTickProducer (idempotent, 1 in flight), batchSize 1000, linger 20 ms, key=symbol",
    java: "ProducerPerformance defaults (idempotent, 5 in flight, batch.size 16384), no key, " +
      "--payload-file of the same tick JSON",
  };
  for (const compression of ["gzip", "none"] as const) {
    logger.info(`producer (${compression}): ${sizes.producerRecords} records, kafkajs…`);
    const ours = await benchProducer(bench.kafka, {
      topic: await topics.create(`producer-${compression}`),
      records: sizes.producerRecords,
      compression,
    });
    logger.info(`producer (${compression}): Java ProducerPerformance…`);
    const java = await benchJavaProducer({
      brokers: bench.brokers,
      topic: await topics.create(`java-${compression}`),
      records: sizes.producerRecords,
      compression,
      payloadFile,
      recordBytes,
      jarsDir: bench.options.jarsDir,
    });
    const name = `${JAVA_NAME}, ${compression}`;
    record(
      bench,
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

/**
 * Fills the data topic and consumes it into the local lakes the consumer, memory and query parts
 * read (nothing when all three are skipped).
 */
async function consumeLakes(bench: BenchRun): Promise<ConsumedLakes> {
  const { runs, sizes } = bench;
  const largeLake = join(bench.scratch, "lake-large");
  if (!runs("consumer") && !runs("memory") && !runs("query")) return { dataTopic: "", largeLake };
  const rows = runs("memory") || runs("query") ? sizes.largeRows : sizes.smallRows;
  const dataTopic = await fillDataTopic(bench, rows);
  const lakes: ConsumedLakes = { dataTopic, largeLake };
  if (runs("consumer") || runs("memory")) {
    lakes.small = await consume(
      bench,
      dataTopic,
      join(bench.scratch, "lake-small"),
      sizes.smallRows,
    );
  }
  if (runs("memory") || runs("query")) {
    lakes.large = await consume(bench, dataTopic, largeLake, sizes.largeRows);
  }
  return lakes;
}

/** Creates the data topic and sends `rows` benchmark ticks to it, in chunks. */
async function fillDataTopic(bench: BenchRun, rows: number): Promise<string> {
  const topic = await bench.topics.create("data");
  bench.logger.info(`filling ${topic} with ${rows} ticks…`);
  const producer = createTickProducer(bench.kafka);
  await producer.connect();
  try {
    // In chunks: produceTicks' batching keeps memory per message until its source ends
    // (see the report), which runs out of heap near 10M messages in one call.
    const ticks = benchTicks(rows);
    let sent = 0;
    const fillStarted = performance.now();
    while (sent < rows) {
      const chunk = take(ticks, Math.min(FILL_CHUNK, rows - sent));
      sent += (await produceTicks(producer, chunk, { topic })).sent;
    }
    bench.settings.fill = {
      rows: sent,
      seconds: Math.round((performance.now() - fillStarted) / 1000),
    };
  } finally {
    await producer.disconnect();
  }
  return topic;
}

/** One consumer child run from the beginning of `topic` into `lake`, in a fresh group. */
function consume(
  bench: BenchRun,
  topic: string,
  lake: string,
  rows: number,
  env?: Record<string, string>,
): Promise<ConsumerFigure> {
  bench.logger.info(`consumer: ${rows} rows → ${lake}…`);
  return benchConsumer({
    brokers: bench.brokers,
    topic,
    group: `bench-${bench.id}-g${++bench.groups}`,
    lake,
    rows,
    env,
  });
}

/** Consumer → lake rows/s into the local folder (already run) and into S3 (moto). */
async function measureConsumers(bench: BenchRun, lakes: ConsumedLakes): Promise<void> {
  const { sizes } = bench;
  const s3 = await consumeToS3(bench, lakes.dataTopic, sizes.smallRows);
  bench.settings.consumer = {
    flushRows: 50_000,
    format: "parquet (snappy)",
    process: "child deno process",
    rate: "rows / (last commit − first message)",
    runs: { local: lakes.small, s3 },
  };
  record(
    bench,
    consumerFigure(
      "consumer.local.rows_per_sec",
      "Consumer → lake, local folder",
      lakes.small!,
      sizes.smallRows,
    ),
    consumerFigure("consumer.s3.rows_per_sec", "Consumer → lake, S3 (moto)", s3, sizes.smallRows),
  );
}

/** Peak RSS of the large consumer run against the small one. */
function recordMemory(bench: BenchRun, lakes: ConsumedLakes): void {
  const { sizes } = bench;
  record(
    bench,
    ratioFigure({
      id: "memory.peak_rss_large",
      label: `Consumer peak RSS at ${millions(sizes.largeRows)} rows`,
      value: lakes.large!.peakRss / 1024 ** 2,
      unit: "MiB",
      reference: {
        name: `peak RSS at ${millions(sizes.smallRows)} rows`,
        value: lakes.small!.peakRss / 1024 ** 2,
      },
      atMost: 1.25,
    }),
  );
  bench.settings.memory = {
    sampling: "/proc/<pid>/status VmHWM (and VmRSS every 100 ms)",
    runs: { small: lakes.small, large: lakes.large },
  };
}

/** Monthly OHLC over the large lake, Polars vs DuckDB. */
async function measureQuery(bench: BenchRun, lakes: ConsumedLakes): Promise<void> {
  const python = bench.options.python ?? venvBin("python");
  bench.logger.info(`query: monthly OHLC over ${lakes.large!.rows} rows, Polars vs DuckDB…`);
  const query = await benchQuery({ lakeDir: lakes.largeLake, python, runs: bench.sizes.queryRuns });
  bench.settings.query = {
    analysis: "ohlc, interval month",
    rows: query.rows,
    groups: query.groups,
  };
  record(
    bench,
    ratioFigure({
      id: "query.ohlc_month_ms",
      label: `Monthly OHLC over ${millions(query.rows)} rows (median of ${query.runs})`,
      value: query.polarsMs,
      unit: "ms",
      reference: { name: "DuckDB", value: query.duckdbMs },
      atMost: 1.5,
    }),
  );
}

/** Local query over S3 (moto) on a lake of sink-sized objects vs the same lake compacted. */
async function measureCompaction(bench: BenchRun): Promise<void> {
  if (!bench.options.s3Endpoint) {
    throw new BenchSetupError(
      "The compaction part queries an S3 lake and needs AWS_ENDPOINT_URL (moto), or skip it with --skip compaction.",
    );
  }
  const result = await benchCompaction({
    endpoint: bench.options.s3Endpoint,
    region: bench.options.region,
    perDay: bench.options.quick ? 100 : 300,
    runs: bench.sizes.queryRuns,
    logger: bench.logger,
  });
  bench.settings.compaction = {
    rows: result.rows,
    objectsBefore: result.objectsBefore,
    objectsAfter: result.objectsAfter,
    compactMs: Math.round(result.compactMs),
  };
  record(bench, result.figure);
}

/** Produce → durable object p50/p99 at the stated flush interval. */
async function measureFreshness(bench: BenchRun): Promise<void> {
  const { sizes } = bench;
  bench.logger.info(
    `freshness: ${sizes.freshnessRate}/s for ${sizes.freshnessSeconds} s, flush every ${sizes.flushSeconds} s…`,
  );
  const fresh = await benchFreshness(bench.kafka, {
    topic: await bench.topics.create("freshness"),
    group: `bench-${bench.id}-fresh`,
    store: new FsStore(join(bench.scratch, "lake-fresh")),
    flushSeconds: sizes.flushSeconds,
    rate: sizes.freshnessRate,
    durationSeconds: sizes.freshnessSeconds,
    brokers: bench.brokers,
  });
  bench.settings.freshness = {
    flushSeconds: fresh.flushSeconds,
    rate: fresh.rate,
    rows: fresh.rows,
    maxMs: Math.round(fresh.maxMs),
  };
  const bound = {
    name: `flush ${sizes.flushSeconds} s + 1 s`,
    value: (sizes.flushSeconds + 1) * 1000,
  };
  const label = (p: string) => `Freshness ${p} (produce → durable), flush ${sizes.flushSeconds} s`;
  record(
    bench,
    ratioFigure({
      id: "freshness.p50_ms",
      label: label("p50"),
      value: fresh.p50Ms,
      unit: "ms",
      reference: bound,
      atMost: 1,
    }),
    ratioFigure({
      id: "freshness.p99_ms",
      label: label("p99"),
      value: fresh.p99Ms,
      unit: "ms",
      reference: bound,
      atMost: 1,
    }),
  );
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

/** The small consumer run into a fresh bucket on the S3 emulator, removed afterwards. */
async function consumeToS3(bench: BenchRun, topic: string, rows: number): Promise<ConsumerFigure> {
  const endpoint = bench.options.s3Endpoint!;
  const region = bench.options.region ?? DEFAULT_CONFIG.region;
  const bucket = `bench-${bench.id}-${crypto.randomUUID().slice(0, 8)}`;
  const store = new S3Store({ bucket, endpoint, region });
  await store.ensureBucket();
  try {
    // The child reads these through its config, like `deno task consume`.
    const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: region };
    return await consume(bench, topic, `s3://${bucket}/lake`, rows, env);
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
