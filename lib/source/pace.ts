/**
 * Pacing of a tick stream: as fast as possible, a steady number of messages per second, or a
 * replay at a multiple of real time by event time; plus the original tutorial's sample mode (one
 * random row every interval, forever). Time comes from an injectable `Clock` (`lib/time.ts`), so
 * tests run on a `ManualClock` without waiting.
 *
 * Pacing schedules by index (tick `i` is due at `start + i / rate`) and only sleeps when it is
 * ahead of schedule by more than a few milliseconds, so high rates cost one timer per few
 * milliseconds rather than one per message. A consumer that falls behind catches up in a burst of
 * at most `maxBurstMs` worth of ticks; beyond that the schedule restarts from now.
 *
 * @module
 */

import type { Tick } from "../tick.ts";
import { type Clock, systemClock } from "../time.ts";

/**
 * How fast {@linkcode pace} lets ticks through:
 * - `{ speed: "max" }`: as fast as the consumer takes them;
 * - `{ rate: n }`: `n` ticks per second, evenly spaced;
 * - `{ speed: x }`: replay by event time, `x` times faster than real time (`1` = real time,
 *   `86400` = one day of ticks per second).
 */
export type PaceMode = { speed: "max" } | { rate: number } | { speed: number };

/** Options of {@linkcode pace}. */
export interface PaceOptions {
  /** Where time comes from. @default systemClock */
  clock?: Clock;
  /** Stops pacing: the stream ends quietly, even in the middle of a sleep. */
  signal?: AbortSignal;
  /** Sleep only when ahead of schedule by more than this many ms. @default 5 */
  aheadMs?: number;
  /** Catch up at most this many ms of schedule in a burst; beyond, restart the schedule. @default 1000 */
  maxBurstMs?: number;
}

/** Raised for a pacing mode or option that cannot be used; the message says what is accepted. */
export class PaceOptionError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PaceOptionError";
  }
}

/**
 * Lets ticks through at the pace of `mode` (see {@linkcode PaceMode}).
 *
 * With `{ speed: x }` the first tick goes at once and anchors event time; a tick is due when the
 * clock has moved `(latest ts seen - first ts) / x` ms. Input should be in time order: a tick
 * earlier than the latest seen is not delayed. (The Kaggle file is ordered by Index then Date, so
 * replay it with `rate` or sort it by Date first.)
 *
 * @throws {PaceOptionError} at once for a rate or speed that is not a positive finite number.
 *
 * @example
 * ```ts ignore
 * import { pace } from "./pace.ts";
 * import { readCsvTicks } from "./csv.ts";
 * for await (const tick of pace(readCsvTicks("data/stock_data.csv"), { rate: 100 })) {
 *   console.log(tick.symbol); // 100 lines per second
 * }
 * ```
 */
export function pace<T extends Pick<Tick, "ts">>(
  ticks: AsyncIterable<T> | Iterable<T>,
  mode: PaceMode,
  options: PaceOptions = {},
): AsyncGenerator<T, void, undefined> {
  const { clock = systemClock, signal, aheadMs = 5, maxBurstMs = 1000 } = options;
  if (!(aheadMs >= 0) || !(maxBurstMs >= 0)) {
    throw new PaceOptionError("The pace options aheadMs and maxBurstMs must be numbers ≥ 0.");
  }
  // Milliseconds of schedule a tick adds: fixed for a rate, from event time for a speed.
  let step: (tick: T) => number;
  if ("rate" in mode) {
    if (!isPositive(mode.rate)) {
      throw new PaceOptionError(
        `The rate must be a positive number of ticks per second, got ${mode.rate}.`,
      );
    }
    const interval = 1000 / mode.rate;
    let index = -1;
    step = () => ++index * interval;
  } else if (mode.speed === "max") {
    return passThrough(ticks, signal);
  } else if (isPositive(mode.speed)) {
    const speed = mode.speed;
    let first: number | undefined;
    let latest = -Infinity;
    step = (tick) => {
      first ??= tick.ts;
      if (tick.ts > latest) latest = tick.ts;
      return (latest - first) / speed;
    };
  } else {
    throw new PaceOptionError(
      `The speed must be "max" or a positive multiple of real time such as 1 or 86400, got ${
        JSON.stringify((mode as { speed: unknown }).speed)
      }.`,
    );
  }
  return schedule(ticks, step, clock, signal, aheadMs, maxBurstMs);
}

function isPositive(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}

async function* passThrough<T>(
  ticks: AsyncIterable<T> | Iterable<T>,
  signal: AbortSignal | undefined,
): AsyncGenerator<T, void, undefined> {
  if (signal?.aborted) return;
  for await (const tick of ticks) {
    if (signal?.aborted) return;
    yield tick;
  }
}

async function* schedule<T>(
  ticks: AsyncIterable<T> | Iterable<T>,
  step: (tick: T) => number,
  clock: Clock,
  signal: AbortSignal | undefined,
  aheadMs: number,
  maxBurstMs: number,
): AsyncGenerator<T, void, undefined> {
  if (signal?.aborted) return;
  let origin: number | undefined;
  for await (const tick of ticks) {
    if (signal?.aborted) return;
    const offset = step(tick);
    const now = clock.now();
    origin ??= now;
    const ahead = origin + offset - now;
    if (ahead > aheadMs) {
      await clock.sleep(ahead, signal);
      if (signal?.aborted) return;
    } else if (-ahead > maxBurstMs) {
      origin = now - offset; // too far behind: restart the schedule instead of bursting
    }
    yield tick;
  }
}

