/**
 * `deno task produce`: send ticks from a CSV file or the simulator to Kafka.
 *
 * @module
 */

import { choiceFlag, numberFlag, runCommand, stringFlag, UsageError } from "../lib/cli.ts";
import { configFlags, loadConfig, SECURITY_FIELDS } from "../lib/config.ts";
import { ensureTopic } from "../lib/kafka/admin.ts";
import { createKafka } from "../lib/kafka/client.ts";
import {
  createTickProducer,
  type ProduceOptions,
  type ProduceProgress,
  produceTicks,
} from "../lib/kafka/producer.ts";
import { DEFAULT_PRODUCER_WORKERS, produceTicksInWorkers } from "../lib/kafka/producer_workers.ts";
import { consoleLogger } from "../lib/log.ts";
import { formatCount, formatDuration, produceLine, terminalProgress } from "../lib/progress.ts";
import { onStopSignals } from "../lib/signals.ts";
import { openTickSource } from "../lib/source/open_source.ts";
import { paceModeFromFlags } from "../lib/source/pace.ts";
import { DATE_ORDERS } from "../lib/tick.ts";

const FLAGS = {
  file: {
    type: "string",
    description: "CSV to send (Kaggle layout or plain OHLCV: Yahoo, Stooq, Nasdaq, Investing…)",
    default: "data/stock_data.csv",
  },
  symbol: {
    type: "string",
    description: "CSV without a symbol column: the symbol of every row",
    default: "the file name's stem",
  },
  "date-format": {
    type: "string",
    description: "CSV dates like 01/05/2021: MM/DD/YYYY or DD/MM/YYYY (never guessed)",
  },
  source: { type: "string", description: "csv or simulate", default: "csv" },
  speed: {
    type: "string",
    description: "max, or replay by event time at X× real time",
    default: "max",
  },
  rate: { type: "string", description: "Send N messages per second" },
  mode: {
    type: "string",
    description: "stream (the rows in order) or sample (a random row every --interval)",
    default: "stream",
  },
  interval: {
    type: "string",
    description: "Seconds between messages in sample mode, or between live simulator rounds",
    default: "1",
  },
  repeat: {
    type: "boolean",
    description: "Sample mode: rows may come again, forever (default: each row once)",
  },
  start: {
    type: "string",
    description: "Simulator: daily bars from YYYY-MM-DD up to today (default: live ticks, now)",
  },
  limit: { type: "string", description: "Stop after N messages" },
  ...configFlags("topic", "brokers", ...SECURITY_FIELDS),
  partitions: { type: "string", description: "Partitions when the topic is created", default: "3" },
  rejects: {
    type: "string",
    description: "Where bad CSV rows are kept",
    default: "rejects/<file>.rejects.csv",
  },
  symbols: { type: "string", description: "Simulator: number of indices", default: "14" },
  seed: { type: "string", description: "Simulator: random seed", default: "42" },
  compression: { type: "string", description: "gzip or none", default: "gzip" },
  "batch-size": { type: "string", description: "Most messages per request", default: "1000" },
  workers: {
    type: "string",
    description: "Producer workers, each an idempotent producer (per-symbol order kept; " +
      "1: one producer on the main thread)",
    default: String(DEFAULT_PRODUCER_WORKERS),
  },
} as const;

if (import.meta.main) {
  runCommand({ usage: "deno task produce [flags]", flags: FLAGS }, async ({ values }) => {
    const config = loadConfig({ flags: values });
    const stop = onStopSignals((n) =>
      consoleLogger.info(n === 1 ? "\nStopping: sending what was read…" : "Stopping now.")
    );
    const kind = choiceFlag("source", values.source, ["csv", "simulate"] as const);
    const start = dayFlag("start", stringFlag("start", values.start));
    const interval = numberFlag("interval", values.interval, { positive: true }) ?? 1;
    const source = await openTickSource({
      source: kind,
      file: stringFlag("file", values.file),
      symbol: stringFlag("symbol", values.symbol),
      dateFormat: choiceFlag("date-format", values["date-format"], DATE_ORDERS),
      rejectsPath: stringFlag("rejects", values.rejects),
      mode: choiceFlag("mode", values.mode, ["stream", "sample"] as const),
      pace: paceModeFromFlags({
        speed: stringFlag("speed", values.speed),
        rate: stringFlag("rate", values.rate),
      }),
      sampleIntervalMs: interval * 1000,
      repeat: values.repeat === true,
      start,
      intervalMs: kind === "simulate" && start === undefined ? interval * 1000 : undefined,
      limit: numberFlag("limit", values.limit, { integer: true }),
      symbols: numberFlag("symbols", values.symbols, { integer: true, positive: true }),
      seed: numberFlag("seed", values.seed, { integer: true }),
      signal: stop.graceful,
      logger: consoleLogger,
    });
    const kafka = createKafka({ brokers: config.brokers, security: config, logger: consoleLogger });
    const producer = createTickProducer(kafka);
    const progress = terminalProgress();
    const line = (p: ProduceProgress) => produceLine(p, source.counts().rejected);
    try {
      const topic = await ensureTopic(kafka, {
        topic: config.topic,
        partitions: numberFlag("partitions", values.partitions, { integer: true, positive: true }),
        brokers: config.brokers,
        logger: consoleLogger,
      });
      consoleLogger.info(
        `Sending ${source.description} to ${config.topic} (${topic.partitions} partitions) ` +
          `on ${config.brokers.join(",")}`,
      );
      const workers = numberFlag("workers", values.workers, { integer: true, positive: true })!;
      if (workers === 1) await producer.connect();
      const send = workers === 1
        ? (options: ProduceOptions) => produceTicks(producer, source.ticks, options)
        : (options: ProduceOptions) =>
          produceTicksInWorkers(source.ticks, {
            ...options,
            workers,
            client: { brokers: config.brokers, security: config, logger: consoleLogger },
          });
      const result = await send({
        topic: config.topic,
        brokers: config.brokers,
        compression: choiceFlag("compression", values.compression, ["gzip", "none"] as const),
        batchSize: numberFlag("batch-size", values["batch-size"], {
          integer: true,
          positive: true,
        }),
        signal: stop.graceful,
        onProgress: (p) => progress.update(line(p)),
      });
      progress.done(line(result));
      const { rows, rejected } = source.counts();
      consoleLogger.info(
        `${result.stopped ? "Stopped" : "Done"}: ${formatCount(result.sent)} messages sent in ` +
          `${formatDuration(result.elapsedMs)}` +
          (rows > 0 ? `; ${formatCount(rows)} rows read, ${formatCount(rejected)} rejected` : "") +
          (source.rejectsPath ? ` (kept in ${source.rejectsPath})` : "") + ".",
      );
    } finally {
      stop.dispose();
      source.close();
      await producer.disconnect().catch(() => {});
    }
  });
}

/** A `YYYY-MM-DD` flag as midnight UTC of that day, in the past. */
function dayFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(`${text}T00:00:00Z`);
  if (
    !/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(ms) ||
    new Date(ms).toISOString().slice(0, 10) !== text
  ) {
    throw new UsageError(`--${name} must be a date YYYY-MM-DD, got "${text}".`);
  }
  if (ms > Date.now() || ms < Date.UTC(1900, 0, 1)) {
    throw new UsageError(`--${name} must be a day between 1900-01-01 and today, got ${text}.`);
  }
  return ms;
}
