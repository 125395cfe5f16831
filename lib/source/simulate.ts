/**
 * A seeded market simulator for the 14 indices of the Kaggle "Stock Exchange Data" set, in two
 * forms:
 *
 * - {@linkcode simulateTicks}: bars from a start date at a fixed interval (historical daily bars
 *   with `calendar: true`, skipping weekends and each exchange's holidays, as in the real file);
 * - {@linkcode liveTicks}: real time, one tick per index every interval, stamped with the current
 *   time, so a live run lands in today's `dt`.
 *
 * Each index is calibrated ({@linkcode KAGGLE_SYMBOLS}): its level follows a trend through
 * anchor levels of its real history, with the index's own volatility, pulled back towards the
 * trend (mean reversion) and kept inside a band around it, so no index drifts to levels it never
 * had. High and low come from an intrabar path, so
 * `high >= max(open, close) >= min(open, close) >= low` always holds. With `quirks`, bars have the
 * real file's oddities: days with volume 0 and flat bars (open = high = low = close). The same
 * options (and seed) give the same ticks, byte for byte, on every machine.
 *
 * @module
 */

import type { Tick } from "../tick.ts";
import { type Clock, systemClock } from "../time.ts";
import { type Exchange, isTradingDay } from "./calendar.ts";

/** How one simulated symbol moves, trades and converts to US dollars. */
export interface SymbolProfile {
  /** The symbol, e.g. `HSI`. */
  symbol: string;
  /**
   * Level of the first bar's open, in the local currency, for a profile without `anchors`. (For
   * the Kaggle indices: the level on 2007-10-01, for reference; their trend sets the start.)
   */
  price: number;
  /** ISO currency code of the price, e.g. `HKD`. */
  currency: string;
  /** US dollars per unit of the local currency; `close_usd = close * usd`. */
  usd: number;
  /** Typical volume of one day; scaled by the bar interval. */
  volume: number;
  /** Annualised volatility of this symbol. @default the simulation's `volatility` */
  volatility?: number;
  /** The exchange whose trading days the index keeps with `calendar`. @default weekdays only */
  exchange?: Exchange;
  /**
   * The trend: `{ "YYYY-MM-DD": level }`, the index's approximate real level on those days. Between two anchors the trend moves at a constant rate; before the first and
   * after the last it moves at `drift`. Without anchors the level is a geometric Brownian motion
   * from `price`.
   */
  anchors?: Readonly<Record<string, number>>;
  /** Annual growth of the trend before the first and after the last anchor (log). @default 0.05 */
  drift?: number;
  /** The band the level stays in: `[low, high]` multiples of the trend. @default [0.6, 1.45] */
  band?: readonly [number, number];
  /** Share of days with volume 0, with `quirks`. @default 0 */
  zeroVolume?: number;
  /** Share of flat bars (open = high = low = close, volume 0), with `quirks`. @default 0 */
  flatBars?: number;
}

