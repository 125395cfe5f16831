/**
 * Small statistics for benchmark figures: percentiles, medians and rates.
 *
 * @module
 */

/**
 * The `p`-th percentile of `values` by the nearest-rank method (the smallest value with at least
 * `p`% of the values at or below it), so it is always one of the measured values.
 *
 * @example
 * ```ts
 * import { percentile } from "./stats.ts";
 * percentile([5, 1, 4, 2, 3], 50); // 3
 * percentile([5, 1, 4, 2, 3], 99); // 5
 * ```
 * @throws {RangeError} for an empty list, a non-finite value or `p` outside 0..100.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) {
    throw new RangeError(`Percentile must be between 0 and 100, got ${p}.`);
  }
  if (values.length === 0) {
    throw new RangeError("Cannot take a percentile of no values: measure at least one.");
  }
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  if (!Number.isFinite(sorted[0]) || !Number.isFinite(sorted[sorted.length - 1])) {
    throw new RangeError("Cannot take a percentile of non-finite values (NaN or Infinity).");
  }
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/**
 * The median of `values` (the 50th percentile by nearest rank).
 *
 * @example
 * ```ts
 * import { median } from "./stats.ts";
 * median([30, 10, 20]); // 20
 * ```
 * @throws {RangeError} for an empty list.
 */
export function median(values: ArrayLike<number>): number {
  return percentile(values, 50);
}

/**
 * Items per second from a count and a duration in milliseconds; 0 for a zero duration.
 *
 * @example
 * ```ts
 * import { perSecond } from "./stats.ts";
 * perSecond(5000, 2000); // 2500
 * ```
 */
export function perSecond(count: number, elapsedMs: number): number {
  return elapsedMs > 0 ? count / (elapsedMs / 1000) : 0;
}

/** The median, min and max of repeated measurements of one figure. */
export interface Spread {
  /** Median (nearest rank, so one of the runs). */
  median: number;
  /** Smallest run. */
  min: number;
  /** Largest run. */
  max: number;
  /** Every run, in the order measured. */
  runs: number[];
}

/**
 * The {@linkcode Spread} of repeated measurements.
 *
 * @example
 * ```ts
 * import { spread } from "./stats.ts";
 * spread([30, 10, 20]); // { median: 20, min: 10, max: 30, runs: [30, 10, 20] }
 * ```
 * @throws {RangeError} for an empty list.
 */
export function spread(runs: readonly number[]): Spread {
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs: [...runs] };
}
