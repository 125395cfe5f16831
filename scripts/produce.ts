/**
 * `deno task produce`: send ticks from a CSV file or the simulator to Kafka.
 *
 * @module
 */

import { choiceFlag, numberFlag, runCommand, stringFlag } from "../lib/cli.ts";
import { configFlags, loadConfig } from "../lib/config.ts";
import { ensureTopic } from "../lib/kafka/admin.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { createTickProducer, type ProduceProgress, produceTicks } from "../lib/kafka/producer.ts";
import { consoleLogger } from "../lib/log.ts";
import { formatCount, formatDuration, produceLine, terminalProgress } from "../lib/progress.ts";
import { onStopSignals } from "../lib/signals.ts";
import { openTickSource } from "../lib/source/open_source.ts";
import { paceModeFromFlags } from "../lib/source/pace.ts";

const FLAGS = {
  file: {
    type: "string",
    description: "CSV to send (Kaggle layout or plain OHLCV)",
    default: "data/stock_data.csv",
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
    description: "stream (each row once) or sample (a random row every --interval, forever)",
    default: "stream",
  },
  interval: {
    type: "string",
    description: "Seconds between messages in sample mode",
    default: "1",
  },
  limit: { type: "string", description: "Stop after N messages" },
  ...configFlags("topic", "brokers"),
  partitions: { type: "string", description: "Partitions when the topic is created", default: "3" },
  rejects: {
    type: "string",
    description: "Where bad CSV rows are kept",
    default: "rejects/<file>.rejects.csv",
  },
  symbols: { type: "string", description: "Simulator: number of symbols", default: "14" },
  seed: { type: "string", description: "Simulator: random seed", default: "42" },
  compression: { type: "string", description: "gzip or none", default: "gzip" },
  "batch-size": { type: "string", description: "Most messages per request", default: "1000" },
} as const;

if (import.meta.main) {
  runCommand({ usage: "deno task produce [flags]", flags: FLAGS }, async ({ values }) => {
    const config = loadConfig({ flags: values });
    const stop = onStopSignals((n) =>
      consoleLogger.info(n === 1 ? "\nStopping: sending what was read…" : "Stopping now.")
    );
    const source = await openTickSource({
      source: choiceFlag("source", values.source, ["csv", "simulate"] as const),
      file: stringFlag("file", values.file),
      rejectsPath: stringFlag("rejects", values.rejects),
      mode: choiceFlag("mode", values.mode, ["stream", "sample"] as const),
      pace: paceModeFromFlags({
        speed: stringFlag("speed", values.speed),
        rate: stringFlag("rate", values.rate),
      }),
      sampleIntervalMs: (numberFlag("interval", values.interval, { positive: true }) ?? 1) * 1000,
      limit: numberFlag("limit", values.limit, { integer: true }),
      symbols: numberFlag("symbols", values.symbols, { integer: true, positive: true }),
      seed: numberFlag("seed", values.seed, { integer: true }),
      signal: stop.graceful,
      logger: consoleLogger,
    });
    const kafka = createKafka({ brokers: config.brokers, logger: consoleLogger });
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
      await producer.connect();
      const result = await produceTicks(producer, source.ticks, {
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
