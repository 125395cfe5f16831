/**
 * The lake consumer as a process of its own, so a benchmark can watch its memory: runs
 * `consumeToLake` on a topic until `--max-messages` (or `--idle-seconds` of silence) and prints one
 * JSON line ({@linkcode ChildResult}) on stdout.
 *
 * `deno run -A lib/bench/consumer_child.ts --brokers 127.0.0.1:9092 --topic T --group G
 *   --lake /tmp/lake --max-messages 1000000`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { createKafka } from "../kafka/client.ts";
import { consumeToLake } from "../ingest/consume_to_lake.ts";
import { openStore } from "../lake/open_store.ts";
import { loadConfig } from "../config.ts";
import { parseProcStatus } from "./memory.ts";

/** The JSON line the child prints. */
export interface ChildResult {
  /** Rows written to the lake. */
  rowsWritten: number;
  /** Objects written. */
  objectsWritten: number;
  /** Bytes of objects written. */
  bytesWritten: number;
  /** Messages received. */
  messages: number;
  /** From start (connect, group join) to the last commit. */
  elapsedMs: number;
  /** From start to the first progress report that had messages (sent as the first messages arrive). */
  firstMessageMs: number;
  /** Messages received by that first report. */
  firstMessages: number;
  /** Peak resident set of this process (`VmHWM`), read just before exiting. */
  peakRss: number;
  /** V8 heap in use at the end (after the last flush), bytes. */
  heapUsed: number;
  /** Memory outside the V8 heap that JS objects hold (Buffers), bytes. */
  external: number;
  /**
   * Peaks of `Deno.memoryUsage()` sampled every 100 ms while consuming, bytes: where the resident
   * memory goes (V8 heap vs buffers vs the rest: Polars, the allocator, code).
   */
  peaks: { rss: number; heapTotal: number; heapUsed: number; external: number };
  /** Why the consumer stopped. */
  stoppedBy: string;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      brokers: { type: "string" },
      topic: { type: "string" },
      group: { type: "string" },
      lake: { type: "string" },
      "max-messages": { type: "string" },
      "idle-seconds": { type: "string", default: "30" },
      "flush-rows": { type: "string" },
      "flush-seconds": { type: "string" },
      format: { type: "string", default: "parquet" },
      "dt-granularity": { type: "string", default: "day" },
      "max-bytes-per-partition": { type: "string" },
    },
  });
  if (!values.topic || !values.group || !values.lake) {
    console.error("error: consumer_child needs --topic, --group and --lake.");
    Deno.exit(2);
  }
  const number = (text: string | undefined) => text === undefined ? undefined : Number(text);
  // Brokers, lake and the S3 settings (AWS_REGION, AWS_ENDPOINT_URL) come through the one config.
  const config = loadConfig({ flags: { brokers: values.brokers, lake: values.lake } });
  const brokers = config.brokers;
  const peaks = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0 };
  const sample = () => {
    const m = Deno.memoryUsage();
    peaks.rss = Math.max(peaks.rss, m.rss);
    peaks.heapTotal = Math.max(peaks.heapTotal, m.heapTotal);
    peaks.heapUsed = Math.max(peaks.heapUsed, m.heapUsed);
    peaks.external = Math.max(peaks.external, m.external);
  };
  const sampler = setInterval(sample, 100);
  let firstMessageMs = -1;
  let firstMessages = 0;
  const result = await consumeToLake(createKafka({ brokers }), {
    topic: values.topic,
    group: values.group,
    store: openStore(config.lake, { region: config.region, endpoint: config.endpoint }),
    format: values.format as "parquet" | "jsonl",
    // The bench gives every run a fresh group, which starts at the earliest offset; resetting it
    // would refuse a second member of the same group.
    maxMessages: number(values["max-messages"]),
    idleExitSeconds: number(values["idle-seconds"]),
    flushRows: number(values["flush-rows"]),
    flushSeconds: number(values["flush-seconds"]),
    dtGranularity: values["dt-granularity"] as "day" | "month" | "year",
    maxBytesPerPartition: number(values["max-bytes-per-partition"]),
    brokers,
    onProgress: (p) => {
      if (firstMessageMs < 0 && p.messages > 0) {
        firstMessageMs = p.elapsedMs;
        firstMessages = p.messages;
      }
    },
  });
  clearInterval(sampler);
  sample();
  const out: ChildResult = {
    rowsWritten: result.rowsWritten,
    objectsWritten: result.objectsWritten,
    bytesWritten: result.bytesWritten,
    messages: result.messages,
    elapsedMs: result.elapsedMs,
    firstMessageMs,
    firstMessages,
    peakRss: parseProcStatus(await Deno.readTextFile("/proc/self/status")).hwm,
    heapUsed: Deno.memoryUsage().heapUsed,
    external: Deno.memoryUsage().external,
    stoppedBy: result.stoppedBy,
    peaks,
  };
  console.log(JSON.stringify(out));
  Deno.exit(0);
}
