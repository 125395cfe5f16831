/**
 * The ticks every benchmark sends: simulated one-minute bars of the 14 Kaggle symbols from
 * 2007-10-01, seeded, so 10M rows span about 16 months (enough for a monthly OHLC) and every run
 * sends the same bytes.
 *
 * @module
 */

import { simulateTicks } from "../source/simulate.ts";
import { encodeTick, type Tick } from "../tick.ts";

/** Bar length of the benchmark ticks: one minute. */
export const BENCH_INTERVAL_MS = 60_000;

/** Seed of the benchmark ticks. */
export const BENCH_SEED = 42;

/**
 * The first `count` benchmark ticks, generated lazily (10M ticks never sit in memory at once).
 *
 * @example
 * ```ts
 * import { benchTicks } from "./data.ts";
 * const first = [...benchTicks(3)]; // NYA, IXIC, HSI at 2007-10-01T00:00Z
 * ```
 * @throws {RangeError} for a count that is not a whole number ≥ 0.
 */
export function* benchTicks(count: number): Generator<Tick, void, undefined> {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`The tick count must be a whole number of at least 0, got ${count}.`);
  }
  let left = count;
  for (const tick of simulateTicks({ intervalMs: BENCH_INTERVAL_MS, seed: BENCH_SEED })) {
    if (left-- <= 0) return;
    yield tick;
  }
}

/**
 * Mean size in bytes of the JSON wire form (the Kafka record value) of the first `sample`
 * benchmark ticks.
 *
 * @example
 * ```ts
 * import { meanRecordBytes } from "./data.ts";
 * meanRecordBytes(1000); // about 188
 * ```
 */
export function meanRecordBytes(sample = 10_000): number {
  let bytes = 0;
  let n = 0;
  for (const tick of benchTicks(sample)) {
    bytes += new TextEncoder().encode(encodeTick(tick)).length;
    n++;
  }
  return n === 0 ? 0 : bytes / n;
}

/**
 * Writes the wire form of the first `count` benchmark ticks, one per line, so Kafka's own producer
 * perf test (`--payload-file`) sends the very same record values.
 */
export async function writePayloadFile(path: string, count = 10_000): Promise<void> {
  const lines: string[] = [];
  for (const tick of benchTicks(count)) lines.push(encodeTick(tick));
  await Deno.writeTextFile(path, lines.join("\n") + "\n");
}