const PROFILES: SymbolProfile[] = [
  {
    symbol: "NYA",
    price: 10_100,
    currency: "USD",
    usd: 1,
    volume: 3.5e9,
    volatility: 0.17,
    exchange: "NYSE",
    anchors: {
      "1990-01-02": 1_950,
      "2000-01-03": 6_800,
      "2007-10-01": 10_100,
      "2021-06-01": 16_600,
    },
    drift: 0.05,
    zeroVolume: 0.002,
  },
  {
    symbol: "IXIC",
    price: 2_740,
    currency: "USD",
    usd: 1,
    volume: 2e9,
    volatility: 0.22,
    exchange: "NYSE",
    anchors: { "1990-01-02": 460, "2000-01-03": 4_130, "2007-10-01": 2_740, "2021-06-01": 13_750 },
    drift: 0.09,
    zeroVolume: 0.002,
  },
  {
    symbol: "HSI",
    price: 27_100,
    currency: "HKD",
    usd: 0.128,
    volume: 2e9,
    volatility: 0.24,
    exchange: "HKEX",
    anchors: {
      "1990-01-02": 2_840,
      "2000-01-03": 17_400,
      "2007-10-02": 27_100,
      "2021-06-01": 29_500,
    },
    drift: 0.03,
    zeroVolume: 0.01,
    flatBars: 0.004,
  },
  {
    symbol: "000001.SS",
    price: 5_600,
    currency: "CNY",
    usd: 0.146,
    volume: 2.5e8,
    volatility: 0.26,
    exchange: "SSE",
    anchors: { "1997-07-02": 1_200, "2000-01-04": 1_370, "2007-10-08": 5_600, "2021-06-01": 3_600 },
    drift: 0.03,
    zeroVolume: 0.005,
  },
  {
    symbol: "GSPTSE",
    price: 14_100,
    currency: "CAD",
    usd: 0.79,
    volume: 2e8,
    volatility: 0.15,
    exchange: "TSX",
    anchors: {
      "1990-01-02": 3_970,
      "2000-01-04": 8_400,
      "2007-10-01": 14_100,
      "2021-06-01": 20_000,
    },
    drift: 0.04,
    zeroVolume: 0.01,
  },
  {
    symbol: "399001.SZ",
    price: 17_500,
    currency: "CNY",
    usd: 0.146,
    volume: 2e8,
    volatility: 0.29,
    exchange: "SSE",
    anchors: {
      "1997-07-02": 4_300,
      "2000-01-04": 3_400,
      "2007-10-08": 17_500,
      "2021-06-01": 14_800,
    },
    drift: 0.03,
    zeroVolume: 0.005,
  },
  {
    symbol: "NSEI",
    price: 5_070,
    currency: "INR",
    usd: 0.0135,
    volume: 3e5,
    volatility: 0.21,
    exchange: "NSE",
    anchors: { "1996-01-01": 950, "2000-01-03": 1_590, "2007-10-01": 5_070, "2021-06-01": 15_600 },
    drift: 0.09,
    zeroVolume: 0.03,
  },
  {
    symbol: "GDAXI",
    price: 7_900,
    currency: "EUR",
    usd: 1.21,
    volume: 1e8,
    volatility: 0.22,
    exchange: "XETRA",
    anchors: {
      "1990-01-02": 1_800,
      "2000-01-03": 6_750,
      "2007-10-01": 7_900,
      "2021-06-01": 15_600,
    },
    drift: 0.05,
    zeroVolume: 0.005,
  },
  {
    symbol: "KS11",
    price: 1_950,
    currency: "KRW",
    usd: 0.00089,
    volume: 4e5,
    volatility: 0.21,
    exchange: "KRX",
    anchors: { "1990-01-03": 900, "2000-01-04": 1_060, "2007-10-01": 1_950, "2021-06-01": 3_220 },
    drift: 0.04,
    zeroVolume: 0.005,
  },
  {
    symbol: "SSMI",
    price: 9_000,
    currency: "CHF",
    usd: 1.09,
    volume: 5e7,
    volatility: 0.17,
    exchange: "SIX",
    anchors: {
      "1990-01-03": 1_800,
      "2000-01-04": 7_300,
      "2007-10-01": 9_000,
      "2021-06-01": 11_400,
    },
    drift: 0.03,
    zeroVolume: 0.02,
  },
  {
    symbol: "TWII",
    price: 9_400,
    currency: "TWD",
    usd: 0.036,
    volume: 3e6,
    volatility: 0.21,
    exchange: "TWSE",
    anchors: {
      "1990-01-04": 12_000,
      "2000-01-04": 8_700,
      "2007-10-01": 9_400,
      "2021-06-01": 17_100,
    },
    drift: 0.04,
    zeroVolume: 0.01,
  },
  {
    symbol: "J203.JO",
    price: 29_000,
    currency: "ZAR",
    usd: 0.068,
    volume: 2e8,
    volatility: 0.17,
    exchange: "JSE",
    anchors: { "2000-01-04": 8_400, "2007-10-01": 29_000, "2021-06-01": 67_000 },
    drift: 0.06,
    zeroVolume: 1,
  },
  {
    symbol: "N225",
    price: 16_800,
    currency: "JPY",
    usd: 0.0092,
    volume: 1e8,
    volatility: 0.23,
    exchange: "JPX",
    anchors: {
      "1990-01-04": 38_700,
      "2000-01-04": 18_900,
      "2007-10-01": 16_800,
      "2021-06-01": 28_900,
    },
    drift: 0.03,
    zeroVolume: 0.01,
    flatBars: 0.002,
  },
  {
    symbol: "N100",
    price: 1_020,
    currency: "EUR",
    usd: 1.21,
    volume: 2e8,
    volatility: 0.19,
    exchange: "EURONEXT",
    anchors: { "2000-01-03": 1_000, "2007-10-01": 1_020, "2021-06-01": 1_260 },
    drift: 0.03,
    zeroVolume: 0.005,
    flatBars: 0.002,
  },
];