/** Options of {@linkcode sampleTicks}. */
export interface SampleOptions {
  /** Time between two samples. @default 1000 */
  intervalMs?: number;
  /** Uniform random numbers in [0, 1) that pick the rows. @default Math.random */
  random?: () => number;
  /** Stop after this many ticks. @default Infinity (forever) */
  limit?: number;
  /** Where time comes from. @default systemClock */
  clock?: Clock;
  /** Stops sampling: the stream ends quietly, even in the middle of a sleep. */
  signal?: AbortSignal;
  /**
   * Draw with replacement, so a row can come again and sampling never runs out. Without it each
   * row is sent at most once (no (symbol, ts) twice) and the stream ends when every row was
   * sent. @default false
   */
  repeat?: boolean;
}

/**
 * The original tutorial's producer: one random row every `intervalMs`, up to `limit` rows. The
 * first row goes at once; each tick is a copy of its row. Each row is drawn once at most (a random
 * order of the rows), so no tick repeats and the stream ends after the last row; with `repeat`,
 * rows are drawn with replacement and sampling goes on forever, like the original.
 *
 * @throws {PaceOptionError} at once when `rows` is empty or an option is invalid.
 *
 * @example
 * ```ts
 * import { sampleTicks } from "./pace.ts";
 * import { ManualClock } from "../time.ts";
 * import { mulberry32, simulateTicks } from "./simulate.ts";
 * const rows = [...simulateTicks({ count: 10 })];
 * const ticks = sampleTicks(rows, { random: mulberry32(1), limit: 3, clock: new ManualClock() });
 * for await (const tick of ticks) console.log(tick.symbol);
 * ```
 */
export function sampleTicks<T extends object = Tick>(
  rows: readonly T[],
  options: SampleOptions = {},
): AsyncGenerator<T, void, undefined> {
  const {
    intervalMs = 1000,
    random = Math.random,
    limit = Infinity,
    clock = systemClock,
    signal,
    repeat = false,
  } = options;
  if (rows.length === 0) {
    throw new PaceOptionError(
      "Sample mode needs at least one row, but the source gave none. Check the file and its rejects.",
    );
  }
  if (!(Number.isFinite(intervalMs) && intervalMs >= 0)) {
    throw new PaceOptionError(`The sample interval must be a number of ms ≥ 0, got ${intervalMs}.`);
  }
  if (!(limit >= 0 && (Number.isInteger(limit) || limit === Infinity))) {
    throw new PaceOptionError(`The limit must be a whole number ≥ 0, got ${limit}.`);
  }
  async function* generate(): AsyncGenerator<T, void, undefined> {
    const origin = clock.now();
    // Without repeats: a Fisher-Yates shuffle of the row numbers, one step per draw.
    const order = repeat ? [] : Array.from(rows, (_, i) => i);
    const draws = repeat ? limit : Math.min(limit, rows.length);
    for (let i = 0; i < draws; i++) {
      if (signal?.aborted) return;
      const ahead = origin + i * intervalMs - clock.now();
      if (ahead > 0) {
        await clock.sleep(ahead, signal);
        if (signal?.aborted) return;
      }
      let index: number;
      if (repeat) index = Math.min(rows.length - 1, Math.floor(random() * rows.length));
      else {
        const j = i + Math.min(rows.length - 1 - i, Math.floor(random() * (rows.length - i)));
        [order[i], order[j]] = [order[j], order[i]];
        index = order[i];
      }
      yield { ...rows[index] };
    }
  }
  return generate();
}

/**
 * Turns the producer's `--speed` / `--rate` flag values into a {@linkcode PaceMode}: `--speed max`
 * (the default when neither is given), `--speed 86400`, or `--rate 500`.
 *
 * @throws {PaceOptionError} when both flags are given or a value is not accepted; the message
 * names the flag.
 *
 * @example
 * ```ts
 * import { paceModeFromFlags } from "./pace.ts";
 * paceModeFromFlags({ rate: "500" }); // { rate: 500 }
 * paceModeFromFlags({ speed: "max" }); // { speed: "max" }
 * ```
 */
export function paceModeFromFlags(flags: { speed?: string; rate?: string }): PaceMode {
  const { speed, rate } = flags;
  if (speed !== undefined && rate !== undefined) {
    throw new PaceOptionError("Pass either --speed or --rate, not both.");
  }
  if (rate !== undefined) {
    const value = Number(rate);
    if (rate.trim() === "" || !isPositive(value)) {
      throw new PaceOptionError(
        `--rate must be a positive number of messages per second, got "${rate}".`,
      );
    }
    return { rate: value };
  }
  if (speed === undefined || speed.trim().toLowerCase() === "max") return { speed: "max" };
  const value = Number(speed.trim().replace(/x$/i, ""));
  if (speed.trim() === "" || !isPositive(value)) {
    throw new PaceOptionError(
      `--speed must be "max" or a positive multiple of real time such as 1 or 86400, got "${speed}".`,
    );
  }
  return { speed: value };
}
