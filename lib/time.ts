/**
 * Time in one place: the one `sleep`, the one {@linkcode Clock} type that pacing, the sink and
 * the checkpoint log read, the real clock and a manual one for tests.
 *
 * @module
 */

import { setTimeout as wait } from "node:timers/promises";

/**
 * Resolves after `ms`, or rejects with the signal's reason once it aborts (at once if it already
 * has).
 *
 * @example
 * ```ts
 * import { sleep } from "./time.ts";
 * await sleep(10);
 * ```
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  try {
    await wait(ms, undefined, { signal });
  } catch (error) {
    throw signal?.aborted ? signal.reason : error;
  }
}

/**
 * A source of time: milliseconds since the epoch on a monotonic scale, and a way to wait. Pacing
 * and flush ages use only differences; the checkpoint log writes `now()` as a date.
 */
export interface Clock {
  /** The current time in milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds, or early (never rejecting) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/**
 * The real clock: `performance.timeOrigin + performance.now()` (epoch milliseconds that never jump
 * back) and {@linkcode sleep}.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: async (ms, signal) => {
    if (ms <= 0 || signal?.aborted) return;
    await sleep(ms, signal).catch(() => {});
  },
};

/** Options of {@linkcode ManualClock}. */
export interface ManualClockOptions {
  /** The time the clock starts at. @default 0 */
  start?: number;
  /**
   * When true, `sleep(ms)` moves the clock forward by `ms` and resolves at once, so paced code runs
   * at full speed while the clock records when each step would have happened. When false, sleeps
   * wait for {@linkcode ManualClock.advance}.
   * @default true
   */
  autoAdvance?: boolean;
}

/**
 * A clock for tests that only moves when told to (or, with `autoAdvance`, by exactly as much as
 * the code under test sleeps).
 *
 * @example
 * ```ts
 * import { ManualClock } from "./time.ts";
 * import { pace } from "./source/pace.ts";
 * import { simulateTicks } from "./source/simulate.ts";
 * const clock = new ManualClock();
 * const times: number[] = [];
 * for await (const _ of pace(simulateTicks({ symbols: 1, count: 3 }), { rate: 10 }, { clock })) {
 *   times.push(clock.now());
 * }
 * times; // [0, 100, 200]
 * ```
 */
export class ManualClock implements Clock {
  /** Every sleep requested, in milliseconds, in order. */
  readonly sleeps: number[] = [];
  #now: number;
  readonly #autoAdvance: boolean;
  #sleepers: { until: number; resolve: () => void; signal?: AbortSignal; onAbort: () => void }[] =
    [];
  #sleepWaiters: (() => void)[] = [];

  /** Creates a clock at `start`. */
  constructor(options: ManualClockOptions = {}) {
    this.#now = options.start ?? 0;
    this.#autoAdvance = options.autoAdvance ?? true;
  }

  /** The current fake time. */
  now(): number {
    return this.#now;
  }

  /** Records the sleep; advances at once (auto mode) or waits for {@linkcode advance}. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.resolve();
    if (this.#autoAdvance) {
      this.#now += Math.max(0, ms);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const sleeper = {
        until: this.#now + ms,
        resolve,
        signal,
        onAbort: () => {
          this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
          resolve();
        },
      };
      signal?.addEventListener("abort", sleeper.onAbort, { once: true });
      this.#sleepers.push(sleeper);
      const waiters = this.#sleepWaiters;
      this.#sleepWaiters = [];
      for (const wake of waiters) wake();
    });
  }

  /** Moves the clock forward and wakes every sleeper whose time has come. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
    for (const sleeper of due) {
      sleeper.signal?.removeEventListener("abort", sleeper.onAbort);
      sleeper.resolve();
    }
  }

  /** How many sleeps are waiting for {@linkcode advance}. */
  get pending(): number {
    return this.#sleepers.length;
  }

  /** Resolves as soon as some code is sleeping on this clock (at once if it already is). */
  untilSleeping(): Promise<void> {
    if (this.#sleepers.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#sleepWaiters.push(resolve));
  }
}