/**
 * The 14 indices of the Kaggle "Stock Exchange Data" set. Anchor levels are rounded closes of each
 * index near those dates, volatilities its long-run annualised daily volatility and drifts its
 * long-run growth, all approximate, from the indices' public histories (see `data/README.md`).
 * Currency factors are fixed, as the Kaggle `CloseUSD` column's are.
 */
export const KAGGLE_SYMBOLS: readonly SymbolProfile[] = Object.freeze(
  PROFILES.map((profile) => Object.freeze(profile)),
);

/** The band around the trend when a profile gives none: 0.6× to 1.45× the trend level. */
export const DEFAULT_BAND: readonly [number, number] = Object.freeze([0.6, 1.45] as const);

/** Mean reversion towards the trend, per year: a deviation halves in about 8 months. */
const REVERSION = 1;

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
  /** Bars per symbol; `Infinity` never ends (or ends at `end`). @default Infinity */
  count?: number;
  /** No bar at or after this time (e.g. now, for history up to today). @default never */
  end?: Date | number;
  /** Seed of the pseudo-random generator; equal seeds give equal ticks. @default 42 */
  seed?: number;
  /** Annualised drift μ of symbols without anchors. @default 0.05 */
  drift?: number;
  /** Annualised volatility σ of symbols whose profile has none. @default 0.2 */
  volatility?: number;
  /** Skip bars that fall on Saturday or Sunday (UTC), for every symbol. @default false */
  weekdaysOnly?: boolean;
  /**
   * Skip weekends and each symbol's exchange holidays (`profile.exchange`), like the real daily
   * bars: symbols of different exchanges then skip different days. Needs bars of a day or less.
   * @default false
   */
  calendar?: boolean;
  /** Zero-volume days and flat bars at each profile's rates, like the real file. @default false */
  quirks?: boolean;
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
/** A year of trading days (about 252) in milliseconds of calendar time. */
const TRADING_YEAR_MS = 252 * DAY_MS;
/** A year of trading hours (252 sessions of 6.5 h), for intraday (live) ticks. */
const TRADING_HOURS_YEAR_MS = 252 * 6.5 * 3_600_000;
/** One trading session, for scaling a day's volume to intraday ticks. */
const SESSION_MS = 6.5 * 3_600_000;

