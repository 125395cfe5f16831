/**
 * `deno task consume`: consume the tick topic into the lake (a folder or s3://…), committing
 * offsets only after the data is durable.
 *
 * @module
 */

import { choiceFlag, numberFlag, runCommand } from "../lib/cli.ts";
import { configFlags, loadConfig, SECURITY_FIELDS } from "../lib/config.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { type ConsumeOptions, consumeToLake } from "../lib/ingest/consume_to_lake.ts";
import { DT_GRANULARITIES } from "../lib/lake/layout.ts";
import { openStore } from "../lib/lake/open_store.ts";
import { consoleLogger } from "../lib/log.ts";
import {
  consumeLine,
  formatBytes,
  formatCount,
  formatDuration,
  terminalProgress,
} from "../lib/progress.ts";
import { onStopSignals } from "../lib/signals.ts";

const FLAGS = {
  ...configFlags("lake", "topic", "group", "brokers", ...SECURITY_FIELDS),
  format: { type: "string", description: "Object format: parquet or jsonl", default: "parquet" },
  gzip: { type: "boolean", description: "Gzip JSON Lines objects" },
  "partition-by": {
    type: "string",
    description: "dt from event time (event) or Kafka timestamp (ingest)",
    default: "event",
  },
  "dt-granularity": {
    type: "string",
    description: "Width of a dt partition: day, month or year (first day of the period)",
    default: "day",
  },
  "flush-rows": {
    type: "string",
    description: "Flush a partition at this many rows",
    default: "50000",
  },
  "flush-bytes": {
    type: "string",
    description: "Flush a partition at this many bytes",
    default: "16777216",
  },
  "flush-seconds": {
    type: "string",
    description: "Flush a partition when its oldest row is this old",
    default: "30",
  },
  "idle-exit": { type: "string", description: "Stop after this many seconds without messages" },
  "max-messages": { type: "string", description: "Stop after this many messages" },
  "write-behind": {
    type: "boolean",
    description:
      "Write a full range while fetching on (one range in flight): faster on slow stores, one more range in memory",
  },
  "from-beginning": {
    type: "boolean",
    description: "Reset the group to the start of the topic (re-ingest)",
  },
  "session-timeout": {
    type: "string",
    description: "Seconds the group waits for a silent (killed) member",
    default: "30",
  },
  verbose: {
    type: "boolean",
    description: "Also log every flush (rows, objects, committed offset) and claim",
  },
  ...configFlags("region", "endpoint"),
} as const;

if (import.meta.main) {
  runCommand({ usage: "deno task consume [flags]", flags: FLAGS }, async ({ values }) => {
    const config = loadConfig({ flags: values });
    const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
    const stop = onStopSignals((n) =>
      consoleLogger.info(n === 1 ? "\nStopping: flushing and committing…" : "Stopping now.")
    );
    const progress = terminalProgress();
    // Every flag is read (and a bad one refused) before anything is printed or connected.
    const options: ConsumeOptions = {
      topic: config.topic,
      group: config.group,
      brokers: config.brokers,
      store,
      format: choiceFlag("format", values.format, ["parquet", "jsonl"] as const),
      gzip: values.gzip === true,
      partitionBy: choiceFlag(
        "partition-by",
        values["partition-by"],
        ["event", "ingest"] as const,
      ),
      dtGranularity: choiceFlag(
        "dt-granularity",
        values["dt-granularity"],
        DT_GRANULARITIES,
      ),
      flushRows: numberFlag("flush-rows", values["flush-rows"], {
        integer: true,
        positive: true,
      }),
      flushBytes: numberFlag("flush-bytes", values["flush-bytes"], {
        integer: true,
        positive: true,
      }),
      flushSeconds: numberFlag("flush-seconds", values["flush-seconds"], { positive: true }),
      idleExitSeconds: numberFlag("idle-exit", values["idle-exit"], { positive: true }),
      maxMessages: numberFlag("max-messages", values["max-messages"], {
        integer: true,
        positive: true,
      }),
      fromBeginning: values["from-beginning"] === true,
      writeBehind: values["write-behind"] === true,
      sessionTimeoutMs: (numberFlag("session-timeout", values["session-timeout"], { min: 6 }) ??
        30) * 1000,
      signal: stop.graceful,
      abortRetries: stop.immediate,
      logger: values.verbose === true ? consoleLogger : { ...consoleLogger, info: () => {} },
      onProgress: (p) => progress.update(consumeLine(p)),
    };
    consoleLogger.info(
      `Consuming ${config.topic} (group ${config.group}) from ${
        config.brokers.join(",")
      } into ${store.uri}`,
    );
    const result = await consumeToLake(
      createKafka({ brokers: config.brokers, security: config, logger: consoleLogger }),
      options,
    );
    stop.dispose();
    progress.done(consumeLine(result));
    consoleLogger.info(
      `Done (${result.stoppedBy}): ${formatCount(result.messages)} messages, ` +
        `${formatCount(result.rowsWritten)} rows written in ${
          formatCount(result.objectsWritten)
        } objects ` +
        `(${formatBytes(result.bytesWritten)}), ${
          formatCount(result.deadLettered)
        } dead letters, ` +
        (result.rejoins > 0 ? `${formatCount(result.rejoins)} rejoin(s), ` : "") +
        `${formatDuration(result.elapsedMs)}.`,
    );
  });
}
