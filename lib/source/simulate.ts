/**
 * A seeded market simulator: each symbol's price follows a geometric Brownian motion, sampled into
 * OHLCV bars whose high and low come from an intrabar path, so that
 * `high >= max(open, close) >= min(open, close) >= low` always holds. The same options (and seed)
 * give the same ticks, byte for byte, on every machine.
 *
 * @module
 */

import type { Tick } from "../tick.ts";

/** How one simulated symbol starts and converts to US dollars. */
export interface SymbolProfile {
  /** The symbol, e.g. `HSI`. */
  symbol: string;
  /** Price of the first bar's open, in the local currency. */
  price: number;
  /** ISO currency code of the price, e.g. `HKD`. */
  currency: string;
  /** US dollars per unit of the local currency; `close_usd = close * usd`. */
  usd: number;
  /** Typical volume of one day; scaled by the bar interval. */
  volume: number;
  /** Annualised volatility of this symbol. @default the simulation's `volatility` */
  volatility?: number;
}

/**
 * The 14 indices of the Kaggle "Stock Exchange Data" set, with plausible levels for late 2007 and
 * fixed currency-to-USD factors (the Kaggle `CloseUSD` column also uses fixed factors).
 */
export const KAGGLE_SYMBOLS: readonly SymbolProfile[] = Object.freeze([
  { symbol: "NYA", price: 10_000, currency: "USD", usd: 1, volume: 3.5e9, volatility: 0.2 },
  { symbol: "IXIC", price: 2_700, currency: "USD", usd: 1, volume: 2e9, volatility: 0.22 },
  { symbol: "HSI", price: 27_000, currency: "HKD", usd: 0.128, volume: 2e9, volatility: 0.25 },
  {
    symbol: "000001.SS",
    price: 5_500,
    currency: "CNY",
    usd: 0.146,
    volume: 2.5e8,
    volatility: 0.28,
  },
  { symbol: "GSPTSE", price: 14_000, currency: "CAD", usd: 0.79, volume: 2e8, volatility: 0.17 },
  { symbol: "399001.SZ", price: 17_000, currency: "CNY", usd: 0.146, volume: 2e8, volatility: 0.3 },
  { symbol: "NSEI", price: 5_000, currency: "INR", usd: 0.0135, volume: 3e5, volatility: 0.22 },
  { symbol: "GDAXI", price: 7_800, currency: "EUR", usd: 1.21, volume: 1e8, volatility: 0.22 },
  { symbol: "KS11", price: 2_000, currency: "KRW", usd: 0.00089, volume: 4e5, volatility: 0.2 },
  { symbol: "SSMI", price: 9_000, currency: "CHF", usd: 1.09, volume: 5e7, volatility: 0.16 },
  { symbol: "TWII", price: 9_000, currency: "TWD", usd: 0.036, volume: 3e6, volatility: 0.19 },
  { symbol: "J203.JO", price: 28_000, currency: "ZAR", usd: 0.068, volume: 2e8, volatility: 0.2 },
  { symbol: "N225", price: 16_500, currency: "JPY", usd: 0.0092, volume: 1e8, volatility: 0.23 },
  { symbol: "N100", price: 900, currency: "EUR", usd: 1.21, volume: 2e8, volatility: 0.2 },
].map((profile) => Object.freeze(profile)));

/** Options of {@linkcode simulateTicks}. */
export interface SimulateOptions {
  /**
   * Which symbols to simulate: names (a name of {@linkcode KAGGLE_SYMBOLS} takes its profile,
   * any other name starts at 100 USD), full profiles, or a count `n` meaning the first `n` Kaggle
   * symbols (then `SIM15`, `SIM16`, … beyond 14).
   * @default all 14 Kaggle symbols
   */
  symbols?: ReadonlyArray<string | SymbolProfile> | number;
  /** Time of the first bar. @default 2007-10-01T00:00:00Z */
  start?: Date | number;
  /** Bar length in milliseconds (86,400,000 for daily bars, 1,000 for 1 s bars). @default 86_400_000 */
  intervalMs?: number;
  /** Bars per symbol; `Infinity` never ends. @default Infinity */
  count?: number;
  /** Seed of the pseudo-random generator; equal seeds give equal ticks. @default 42 */
  seed?: number;
  /** Annualised drift μ of every symbol. @default 0.05 */
  drift?: number;
  /** Annualised volatility σ of symbols whose profile has none. @default 0.2 */
  volatility?: number;
  /** Skip bars that fall on Saturday or Sunday (UTC), like exchange data. @default false */
  weekdaysOnly?: boolean;
  /** Steps of the intrabar path that sets high and low. @default 16 */
  steps?: number;
  /** Decimals prices are rounded to. @default 6 */
  decimals?: number;
}