/**
 * Simulates OHLCV bars from `start`. Ticks come **ordered by time across symbols**: all symbols'
 * first bars (in the order of `symbols`), then all second bars, and so on (with `calendar`, a
 * symbol whose exchange is closed that day has no bar). Each symbol draws from its own random
 * stream seeded by `seed` and its name, so a symbol's path does not depend on which other symbols
 * are simulated with it.
 *
 * Model, per intrabar step of `dt` years (trading time): for an index with anchors, the log level
 * follows the trend `m(t)` and reverts to it, `x += Δm + κ·(m − x)·dt + σ·√dt·Z`, reflected into
 * the band `[m + ln low, m + ln high]`; without anchors it is a geometric Brownian motion,
 * `x += (μ − σ²/2)·dt + σ·√dt·Z`. High and low are the path's extremes; the next open gaps
 * slightly from the previous close; volume is the profile's daily volume scaled to the interval
 * with log-normal noise (always > 0 unless a quirk makes it 0); `adj_close` is `close`;
 * `close_usd` is `close * usd`.
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
    calendar = false,
    quirks = false,
    steps = 16,
    decimals = 6,
  } = options;
  const start = options.start === undefined ? Date.UTC(2007, 9, 1) : Number(options.start);
  const end = options.end === undefined ? Infinity : Number(options.end);
  check(Number.isFinite(start), "start", "must be a valid date or epoch milliseconds");
  check(!Number.isNaN(end), "end", "must be a valid date or epoch milliseconds");
  check(Number.isFinite(intervalMs) && intervalMs > 0, "intervalMs", "must be a positive number");
  check(
    count >= 0 && (Number.isInteger(count) || count === Infinity),
    "count",
    "must be a whole number ≥ 0 or Infinity",
  );
  checkCommon({ seed, drift, volatility, steps, decimals });
  check(
    !weekdaysOnly || intervalMs <= DAY_MS,
    "weekdaysOnly",
    "needs intervalMs of one day or less",
  );
  check(!calendar || intervalMs <= DAY_MS, "calendar", "needs intervalMs of one day or less");
  const profiles = resolveSymbols(options.symbols);
  const yearMs = calendar ? TRADING_YEAR_MS : weekdaysOnly ? YEAR_MS * 5 / 7 : YEAR_MS;
  return generate({
    profiles,
    start,
    end,
    intervalMs,
    count,
    seed,
    drift,
    volatility,
    skipWeekends: weekdaysOnly || calendar,
    calendar,
    quirks,
    steps,
    decimals,
    dt: intervalMs / yearMs,
  });
}

function check(ok: boolean, option: string, what: string): void {
  if (!ok) throw new SimulateOptionError(`The simulator option ${option} ${what}.`);
}

function checkCommon(o: {
  seed: number;
  drift: number;
  volatility: number;
  steps: number;
  decimals: number;
}): void {
  check(Number.isFinite(o.seed), "seed", "must be a finite number");
  check(Number.isFinite(o.drift), "drift", "must be a finite number such as 0.05");
  check(
    Number.isFinite(o.volatility) && o.volatility >= 0,
    "volatility",
    "must be a number ≥ 0 such as 0.2",
  );
  check(
    Number.isInteger(o.steps) && o.steps >= 1 && o.steps <= 10_000,
    "steps",
    "must be a whole number 1..10000",
  );
  check(
    Number.isInteger(o.decimals) && o.decimals >= 0 && o.decimals <= 12,
    "decimals",
    "must be a whole number 0..12",
  );
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
    for (const [date, level] of Object.entries(p.anchors ?? {})) {
      check(
        /^\d{4}-\d{2}-\d{2}$/.test(date) && !Number.isNaN(Date.parse(date)) && level > 0,
        "symbols",
        `entry ${p.symbol} needs anchors of { "YYYY-MM-DD": level > 0 }`,
      );
    }
    const [low, high] = p.band ?? DEFAULT_BAND;
    check(
      0 < low && low < 1 && high > 1,
      "symbols",
      `entry ${p.symbol} needs a band low < 1 < high`,
    );
  }
  const names = new Set(profiles.map((p) => p.symbol));
  check(names.size === profiles.length, "symbols", "must not repeat a name");
  return profiles;
}

function defaultProfile(symbol: string): SymbolProfile {
  return { symbol, price: 100, currency: "USD", usd: 1, volume: 1e6 };
}

/**
 * The trend level of an index with anchors at a time (epoch ms): log-linear between anchors,
 * growing at the profile's `drift` before the first and after the last; `undefined` for a profile
 * without anchors.
 *
 * @example
 * ```ts
 * import { KAGGLE_SYMBOLS, trendLevel } from "./simulate.ts";
 * const ixic = KAGGLE_SYMBOLS.find((p) => p.symbol === "IXIC")!;
 * Math.round(trendLevel(ixic, Date.UTC(2007, 9, 1))!); // 2740
 * ```
 */
