/**
 * Runs the benchmark parts against the local stack (Kafka broker, moto S3, the project's Python
 * with DuckDB, the Kafka jars) and assembles the {@linkcode BenchReport}. Every throughput figure
 * is the median of `repeats` runs (min and max kept), our side and its reference interleaved run
 * by run so that a busy machine slows both alike.
 *
 * Parts and their references (all measured in the same run):
 * - `producer`: the project's producer (producer workers, as `deno task produce`) vs Kafka's Java
 *   ProducerPerformance with the same acks, idempotence, compression, batch size, linger and
 *   in-flight limit, partitions and record values; gzip (the project default) and none.
 * - `consumer`: consumer → lake rows written per second into a folder and into S3 (moto), in a
 *   child process, vs Kafka's Java ConsumerPerformance on the same topic with the same fetch sizes.
 * - `replay`: 50k daily bars replayed into day partitions vs the same replay into month partitions.
 * - `memory`: the consumer's peak RSS at the small and the large size (1M and 10M rows).
 * - `query`: monthly OHLC (named analysis `ohlc`) over the large lake, Polars vs DuckDB's best SQL,
 *   results compared value by value.
 * - `freshness`: produce → durable object p50/p99 at a stated `flushSeconds`, vs flush + 1 s.
 * - `csv`: CSV → ticks rows/s of the project's reader vs the same rows through npm `csv-parse`
 *   (no services needed).
 *
 * @module
 */

import { join } from "node:path";
import { DeleteBucketCommand } from "@aws-sdk/client-s3";
import type { Kafka } from "kafkajs";
import { DEFAULT_CONFIG } from "../config.ts";
import { createKafka, type KafkaClientOptions } from "../kafka/client.ts";
import { produceTicksInWorkers } from "../kafka/producer_workers.ts";
import { simulateTicks } from "../source/simulate.ts";
import { FsStore } from "../lake/fs_store.ts";
import { S3Store } from "../lake/s3_store.ts";
import { type Logger, silentLogger } from "../log.ts";
import { venvBin } from "../ops/local/python_env.ts";
import { benchConsumer, type ConsumerBenchOptions, type ConsumerFigure } from "./consumer.ts";
import { benchCsv } from "./csv.ts";
import { BENCH_SEED, benchTicks, meanRecordBytes, writePayloadFile } from "./data.ts";
import type { Tick } from "../tick.ts";
import { benchFreshness } from "./freshness.ts";
import { benchJavaConsumer } from "./java_consumer.ts";
import { benchJavaProducer, matchedJavaProps } from "./java_producer.ts";
import { readMachine } from "./machine.ts";
import { benchProducer, type ProducerFigure } from "./producer.ts";
import { DEFAULT_PRODUCER_WORKERS } from "../kafka/producer_workers.ts";
import { benchCompaction } from "./compaction.ts";
import { benchQuery, DUCKDB_OHLC_MONTH } from "./query.ts";
import { type BenchReport, type Figure, ratioFigure, spreadText } from "./report.ts";
import { perSecond } from "./stats.ts";
import { BenchTopics } from "./topics.ts";

/** A part of the benchmark that `--skip` can leave out. */
export type BenchPart =
  | "producer"
  | "consumer"
  | "replay"
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
  "replay",
  "memory",
  "query",
  "compaction",
  "freshness",
];

/** How big each part runs. */
export interface BenchSizes {
  /** Runs of each throughput figure (and of its reference); the median counts. */
  repeats: number;
  /** Records each producer (kafkajs and Java) sends per codec and run. */
  producerRecords: number;
  /** Rows of the consumer throughput runs and of the small memory run. */
  smallRows: number;
  /** Daily bars of the replay part. */
  replayRows: number;
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
  /** Sink-sized objects per day of the compaction part's lake (30 rows each, 3 days). */
  compactionObjectsPerDay: number;
  /** Timed runs of each CSV reader over the CSV file. */
  csvRuns: number;
}

