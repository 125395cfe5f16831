/**
 * Test fixtures for the catalog and query modules: deterministic ticks, a lake written in the
 * project's layout (`ticks/dt=YYYY-MM-DD/<topic>+<partition>+<offset>.parquet|.jsonl`).
 *
 * @module
 */

import { encodeTicks } from "../lake/encode.ts";
import { type DtGranularity, objectKey, widenDt } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { type Tick, utcDate } from "../tick.ts";

/** Options of {@linkcode sampleTicks}. */
export interface SampleTicksOptions {
  /** Symbols to generate. @default ["AAA", "B.X", "000001.SS"] */
  symbols?: string[];
  /** First day, `YYYY-MM-DD`. @default "2021-01-01" */
  from?: string;
  /** How many calendar days. @default 75 */
  days?: number;
  /** Seed of the pseudo-random walk. @default 7 */
  seed?: number;
}

/**
 * Deterministic ticks: a random walk per symbol, one to three bars a day at varying hours (so
 * day, week and month boundaries are crossed at odd times), some days skipped, some optional
 * prices `null` and some volumes 0. Returned shuffled, as a lake would hold them.
 */
export function sampleTicks(options: SampleTicksOptions = {}): Tick[] {
  const symbols = options.symbols ?? ["AAA", "B.X", "000001.SS"];
  const start = Date.parse(`${options.from ?? "2021-01-01"}T00:00:00Z`);
  const days = options.days ?? 75;
  let state = options.seed ?? 7;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const ticks: Tick[] = [];
  for (const symbol of symbols) {
    let price = 50 + random() * 100;
    for (let day = 0; day < days; day++) {
      if (random() < 0.15) continue;
      const bars = 1 + Math.floor(random() * 3);
      for (let bar = 0; bar < bars; bar++) {
        const ts = start + day * 86_400_000 + Math.floor(random() * 86_400) * 1000;
        const open = price;
        price = Math.max(1, price * (1 + (random() - 0.5) * 0.06));
        const close = Math.round(price * 1e4) / 1e4;
        const high = Math.max(open, close) * (1 + random() * 0.01);
        const low = Math.min(open, close) * (1 - random() * 0.01);
        const missing = random() < 0.05;
        ticks.push({
          symbol,
          ts,
          open: missing ? null : open,
          high: missing ? null : high,
          low: missing ? null : low,
          close,
          adj_close: close,
          volume: random() < 0.1 ? 0 : Math.floor(random() * 1e6),
          close_usd: symbol === "000001.SS" ? close * 0.15 : null,
        });
      }
    }
  }
  // Deterministic shuffle, so engines must order by ts themselves.
  for (let i = ticks.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [ticks[i], ticks[j]] = [ticks[j], ticks[i]];
  }
  return ticks;
}

/** Options of {@linkcode writeTestLake}. */
export interface WriteTestLakeOptions {
  /** Object format. @default "parquet" */
  format?: "parquet" | "jsonl" | "jsonl.gz";
  /** Objects per `dt` partition (ticks are dealt round-robin, like Kafka partitions). @default 2 */
  objectsPerPartition?: number;
  /** Width of a `dt` partition, as the consumer's `--dt-granularity`. @default "day" */
  dtGranularity?: DtGranularity;
}

/**
 * Writes ticks into a lake (any store) in the project's layout and returns the keys written.
 * Parquet columns: symbol (string), ts (UTC ms timestamp), the price columns (double).
 */
export async function writeTestLake(
  store: Store,
  ticks: Tick[],
  options: WriteTestLakeOptions = {},
): Promise<string[]> {
  const format = options.format ?? "parquet";
  const perPartition = options.objectsPerPartition ?? 2;
  const groups = new Map<string, Tick[][]>();
  ticks.forEach((tick, i) => {
    const dt = widenDt(utcDate(tick.ts), options.dtGranularity ?? "day");
    if (!groups.has(dt)) groups.set(dt, Array.from({ length: perPartition }, () => []));
    groups.get(dt)![i % perPartition].push(tick);
  });
  const keys: string[] = [];
  for (const [dt, parts] of groups) {
    for (const [partition, part] of parts.entries()) {
      if (part.length === 0) continue;
      const key = objectKey({
        dt,
        topic: "stock_market",
        partition,
        startOffset: partition * 1000,
        format: format === "parquet" ? "parquet" : "jsonl",
        gzip: format === "jsonl.gz",
      });
      await store.put(
        key,
        encodeTicks(part, {
          format: format === "parquet" ? "parquet" : "jsonl",
          gzip: format === "jsonl.gz",
        }),
      );
      keys.push(key);
    }
  }
  return keys.sort();
}