export function trendLevel(profile: SymbolProfile, ms: number): number | undefined {
  const trend = logTrend(profile);
  return trend && Math.exp(trend(ms));
}

const trends = new WeakMap<SymbolProfile, ((ms: number) => number) | undefined>();

/** The log trend of a profile as a function of time, built once per profile. */
function logTrend(profile: SymbolProfile): ((ms: number) => number) | undefined {
  if (trends.has(profile)) return trends.get(profile);
  let trend: ((ms: number) => number) | undefined;
  const anchors = Object.entries(profile.anchors ?? {})
    .map(([date, level]) => [Date.parse(date), level] as const)
    .sort((a, b) => a[0] - b[0]);
  if (anchors.length > 0) {
    const times = anchors.map(([time]) => time);
    const logs = anchors.map(([, level]) => Math.log(level));
    const perMs = (profile.drift ?? 0.05) / YEAR_MS;
    const n = times.length;
    trend = (ms) => {
      if (ms <= times[0]) return logs[0] + perMs * (ms - times[0]);
      if (ms >= times[n - 1]) return logs[n - 1] + perMs * (ms - times[n - 1]);
      let i = 1;
      while (ms > times[i]) i++;
      return logs[i - 1] +
        (logs[i] - logs[i - 1]) * (ms - times[i - 1]) / (times[i] - times[i - 1]);
    };
  }
  trends.set(profile, trend);
  return trend;
}

/**
 * The lowest and highest level an index with anchors can have at a time: its band around
 * {@linkcode trendLevel}; `undefined` without anchors.
 */
export function levelBounds(
  profile: SymbolProfile,
  ms: number,
): { low: number; high: number } | undefined {
  const trend = trendLevel(profile, ms);
  if (trend === undefined) return undefined;
  const [low, high] = profile.band ?? DEFAULT_BAND;
  return { low: trend * low, high: trend * high };
}

interface Plan {
  profiles: SymbolProfile[];
  start: number;
  end: number;
  intervalMs: number;
  count: number;
  seed: number;
  drift: number;
  volatility: number;
  skipWeekends: boolean;
  calendar: boolean;
  quirks: boolean;
  steps: number;
  decimals: number;
  dt: number;
}

/** One symbol's state: its random streams and where its level is. */
class Walker {
  readonly profile: SymbolProfile;
  readonly sigma: number;
  readonly normal: () => number;
  readonly quirk: () => number;
  readonly anchored: boolean;
  readonly logTrend: ((ms: number) => number) | undefined;
  readonly lnLow: number;
  readonly lnHigh: number;
  readonly gbmDrift: number;
  /** Log level. */
  x: number;
  bars = 0;
  lastTs = -Infinity;

  constructor(profile: SymbolProfile, seed: number, volatility: number, drift: number, at: number) {
    this.profile = profile;
    this.sigma = profile.volatility ?? volatility;
    this.normal = gaussian(mulberry32(seedFor(seed, profile.symbol)));
    this.quirk = mulberry32(seedFor(seed, `${profile.symbol}#quirks`));
    this.logTrend = logTrend(profile);
    this.anchored = this.logTrend !== undefined;
    const [low, high] = profile.band ?? DEFAULT_BAND;
    this.lnLow = Math.log(low);
    this.lnHigh = Math.log(high);
    this.gbmDrift = drift - this.sigma * this.sigma / 2;
    this.x = this.logTrend?.(at) ?? Math.log(profile.price);
  }

  /** The log trend at a time (anchored profiles only). */
  trend(ms: number): number {
    return this.logTrend!(ms);
  }

