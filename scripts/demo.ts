/**
 * `deno task demo`: the whole local pipeline in one command — start Kafka, send the sample data,
 * land it in a Parquet lake, and summarise what arrived.
 *
 * @module
 */

import { runCommand, stringFlag } from "../lib/cli.ts";
import { loadConfig } from "../lib/config.ts";
import { ensureTopic } from "../lib/kafka/admin.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { consumeToLake } from "../lib/ingest/consume_to_lake.ts";
import { createTickProducer, produceTicks } from "../lib/kafka/producer.ts";
import { openStore } from "../lib/lake/open_store.ts";
import type { Store } from "../lib/lake/store.ts";
import { consoleLogger } from "../lib/log.ts";
import { describeService, upLocalServices } from "../lib/ops/local/local_services.ts";
import {
  formatBytes,
  formatCount,
  formatDuration,
  formatRate,
  terminalProgress,
} from "../lib/progress.ts";
import { formatResult } from "../lib/query/format.ts";
import { queryLocal } from "../lib/query/local.ts";
import { openTickSource } from "../lib/source/open_source.ts";

const FLAGS = {
  file: { type: "string", description: "CSV to send", default: "data/stock_data.csv" },
  lake: {
    type: "string",
    description: "Lake folder of the demo (emptied first)",
    default: "./lake/demo",
  },
} as const;

const DEMO_TOPIC_PREFIX = "stock_market_demo_";

if (import.meta.main) {
  runCommand({ usage: "deno task demo [flags]", flags: FLAGS }, async ({ values }) => {
    const started = performance.now();
    const file = stringFlag("file", values.file) ?? "data/stock_data.csv";
    const lake = stringFlag("lake", values.lake) ?? "./lake/demo";
    if (lake.startsWith("s3://")) throw new Error("The demo writes a local folder; pass a path.");

    consoleLogger.info("1/4 Starting Kafka…");
    const services = await upLocalServices({ logger: consoleLogger });
    consoleLogger.info(`    ${describeService("kafka", services.kafka)}`);
    const config = loadConfig({ env: { ...Deno.env.toObject(), ...services.env } });
    const demo: Demo = {
      kafka: createKafka({ brokers: config.brokers, security: config, logger: consoleLogger }),
      brokers: config.brokers,
      // A fresh topic, group and lake per run, so the demo can be run again and again.
      topic: `${DEMO_TOPIC_PREFIX}${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}`,
      lake,
      progress: terminalProgress(),
    };
    await removeOldDemoTopics(demo.kafka);
    await Deno.remove(lake, { recursive: true }).catch(() => {});

    consoleLogger.info(`2/4 Sending ${file} to topic ${demo.topic}…`);
    const sent = await sendFile(demo, file);
    consoleLogger.info(`3/4 Consuming into the lake ${lake} until the topic is idle…`);
    const store = openStore(lake);
    await consumeTopic(demo, store);
    consoleLogger.info("4/4 Reading the lake back (Polars SQL):");
    const total = await summarizeLake(store);
    consoleLogger.info(
      `Done in ${formatDuration(performance.now() - started)}: ${formatCount(sent)} sent, ` +
        `${formatCount(total)} in the lake${total === sent ? " — every row exactly once" : ""}.`,
    );
    consoleLogger.info(
      `Next: deno task query --lake ${lake} --named ohlc --interval month | ` +
        "deno task down (stops Kafka)",
    );
    return total === sent ? 0 : 1;
  });
}

/** One demo run: its Kafka client, fresh topic (also its group), lake and progress line. */
interface Demo {
  kafka: ReturnType<typeof createKafka>;
  brokers: string[];
  topic: string;
  lake: string;
  progress: ReturnType<typeof terminalProgress>;
}

/** Creates the topic and sends the file's ticks to it; returns how many were sent. */
async function sendFile(demo: Demo, file: string): Promise<number> {
  const { kafka, topic, brokers, progress } = demo;
  await ensureTopic(kafka, { topic, partitions: 3, brokers });
  const source = await openTickSource({ file, logger: consoleLogger });
  const producer = createTickProducer(kafka);
  await producer.connect();
  const sent = await produceTicks(producer, source.ticks, {
    topic,
    brokers,
    onProgress: (p) => progress.update(`    sent ${formatCount(p.sent)}`),
  }).finally(() => producer.disconnect());
  source.close();
  const { rejected } = source.counts();
  progress.done(
    `    sent ${formatCount(sent.sent)} messages in ${formatDuration(sent.elapsedMs)} ` +
      `(${formatRate(sent.sent, sent.elapsedMs)}), ${formatCount(rejected)} rows rejected`,
  );
  return sent.sent;
}

/** Consumes the topic into the lake until it is idle. */
async function consumeTopic(demo: Demo, store: Store): Promise<void> {
  const { progress } = demo;
  const consumed = await consumeToLake(demo.kafka, {
    topic: demo.topic,
    group: demo.topic,
    brokers: demo.brokers,
    store,
    // Daily bars over 14 years: monthly dt partitions keep objects few and large.
    dtGranularity: "month",
    flushSeconds: 2,
    idleExitSeconds: 3,
    onProgress: (p) =>
      progress.update(
        `    consumed ${formatCount(p.messages)}, wrote ${formatCount(p.rowsWritten)}`,
      ),
  });
  progress.done(
    `    consumed ${formatCount(consumed.messages)} messages in ${
      formatDuration(consumed.elapsedMs)
    }; wrote ${formatCount(consumed.rowsWritten)} rows in ${
      formatCount(consumed.objectsWritten)
    } Parquet objects (${formatBytes(consumed.bytesWritten)})`,
  );
}

/** Prints rows per symbol read back from the lake; returns the total. */
async function summarizeLake(store: Store): Promise<number> {
  const summary = await queryLocal(
    `SELECT symbol, COUNT(*) AS rows, MIN(dt) AS first_dt, MAX(dt) AS last_dt,
            ROUND(MAX(close), 2) AS max_close
     FROM ticks GROUP BY symbol ORDER BY symbol`,
    { store },
  );
  console.log(formatResult(summary, "table"));
  return summary.rows.reduce((n, r) => n + Number(r.rows), 0);
}

async function removeOldDemoTopics(kafka: ReturnType<typeof createKafka>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const old = (await admin.listTopics()).filter((t) => t.startsWith(DEMO_TOPIC_PREFIX));
    if (old.length > 0) {
      await admin.deleteTopics({ topics: old });
      await admin.deleteGroups(old).catch(() => {});
    }
  } finally {
    await admin.disconnect();
  }
}