/** Raised for a simulator option that cannot be used; the message names it and what it accepts. */
export class SimulateOptionError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "SimulateOptionError";
  }
}

const DAY_MS = 86_400_000;
const YEAR_MS = 365.25 * DAY_MS;

/**
 * Simulates OHLCV ticks. Ticks come **ordered by time across symbols**: all symbols' first bars
 * (in the order of `symbols`), then all second bars, and so on. Each symbol draws from its own
 * random stream seeded by `seed` and its name, so a symbol's path does not depend on which other
 * symbols are simulated with it.
 *
 * Model: `close = open * exp((μ - σ²/2)·dt + σ·√dt·Z)` walked in `steps` substeps (high and low are
 * the path's extremes); the next open gaps slightly from the previous close; volume is the
 * profile's daily volume scaled to the interval with log-normal noise (always > 0); `adj_close` is
 * `close`; `close_usd` is `close * usd`. `dt` is the interval in years (trading years of
 * 365.25 × 5/7 days when `weekdaysOnly`).
 *
 * @throws {SimulateOptionError} at once (not on first iteration) for an invalid option.
 *
 * @example
 * ```ts
 * import { simulateTicks } from "./simulate.ts";
 * const ticks = [...simulateTicks({ symbols: ["NYA", "HSI"], count: 3, seed: 7 })];
 * ticks.length; // 6: NYA, HSI on day 1, then NYA, HSI on day 2, ...
 * ```
 */
export function simulateTicks(options: SimulateOptions = {}): Generator<Tick, void, undefined> {
  const {
    intervalMs = DAY_MS,
    count = Infinity,
    seed = 42,
    drift = 0.05,
    volatility = 0.2,
    weekdaysOnly = false,
    steps = 16,
    decimals = 6,
  } = options;
  const start = options.start === undefined ? Date.UTC(2007, 9, 1) : Number(options.start);
  check(Number.isFinite(start), "start", "must be a valid date or epoch milliseconds");
  check(Number.isFinite(intervalMs) && intervalMs > 0, "intervalMs", "must be a positive number");
  check(
    count >= 0 && (Number.isInteger(count) || count === Infinity),
    "count",
    "must be a whole number ≥ 0 or Infinity",
  );
  check(Number.isFinite(seed), "seed", "must be a finite number");
  check(Number.isFinite(drift), "drift", "must be a finite number such as 0.05");
  check(
    Number.isFinite(volatility) && volatility >= 0,
    "volatility",
    "must be a number ≥ 0 such as 0.2",
  );
  check(
    Number.isInteger(steps) && steps >= 1 && steps <= 10_000,
    "steps",
    "must be a whole number 1..10000",
  );
  check(
    Number.isInteger(decimals) && decimals >= 0 && decimals <= 12,
    "decimals",
    "must be a whole number 0..12",
  );
  check(
    !weekdaysOnly || intervalMs <= DAY_MS,
    "weekdaysOnly",
    "needs intervalMs of one day or less",
  );
  const profiles = resolveSymbols(options.symbols);
  const dt = intervalMs / (weekdaysOnly ? YEAR_MS * 5 / 7 : YEAR_MS);
  return generate({
    profiles,
    start,
    intervalMs,
    count,
    seed,
    drift,
    volatility,
    weekdaysOnly,
    steps,
    decimals,
    dt,
  });
}

function check(ok: boolean, option: string, what: string): void {
  if (!ok) throw new SimulateOptionError(`The simulator option ${option} ${what}.`);
}