/** The full run: 1M and 10M rows (about 12 minutes on 2 quiet cores). */
export const FULL_SIZES: BenchSizes = {
  repeats: 3,
  producerRecords: 500_000,
  smallRows: 1_000_000,
  replayRows: 50_000,
  largeRows: 10_000_000,
  flushSeconds: 5,
  freshnessRate: 2_000,
  freshnessSeconds: 30,
  queryRuns: 5,
  compactionObjectsPerDay: 300,
  csvRuns: 7,
};

/**
 * The CI-sized run (`--quick`): about 6 minutes on 2 cores. The producer, consumer and replay parts
 * are the full run's sizes, so their ratios are the full run's: the Java tools warm up inside their
 * timed runs (at 100k records the producer ran at a fifth of its full-run rate; at 300k rows the
 * consumer's ratio read 0.32 against the full run's 0.20), and 5k replayed bars read 0.49 against
 * 0.10 for 50k. The compaction part and the freshness part's flush interval are the full run's
 * too (with 100 objects a day compaction read 0.27 against 0.07; with a 2 s flush freshness p99
 * read 0.68 against 0.84). The memory and query parts use 2M rows instead of 10M (more than the
 * consumer's 1M, which the memory part compares against), the freshness and CSV parts are shorter.
 */
export const QUICK_SIZES: BenchSizes = {
  repeats: 3,
  producerRecords: 500_000,
  smallRows: 1_000_000,
  replayRows: 50_000,
  largeRows: 2_000_000,
  flushSeconds: 5,
  freshnessRate: 1_000,
  freshnessSeconds: 15,
  queryRuns: 3,
  compactionObjectsPerDay: 300,
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

const DAY_MS = 86_400_000;
const JAVA_NAME = "Java ProducerPerformance";
const JAVA_CONSUMER = "Java ConsumerPerformance";
/** Our producer's batching, which the Java producer is given too. */
const PRODUCER_BATCH = 1000;
const PRODUCER_LINGER_MS = 20;

/** One run of the benchmark: its settings, services, scratch folder and what it has measured. */
interface BenchRun {
  options: RunBenchOptions;
  sizes: BenchSizes;
  runs: (part: BenchPart) => boolean;
  logger: Logger;
  brokers: string[];
  /** The client options every Kafka client of the run is made from (workers included). */
  clientOptions: KafkaClientOptions;
  kafka: Kafka;
  /** Unique id of this run, part of topic, group and bucket names. */
  id: string;
  scratch: string;
  topics: BenchTopics;
  settings: Record<string, unknown>;
  figures: Figure[];
  /** Settings in which our side and a reference differ. */
  differences: string[];
  /** Consumer groups used so far (each consumer run reads from the beginning in a fresh one). */
  groups: number;
}

/** The consumer runs the later parts read: the small (1M) and the large (10M) lake. */
interface ConsumedLakes {
  dataTopic: string;
  /** The runs into a local folder at the small size (the consumer and memory parts read them). */
  small: ConsumerFigure[];
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
  const clientOptions: KafkaClientOptions = { brokers, logger };
  const kafka = createKafka(clientOptions);
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
    clientOptions,
    kafka,
    id,
    scratch,
    topics,
    settings: { sizes, brokers, partitions: 3 },
    figures: [],
    differences: [],
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
    differences: bench.differences,
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
  if (runs("replay")) await measureReplay(bench);
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
      `  ${f.label}: ${spreadText(f.value, f.spread)} ${f.unit} vs ${
        spreadText(f.reference.value, f.reference.spread)
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
  const javaProps = matchedJavaProps({
    batchSize: PRODUCER_BATCH,
    recordBytes,
    lingerMs: PRODUCER_LINGER_MS,
  });
  bench.settings.producer = {
    records: sizes.producerRecords,
    repeats: sizes.repeats,
    ours:
      `produceTicksInWorkers: ${DEFAULT_PRODUCER_WORKERS} workers, each one idempotent kafkajs ` +
      `producer (acks=all, 1 request in flight), ≤ ${PRODUCER_BATCH} records per partition ` +
      `request, linger ${PRODUCER_LINGER_MS} ms, key=symbol; kafkajs' record-batch encoding and ` +
      "per-partition grouping replaced by lib/kafka/kafkajs_override.ts (byte-identical requests)",
    java: `ProducerPerformance, acks=all, ${
      Object.entries(javaProps).map(([k, v]) => `${k}=${v}`).join(", ")
    }, --payload-file of the same tick JSON, no key`,
  };
  bench.differences.push(
    `Producer: ours runs ${DEFAULT_PRODUCER_WORKERS} producer workers (${DEFAULT_PRODUCER_WORKERS} ` +
      "idempotent producers, one connection each); Java runs one producer (one sender thread, one " +
      "connection). Both: acks=all, idempotent, 1 request in flight per connection, linger " +
      `${PRODUCER_LINGER_MS} ms, the same compression and record values.`,
    `Producer batch: ours ≤ ${PRODUCER_BATCH} records per partition request; Java batch.size=${
      javaProps["batch.size"]
    } bytes (≈ ${PRODUCER_BATCH} records of ${Math.round(recordBytes)} B).`,
    "Producer client: ours is kafkajs 2.2.4 with two internals replaced (lib/kafka/" +
      "kafkajs_override.ts: the produce request's record encoding and groupMessagesPerPartition; " +
      "the same bytes on the wire), each request's keys and values encoded once on the main " +
      "thread; Java is the Apache Kafka client.",
    "Producer keys: ours key=symbol (murmur2 partitioner, per-symbol order); Java sends no key " +
      "(sticky partitioner).",
    "Producer timing: both from the first send to the last acknowledgement (connect excluded); " +
      "Java runs in a fresh JVM (-Xmx512m) each run, warming up inside the timed run.",
  );
  for (const compression of ["gzip", "none"] as const) {
    const ours: ProducerFigure[] = [];
    const java: ProducerFigure[] = [];
    for (let run = 1; run <= sizes.repeats; run++) {
      logger.info(
        `producer (${compression}) run ${run}/${sizes.repeats}: ${sizes.producerRecords} records, ours then Java…`,
      );
      ours.push(
        await benchProducer(bench.clientOptions, {
          topic: await topics.create(`producer-${compression}-${run}`),
          records: sizes.producerRecords,
          compression,
          batchSize: PRODUCER_BATCH,
          lingerMs: PRODUCER_LINGER_MS,
        }),
      );
      java.push(
        await benchJavaProducer({
          brokers: bench.brokers,
          topic: await topics.create(`java-${compression}-${run}`),
          records: sizes.producerRecords,
          compression,
          payloadFile,
          recordBytes,
          jarsDir: bench.options.jarsDir,
          producerProps: javaProps,
        }),
      );
    }
    const name = `${JAVA_NAME}, ${compression}`;
    record(
      bench,
      ratioFigure({
        id: `producer.${compression}.records_per_sec`,
        label: `Producer, ${compression}, acks=all (median of ${sizes.repeats})`,
        value: ours.map((f) => f.recordsPerSec),
        unit: "records/s",
        reference: { name, value: java.map((f) => f.recordsPerSec) },
        atLeast: 0.5,
      }),
      ratioFigure({
        id: `producer.${compression}.mb_per_sec`,
        label: `Producer, ${compression}, acks=all (${Math.round(recordBytes)} B values)`,
        value: ours.map((f) => f.mbPerSec),
        unit: "MB/s",
        reference: { name, value: java.map((f) => f.mbPerSec) },
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
  if (!runs("consumer") && !runs("memory") && !runs("query")) {
    return { dataTopic: "", small: [], largeLake };
  }
  const rows = dataTopicRows(sizes, runs);
  const dataTopic = await fillTopic(bench, "data", benchTicks(rows), rows);
  const lakes: ConsumedLakes = { dataTopic, small: [], largeLake };
  // The consumer part runs the small size itself (interleaved with its references); the memory
  // part alone needs one run.
  if (!runs("consumer") && runs("memory")) {
    lakes.small.push(
      await consume(bench, dataTopic, join(bench.scratch, "lake-small"), sizes.smallRows),
    );
  }
  if (runs("memory") || runs("query")) {
    lakes.large = await consume(bench, dataTopic, largeLake, sizes.largeRows);
  }
  return lakes;
}

/**
 * Ticks the data topic holds: the large lake's rows when the memory or query part runs, and at
 * least twice the consumer part's rows whenever it runs, so that the consumer runs (ours and Java
 * ConsumerPerformance) read the head of a topic whose partitions all hold more. The bench's symbols
 * split the ticks 50/29/21% over its 3 partitions; a Java consumer that has read one of them to its
 * end fetches it alone while the others' buffers drain, and the broker holds each such fetch for
 * `fetch.max.wait.ms` (500 ms): on a topic of exactly 1M ticks ConsumerPerformance read 31,529
 * records/s, on one partition of the same 1M 432,713 (fetch latency 155 against 1.8 ms).
 *
 * @example
 * ```ts
 * import { dataTopicRows, QUICK_SIZES } from "./run.ts";
 * dataTopicRows(QUICK_SIZES, (part) => part === "consumer"); // 2_000_000
 * ```
 */
export function dataTopicRows(sizes: BenchSizes, runs: (part: BenchPart) => boolean): number {
  return Math.max(
    runs("memory") || runs("query") ? sizes.largeRows : 0,
    runs("consumer") ? 2 * sizes.smallRows : sizes.smallRows,
  );
}

/** Creates a topic and sends `ticks` to it with the project's producer. */
async function fillTopic(
  bench: BenchRun,
  name: string,
  ticks: Iterable<Tick>,
  rows: number,
): Promise<string> {
  const topic = await bench.topics.create(name);
  bench.logger.info(`filling ${topic} with ${rows} ticks…`);
  const fillStarted = performance.now();
  const { sent } = await produceTicksInWorkers(ticks, { client: bench.clientOptions, topic });
  bench.settings[`fill-${name}`] = {
    rows: sent,
    seconds: Math.round((performance.now() - fillStarted) / 1000),
  };
  return topic;
}

/** One consumer child run from the beginning of `topic` into `lake`, in a fresh group. */
function consume(
  bench: BenchRun,
  topic: string,
  lake: string,
  rows: number,
  more: Pick<ConsumerBenchOptions, "env" | "dtGranularity"> = {},
): Promise<ConsumerFigure> {
  bench.logger.info(`consumer: ${rows} rows → ${lake}…`);
  return benchConsumer({
    brokers: bench.brokers,
    topic,
    group: `bench-${bench.id}-g${++bench.groups}`,
    lake,
    rows,
    ...more,
  });
}

/**
 * Consumer → lake rows written per second into a local folder and into S3 (moto), each run next
 * to Java ConsumerPerformance on the same topic, interleaved run by run.
 */
async function measureConsumers(bench: BenchRun, lakes: ConsumedLakes): Promise<void> {
  const { sizes } = bench;
  const s3: ConsumerFigure[] = [];
  const java: number[] = [];
  for (let run = 1; run <= sizes.repeats; run++) {
    bench.logger.info(`consumer run ${run}/${sizes.repeats}: folder, S3, then Java…`);
    lakes.small.push(
      await consume(
        bench,
        lakes.dataTopic,
        join(bench.scratch, `lake-small-${run}`),
        sizes.smallRows,
      ),
    );
    s3.push(await consumeToS3(bench, lakes.dataTopic, sizes.smallRows));
    const reference = await benchJavaConsumer({
      brokers: bench.brokers,
      topic: lakes.dataTopic,
      group: `bench-${bench.id}-g${++bench.groups}`,
      records: sizes.smallRows,
      scratch: bench.scratch,
      jarsDir: bench.options.jarsDir,
    });
    java.push(reference.recordsPerSec);
  }
  bench.settings.consumer = {
    flushRows: 50_000,
    format: "parquet (snappy)",
    process: "child deno process (the consume task's V8 flags)",
    rate: "rows written after the first progress report with messages / time to the last commit",
    java: "ConsumerPerformance fetch.nMsg.sec (group join excluded), --fetch-size 256 KiB, " +
      "fetch.max.bytes 32 MiB",
    runs: { local: lakes.small, s3, java },
  };
  bench.differences.push(
    "Consumer: ours decodes and validates every record (in a second thread, a Deno Worker, while " +
      "the first fetches), encodes Parquet, writes objects (folder or S3), checkpoints and " +
      "commits; Java ConsumerPerformance only counts records, on one thread. Same broker, topic, " +
      "fresh group from the earliest offset, max.partition.fetch.bytes 256 KiB, fetch.max.bytes " +
      "32 MiB, fetch.max.wait.ms 500; both rates exclude the group join.",
  );
  const reference = { name: JAVA_CONSUMER, value: java };
  record(
    bench,
    ratioFigure({
      id: "consumer.local.rows_per_sec",
      label: `Consumer → lake, local folder, ${millions(sizes.smallRows)} rows written`,
      value: lakes.small.map((f) => f.rowsPerSec),
      unit: "rows/s",
      reference,
      atLeast: 0.5,
    }),
    ratioFigure({
      id: "consumer.s3.rows_per_sec",
      label: `Consumer → lake, S3 (moto), ${millions(sizes.smallRows)} rows written`,
      value: s3.map((f) => f.rowsPerSec),
      unit: "rows/s",
      reference,
      atLeast: 0.5,
    }),
  );
}

/**
 * Rows written over the time after the group join. When no progress report came before the end
 * (a short replay busy writing), the join cannot be told apart and the whole run counts.
 */
function replayRate(figure: ConsumerFigure): number {
  const steadyMs = figure.elapsedMs - figure.startupMs;
  return perSecond(figure.rows, steadyMs >= 250 ? steadyMs : figure.elapsedMs);
}

/**
 * Replays daily bars (the simulator's history, 14 indices) into a local lake with day partitions
 * and, interleaved run by run, the same replay with month partitions.
 */
async function measureReplay(bench: BenchRun): Promise<void> {
  const { sizes } = bench;
  // `count` is bars per symbol: enough of them, cut at exactly `replayRows` bars in all.
  const symbols = 14;
  const bars = take(
    simulateTicks({
      intervalMs: DAY_MS,
      seed: BENCH_SEED,
      symbols,
      count: Math.ceil(sizes.replayRows / symbols),
    }),
    sizes.replayRows,
  );
  const topic = await fillTopic(bench, "replay", bars, sizes.replayRows);
  const day: ConsumerFigure[] = [];
  const month: ConsumerFigure[] = [];
  for (let run = 1; run <= sizes.repeats; run++) {
    bench.logger.info(`replay run ${run}/${sizes.repeats}: day, then month partitions…`);
    const lake = (name: string) => join(bench.scratch, `lake-replay-${name}-${run}`);
    day.push(await consume(bench, topic, lake("day"), sizes.replayRows, { dtGranularity: "day" }));
    month.push(
      await consume(bench, topic, lake("month"), sizes.replayRows, { dtGranularity: "month" }),
    );
  }
  bench.settings.replay = {
    rows: sizes.replayRows,
    lake: "local folder, parquet",
    objects: { day: day.map((f) => f.objects), month: month.map((f) => f.objects) },
    rate: "rows written / time from the first progress report with messages to the last " +
      "commit (group join excluded; the whole run when no report came before the end)",
    runs: { day, month },
  };
  record(
    bench,
    ratioFigure({
      id: "replay.day_rows_per_sec",
      label: `Replay ${millions(sizes.replayRows)} daily bars into day partitions`,
      value: day.map(replayRate),
      unit: "rows/s",
      reference: {
        name: "the same replay into month partitions",
        value: month.map(replayRate),
      },
      atLeast: 0.5,
    }),
  );
}

/** Peak RSS of the large consumer run against the small ones, and against the budget. */
function recordMemory(bench: BenchRun, lakes: ConsumedLakes): void {
  const { sizes } = bench;
  const mib = (bytes: number) => bytes / 1024 ** 2;
  const large = lakes.large!;
  const smallPeaks = lakes.small.map((f) => mib(f.peakRss));
  record(
    bench,
    ratioFigure({
      id: "memory.peak_rss_large",
      label: `Consumer peak RSS at ${millions(sizes.largeRows)} rows (1 run)`,
      value: mib(large.peakRss),
      unit: "MiB",
      reference: { name: `peak RSS at ${millions(sizes.smallRows)} rows`, value: smallPeaks },
      atMost: 1.1,
    }),
    ratioFigure({
      id: "memory.peak_rss_budget",
      label: `Consumer peak RSS at ${millions(sizes.largeRows)} rows vs the budget`,
      value: mib(large.peakRss),
      unit: "MiB",
      reference: { name: "384 MiB budget", value: 384 },
      atMost: 1,
    }),
  );
  const breakdown = (f: ConsumerFigure) =>
    Object.fromEntries(Object.entries(f.peaks).map(([k, v]) => [k, Math.round(mib(v))]));
  bench.settings.memory = {
    sampling: "/proc/<pid>/status VmHWM (and VmRSS every 100 ms); in the child, " +
      "Deno.memoryUsage() every 100 ms (peaks in MiB: rss, heapTotal, heapUsed, external)",
    peaksMiB: { small: lakes.small.map(breakdown), large: breakdown(large) },
  };
}

/** Monthly OHLC over the large lake, Polars vs DuckDB's best SQL, results compared. */
async function measureQuery(bench: BenchRun, lakes: ConsumedLakes): Promise<void> {
  const python = bench.options.python ?? venvBin("python");
  bench.logger.info(`query: monthly OHLC over ${lakes.large!.rows} rows, Polars vs DuckDB…`);
  const query = await benchQuery({ lakeDir: lakes.largeLake, python, runs: bench.sizes.queryRuns });
  bench.settings.query = {
    analysis: "ohlc, interval month",
    rows: query.rows,
    groups: query.groups,
    valuesCompared: query.valuesCompared,
    duckdb: `${query.duckdbVersion}, its own SQL: ${DUCKDB_OHLC_MONTH.replaceAll(/\s+/g, " ")}`,
    plainAggregateMs: { polars: query.polarsPlainMs, duckdb: query.duckdbPlainMs },
  };
  bench.differences.push(
    "Query: Polars (the local engine, in-memory) runs the SQL of `deno task query --named ohlc " +
      "--interval month`: the month as a DATE key, the first open and last close by MIN/MAX " +
      "windows over each symbol-month, the month formatted after the aggregation; DuckDB runs " +
      "its best form (arg_min/arg_max in one grouped pass over date_trunc('month', ts), " +
      "formatted after the aggregation). Same Parquet files; both timed inside the engine after " +
      `one warm-up run; results compared value by value (${query.valuesCompared} values). Plain ` +
      "aggregate without first/last (each engine's own month key): Polars " +
      `${Math.round(query.polarsPlainMs)} ms, DuckDB ${Math.round(query.duckdbPlainMs)} ms.`,
  );
  record(
    bench,
    ratioFigure({
      id: "query.ohlc_month_ms",
      label: `Monthly OHLC over ${millions(query.rows)} rows (median of ${query.runs})`,
      value: query.polarsRuns,
      unit: "ms",
      reference: { name: "DuckDB", value: query.duckdbRuns },
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
    perDay: bench.sizes.compactionObjectsPerDay,
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
    return await consume(bench, topic, `s3://${bucket}/lake`, rows, { env });
  } finally {
    for await (const { key } of store.list("")) await store.delete(key);
    await store.client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    store.close();
  }
}

/** The first `n` items of `items`. */
function* take<T>(items: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const item of items) {
    yield item;
    if (--n <= 0) return;
  }
}

function millions(rows: number): string {
  return rows >= 1_000_000 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
}