  /** Keeps a log level inside the band around the log trend `m`, reflecting at its edges. */
  reflect(x: number, m: number): number {
    const lo = m + this.lnLow, hi = m + this.lnHigh;
    if (x > hi) x = 2 * hi - x;
    if (x < lo) x = 2 * lo - x;
    return Math.min(hi, Math.max(lo, x));
  }

  /**
   * One bar from `from` to `to` (epoch ms) of `dt` years of trading time in `steps` steps:
   * open (a small gap from the last close), high, low, close.
   */
  bar(from: number, to: number, dt: number, steps: number, first: boolean) {
    const stepSigma = this.sigma * Math.sqrt(dt / steps);
    let x = this.x;
    let m = this.anchored ? this.trend(from) : 0;
    if (!first) x += 0.2 * stepSigma * this.normal();
    if (this.anchored) x = this.reflect(x, m);
    const open = x;
    let high = x, low = x;
    for (let s = 1; s <= steps; s++) {
      if (this.anchored) {
        const next = this.trend(from + (to - from) * s / steps);
        x += (next - m) + REVERSION * (m - x) * (dt / steps) + stepSigma * this.normal();
        m = next;
        x = this.reflect(x, m);
      } else {
        x += this.gbmDrift * dt / steps + stepSigma * this.normal();
      }
      if (x > high) high = x;
      if (x < low) low = x;
    }
    this.x = x;
    return { open: Math.exp(open), high: Math.exp(high), low: Math.exp(low), close: Math.exp(x) };
  }
}

function* generate(plan: Plan): Generator<Tick, void, undefined> {
  const { start, end, intervalMs, count, dt, steps } = plan;
  const scale = 10 ** plan.decimals;
  const round = (x: number) => Math.round(x * scale) / scale;
  const walkers = plan.profiles.map((profile) =>
    new Walker(profile, plan.seed, plan.volatility, plan.drift, start)
  );
  const dayVolume = intervalMs / DAY_MS;
  let slot = 0;
  let active = count > 0 ? walkers.length : 0;
  while (active > 0) {
    let ts = start + slot * intervalMs;
    if (plan.skipWeekends) {
      const weekday = new Date(ts).getUTCDay();
      if (weekday === 0 || weekday === 6) {
        const monday = Math.floor(ts / DAY_MS) * DAY_MS + (weekday === 6 ? 2 : 1) * DAY_MS;
        slot = Math.ceil((monday - start) / intervalMs);
        ts = start + slot * intervalMs;
      }
    }
    slot++;
    if (ts >= end) return;
    for (const w of walkers) {
      if (w.bars >= count) continue;
      const exchange = w.profile.exchange;
      if (plan.calendar && exchange && !isTradingDay(exchange, ts)) continue;
      const bar = w.bar(ts, ts + intervalMs, dt, steps, w.bars === 0);
      w.bars++;
      if (w.bars >= count) active--;
      let volume = Math.max(
        1,
        Math.round(w.profile.volume * dayVolume * Math.exp(0.3 * w.normal() - 0.045)),
      );
      const close = round(bar.close);
      let { open, high, low } = {
        open: round(bar.open),
        high: round(bar.high),
        low: round(bar.low),
      };
      if (plan.quirks) {
        const u = w.quirk();
        if (u < (w.profile.flatBars ?? 0)) {
          open = high = low = close;
          volume = 0;
        } else if (w.quirk() < (w.profile.zeroVolume ?? 0)) {
          volume = 0;
        }
      }
      yield {
        symbol: w.profile.symbol,
        ts,
        open,
        high,
        low,
        close,
        adj_close: close,
        volume,
        close_usd: round(close * w.profile.usd),
      };
    }
  }
}