function resolveSymbols(symbols: SimulateOptions["symbols"]): SymbolProfile[] {
  if (symbols === undefined) return [...KAGGLE_SYMBOLS];
  if (typeof symbols === "number") {
    check(
      Number.isInteger(symbols) && symbols >= 1,
      "symbols",
      "must be a whole number ≥ 1 or a list of names",
    );
    return Array.from(
      { length: symbols },
      (_, i) => KAGGLE_SYMBOLS[i] ?? defaultProfile(`SIM${i + 1}`),
    );
  }
  check(symbols.length > 0, "symbols", "must name at least one symbol");
  const profiles = symbols.map((entry) => {
    if (typeof entry !== "string") return entry;
    return KAGGLE_SYMBOLS.find((p) => p.symbol === entry) ?? defaultProfile(entry);
  });
  for (const p of profiles) {
    check(
      typeof p.symbol === "string" && p.symbol.trim() !== "",
      "symbols",
      "must not hold an empty name",
    );
    check(
      p.price > 0 && Number.isFinite(p.price),
      "symbols",
      `entry ${p.symbol} needs a price > 0`,
    );
    check(
      p.usd > 0 && Number.isFinite(p.usd),
      "symbols",
      `entry ${p.symbol} needs a usd factor > 0`,
    );
    check(
      p.volume > 0 && Number.isFinite(p.volume),
      "symbols",
      `entry ${p.symbol} needs a volume > 0`,
    );
  }
  const names = new Set(profiles.map((p) => p.symbol));
  check(names.size === profiles.length, "symbols", "must not repeat a name");
  return profiles;
}

function defaultProfile(symbol: string): SymbolProfile {
  return { symbol, price: 100, currency: "USD", usd: 1, volume: 1e6 };
}

interface Plan {
  profiles: SymbolProfile[];
  start: number;
  intervalMs: number;
  count: number;
  seed: number;
  drift: number;
  volatility: number;
  weekdaysOnly: boolean;
  steps: number;
  decimals: number;
  dt: number;
}

function* generate(plan: Plan): Generator<Tick, void, undefined> {
  const { start, intervalMs, count, weekdaysOnly, dt, steps, drift } = plan;
  const scale = 10 ** plan.decimals;
  const round = (x: number) => Math.round(x * scale) / scale;
  const walkers = plan.profiles.map((profile) => {
    const sigma = profile.volatility ?? plan.volatility;
    return {
      profile,
      sigma,
      normal: gaussian(mulberry32(seedFor(plan.seed, profile.symbol))),
      price: profile.price,
      stepDrift: (drift - sigma * sigma / 2) * dt / steps,
      stepSigma: sigma * Math.sqrt(dt / steps),
      volume: profile.volume * intervalMs / DAY_MS,
    };
  });
  let slot = 0;
  for (let bar = 0; bar < count; bar++) {
    let ts = start + slot * intervalMs;
    if (weekdaysOnly) {
      const weekday = new Date(ts).getUTCDay();
      if (weekday === 0 || weekday === 6) {
        const monday = Math.floor(ts / DAY_MS) * DAY_MS + (weekday === 6 ? 2 : 1) * DAY_MS;
        slot = Math.ceil((monday - start) / intervalMs);
        ts = start + slot * intervalMs;
      }
    }
    slot++;
    for (const w of walkers) {
      // A small gap between the previous close and this open, then the intrabar walk.
      const open = bar === 0 ? w.price : w.price * Math.exp(0.2 * w.stepSigma * w.normal());
      let price = open, high = open, low = open;
      for (let s = 0; s < steps; s++) {
        price *= Math.exp(w.stepDrift + w.stepSigma * w.normal());
        if (price > high) high = price;
        if (price < low) low = price;
      }
      w.price = price;
      const close = round(price);
      yield {
        symbol: w.profile.symbol,
        ts,
        open: round(open),
        high: round(high),
        low: round(low),
        close,
        adj_close: close,
        volume: Math.max(1, Math.round(w.volume * Math.exp(0.3 * w.normal() - 0.045))),
        close_usd: round(close * w.profile.usd),
      };
    }
  }
}

/**
 * A small, fast 32-bit pseudo-random generator (mulberry32): uniform numbers in [0, 1), the same
 * sequence for the same seed on every platform. Not for cryptography.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./simulate.ts";
 * const random = mulberry32(42);
 * random() === mulberry32(42)(); // true
 * ```
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws from a uniform generator (Box–Muller, both outputs used). */
function gaussian(random: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - random()));
    const angle = 2 * Math.PI * random();
    spare = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  };
}

/** Mixes the user's seed with a symbol name (FNV-1a), so each symbol has its own stream. */
function seedFor(seed: number, symbol: string): number {
  let hash = 0x811c9dc5 ^ (Math.trunc(seed) >>> 0);
  for (let i = 0; i < symbol.length; i++) {
    hash ^= symbol.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
