/**
 * End-to-end freshness: how long after a tick is produced it is in a durable lake object. Ticks are
 * produced at a steady rate with `ts` = their scheduled send time; the lake consumer
 * (`consumeToLake`, in this process) writes through a store that notes when each object's `put`
 * resolved; afterwards every object is read back and each row's freshness is
 * `durable time − ts`. The flush setting under test is `flushSeconds` (rows and bytes triggers are
 * set out of reach, so the age trigger alone decides).
 *
 * @module
 */

import type { Kafka } from "kafkajs";
import { consumeToLake } from "../ingest/consume_to_lake.ts";
import { createTickProducer, produceTicks } from "../kafka/producer.ts";
import { decodeParquet } from "../lake/encode.ts";
import type { Store, StoredObject } from "../lake/store.ts";
import type { Tick } from "../tick.ts";
import { benchTicks } from "./data.ts";
import { percentile } from "./stats.ts";
import { sleep } from "../time.ts";

/** A freshness figure. */
export interface FreshnessFigure {
  /** The sink's age trigger under test, seconds. */
  flushSeconds: number;
  /** Ticks produced per second. */
  rate: number;
  /** Rows measured (every row produced, read back from the lake). */
  rows: number;
  /** Median produce → durable time, ms. */
  p50Ms: number;
  /** 99th percentile produce → durable time, ms. */
  p99Ms: number;
  /** Largest produce → durable time, ms. */
  maxMs: number;
}

/** Options of {@linkcode benchFreshness}. */
export interface FreshnessOptions {
  /** An existing, empty topic. */
  topic: string;
  /** A fresh consumer group. */
  group: string;
  /** An empty lake the consumer writes to (read back afterwards). */
  store: Store;
  /** The sink's age trigger, seconds. */
  flushSeconds: number;
  /** Ticks per second. */
  rate: number;
  /** How long to produce, seconds. */
  durationSeconds: number;
  /** Bootstrap servers, for error messages. */
  brokers?: string[];
}

/** Raised when the freshness run cannot finish; says what went wrong. */
export class FreshnessBenchError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "FreshnessBenchError";
  }
}

/** A store that remembers when each `put` became durable (epoch ms). */
class TimedStore implements Store {
  readonly durableAt = new Map<string, number>();
  readonly #inner: Store;
  constructor(inner: Store) {
    this.#inner = inner;
  }
  get uri(): string {
    return this.#inner.uri;
  }
  async put(key: string, body: Uint8Array): Promise<void> {
    await this.#inner.put(key, body);
    this.durableAt.set(key, Date.now());
  }
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    return this.#inner.putIfAbsent(key, body);
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.#inner.get(key);
  }
  list(prefix: string): AsyncIterable<StoredObject> {
    return this.#inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.#inner.delete(key);
  }
}

/**
 * Ticks at `rate` per second for `durationSeconds`, each stamped with its scheduled send time, so
 * a producer that falls behind shows up as staleness instead of hiding it.
 */
async function* pacedTicks(rate: number, durationSeconds: number): AsyncGenerator<Tick> {
  const total = Math.round(rate * durationSeconds);
  const start = Date.now();
  let i = 0;
  for (const tick of benchTicks(total)) {
    const due = start + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 1) await sleep(wait);
    yield { ...tick, ts: Math.round(due) };
    i++;
  }
}

/**
 * Produces and consumes at the same time and measures every row's produce → durable time.
 *
 * @example
 * ```ts ignore
 * import { benchFreshness } from "./freshness.ts";
 * import { createKafka } from "../kafka/client.ts";
 * import { openStore } from "../lake/open_store.ts";
 * const figure = await benchFreshness(createKafka({ brokers: ["127.0.0.1:9092"] }), {
 *   topic: "bench-x-fresh", group: "bench-x-fresh", store: openStore("/tmp/fresh-lake"),
 *   flushSeconds: 5, rate: 2000, durationSeconds: 30,
 * });
 * ```
 * @throws {FreshnessBenchError} when the consumer never joins or rows go missing.
 */
export async function benchFreshness(
  kafka: Kafka,
  options: FreshnessOptions,
): Promise<FreshnessFigure> {
  const store = new TimedStore(options.store);
  const stop = new AbortController();
  let written = 0;
  let writtenBefore = 0;
  const consuming = consumeToLake(kafka, {
    topic: options.topic,
    group: options.group,
    store,
    flushSeconds: options.flushSeconds,
    flushRows: 100_000_000,
    flushBytes: 1024 ** 4,
    fromBeginning: true,
    signal: stop.signal,
    brokers: options.brokers,
    onProgress: (p) => written = p.rowsWritten - writtenBefore,
  });
  let produced = 0;
  try {
    await waitForStableGroup(kafka, options.group, consuming);
    const producer = createTickProducer(kafka);
    await producer.connect();
    try {
      // Warm-up: one tick through the whole path, so the consumer's first (long-poll) fetch and
      // the producer's first metadata round trip are not counted as staleness.
      const warmUp = await produceTicks(producer, pacedTicks(1, 1), { topic: options.topic });
      await waitFor(() => written >= warmUp.sent, (options.flushSeconds + 30) * 1000);
      store.durableAt.clear();
      writtenBefore += written;
      written = 0;
      const result = await produceTicks(
        producer,
        pacedTicks(options.rate, options.durationSeconds),
        { topic: options.topic, brokers: options.brokers },
      );
      produced = result.sent;
    } finally {
      await producer.disconnect();
    }
    // Every row must reach the lake through the age trigger, not the final flush at stop.
    await waitFor(() => written >= produced, (options.flushSeconds + 30) * 1000);
  } finally {
    stop.abort();
  }
  await consuming;
  if (written < produced) {
    throw new FreshnessBenchError(
      `Only ${written} of ${produced} rows reached the lake within flushSeconds + 30 s; ` +
        "is the consumer keeping up? Lower the rate.",
    );
  }
  const latencies: number[] = [];
  for (const [key, durableAt] of store.durableAt) {
    if (!key.endsWith(".parquet")) continue;
    const bytes = await store.get(key);
    if (!bytes) throw new FreshnessBenchError(`Object ${key} vanished from the lake.`);
    for (const tick of decodeParquet(bytes)) latencies.push(durableAt - tick.ts);
  }
  return freshnessFigure(latencies, options);
}

/**
 * Sums up produce → durable times (ms) into a {@linkcode FreshnessFigure}.
 *
 * @example
 * ```ts
 * import { freshnessFigure } from "./freshness.ts";
 * freshnessFigure([1000, 2000, 3000], { flushSeconds: 2, rate: 10 }).p50Ms; // 2000
 * ```
 * @throws {RangeError} for no latencies.
 */
export function freshnessFigure(
  latencies: number[],
  options: { flushSeconds: number; rate: number },
): FreshnessFigure {
  return {
    flushSeconds: options.flushSeconds,
    rate: options.rate,
    rows: latencies.length,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: percentile(latencies, 100),
  };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) {
    await sleep(50);
  }
}

async function waitForStableGroup(
  kafka: Kafka,
  group: string,
  consuming: Promise<unknown>,
): Promise<void> {
  let failed: unknown;
  consuming.catch((error) => failed = error ?? new Error("consumer failed"));
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (failed) throw failed;
      const { groups } = await admin.describeGroups([group]);
      if (groups[0]?.state === "Stable" && groups[0].members.length > 0) return;
      await sleep(200);
    }
    throw new FreshnessBenchError(
      `Consumer group ${group} did not become stable within 60 s: check the broker's logs.`,
    );
  } finally {
    await admin.disconnect();
  }
}