/** Options of {@linkcode liveTicks}. */
export interface LiveOptions {
  /** Which symbols (as in {@linkcode SimulateOptions.symbols}). @default all 14 Kaggle symbols */
  symbols?: SimulateOptions["symbols"];
  /** Time between two rounds of ticks (one tick per symbol each). @default 1000 */
  intervalMs?: number;
  /** Rounds to send; `Infinity` runs until the signal. @default Infinity */
  count?: number;
  /** Seed of the pseudo-random generator. @default 42 */
  seed?: number;
  /** Annualised volatility σ of symbols whose profile has none. @default 0.2 */
  volatility?: number;
  /** Annualised drift μ of symbols without anchors. @default 0.05 */
  drift?: number;
  /** Steps of the intrabar path that sets high and low. @default 16 */
  steps?: number;
  /** Decimals prices are rounded to. @default 6 */
  decimals?: number;
  /** Where the current time comes from (and how to wait). @default systemClock */
  clock?: Clock;
  /** Stops the ticks: the stream ends quietly, even in the middle of a wait. */
  signal?: AbortSignal;
}

/**
 * Real-time ticks: a round of one tick per symbol at once, then one every `intervalMs`, each
 * stamped with the clock's current time (so they land in today's `dt`), a bar over the interval
 * that continues the last one. Each index starts near its trend level of today and moves with its
 * volatility over trading time (a year of 252 sessions of 6.5 hours), inside its band; volume is a
 * day's volume scaled to the interval (0 for an index whose profile has volume 0 every day). The
 * market's opening hours are not kept: a live run ticks whenever it runs.
 *
 * @throws {SimulateOptionError} at once for an invalid option.
 *
 * @example
 * ```ts ignore
 * import { liveTicks } from "./simulate.ts";
 * for await (const tick of liveTicks({ symbols: ["NYA"], count: 3 })) console.log(tick);
 * ```
 */
export function liveTicks(options: LiveOptions = {}): AsyncGenerator<Tick, void, undefined> {
  const {
    intervalMs = 1000,
    count = Infinity,
    seed = 42,
    volatility = 0.2,
    drift = 0.05,
    steps = 16,
    decimals = 6,
    clock = systemClock,
    signal,
  } = options;
  check(Number.isFinite(intervalMs) && intervalMs > 0, "intervalMs", "must be a positive number");
  check(
    count >= 0 && (Number.isInteger(count) || count === Infinity),
    "count",
    "must be a whole number ≥ 0 or Infinity",
  );
  checkCommon({ seed, drift, volatility, steps, decimals });
  const profiles = resolveSymbols(options.symbols);
  const scale = 10 ** decimals;
  const round = (x: number) => Math.round(x * scale) / scale;
  const dt = intervalMs / TRADING_HOURS_YEAR_MS;
  async function* run(): AsyncGenerator<Tick, void, undefined> {
    const origin = clock.now();
    const walkers = profiles.map((profile) => {
      const walker = new Walker(profile, seed, volatility, drift, origin);
      // Start somewhere around the trend, not on it: about ±10%, inside the band.
      walker.x += 0.1 * walker.normal();
      if (walker.anchored) walker.x = walker.reflect(walker.x, walker.trend(origin));
      return walker;
    });
    let last = -Infinity;
    for (let round_ = 0; round_ < count; round_++) {
      if (signal?.aborted) return;
      const ahead = origin + round_ * intervalMs - clock.now();
      if (ahead > 0) {
        await clock.sleep(ahead, signal);
        if (signal?.aborted) return;
      }
      const ts = Math.max(Math.floor(clock.now()), last + 1);
      last = ts;
      for (const w of walkers) {
        const bar = w.bar(ts - intervalMs, ts, dt, steps, round_ === 0);
        const close = round(bar.close);
        const volume = (w.profile.zeroVolume ?? 0) >= 1 ? 0 : Math.max(
          1,
          Math.round(
            w.profile.volume * intervalMs / SESSION_MS * Math.exp(0.3 * w.normal() - 0.045),
          ),
        );
        yield {
          symbol: w.profile.symbol,
          ts,
          open: round(bar.open),
          high: round(bar.high),
          low: round(bar.low),
          close,
          adj_close: close,
          volume,
          close_usd: round(close * w.profile.usd),
        };
      }
    }
  }
  return run();
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
