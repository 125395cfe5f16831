/**
 * Trading calendars of the exchanges behind the 14 Kaggle indices: weekends and each exchange's
 * main holidays, so simulated daily bars skip the days a real index has none.
 *
 * The rules are the holidays that close each market every year — fixed dates, Easter-based days,
 * "n-th weekday of a month" days and the lunisolar festivals (Lunar New Year, Mid-Autumn, Diwali),
 * computed from the moon — with each market's weekend rule (a holiday on a Sunday moves to Monday
 * in Japan, South Africa and Canada; to the nearest weekday in the US). One-off closures
 * (storms, state funerals) and the festivals that move by local decree are left out: the result is
 * close to each exchange's real calendar, not equal to it.
 *
 * @module
 */

/** An exchange calendar: where an index trades. */
export type Exchange =
  | "NYSE" // NYA, IXIC (NYSE and Nasdaq close on the same days)
  | "TSX" // GSPTSE
  | "HKEX" // HSI
  | "SSE" // 000001.SS, 399001.SZ (Shanghai and Shenzhen close together)
  | "NSE" // NSEI
  | "XETRA" // GDAXI
  | "KRX" // KS11
  | "SIX" // SSMI
  | "TWSE" // TWII
  | "JSE" // J203.JO
  | "JPX" // N225
  | "EURONEXT"; // N100

/** Every exchange with a calendar. */
export const EXCHANGES: readonly Exchange[] = [
  "NYSE",
  "TSX",
  "HKEX",
  "SSE",
  "NSE",
  "XETRA",
  "KRX",
  "SIX",
  "TWSE",
  "JSE",
  "JPX",
  "EURONEXT",
];

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of a UTC day. */
function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Midnight UTC of a calendar date (month 1-12; overflowing days roll over). */
function day(year: number, month: number, date: number): number {
  return Date.UTC(year, month - 1, date);
}

function weekday(ms: number): number {
  return new Date(ms).getUTCDay();
}

/** The `n`-th (1-based; -1 = last) `dow` (0 = Sunday) of a month. */
function nthWeekday(year: number, month: number, dow: number, n: number): number {
  if (n > 0) {
    const first = day(year, month, 1);
    return first + (((dow - weekday(first) + 7) % 7) + (n - 1) * 7) * DAY_MS;
  }
  const last = day(year, month + 1, 0);
  return last - ((weekday(last) - dow + 7) % 7) * DAY_MS;
}

/**
 * Easter Sunday (Gregorian) of a year, midnight UTC (the anonymous Gregorian algorithm).
 *
 * @example
 * ```ts
 * import { easter } from "./calendar.ts";
 * new Date(easter(2021)).toISOString().slice(0, 10); // "2021-04-04"
 * ```
 */
export function easter(year: number): number {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const date = ((h + l - 7 * m + 114) % 31) + 1;
  return day(year, month, date);
}

/**
 * The instant (epoch ms, UTC) of the `k`-th new moon after 2000-01-06, from Meeus,
 * "Astronomical Algorithms", ch. 49 (main periodic terms; good to a few minutes).
 */
function newMoonMs(k: number): number {
  const t = k / 1236.85;
  const rad = Math.PI / 180;
  const jde = 2451550.09766 + 29.530588861 * k + 0.00015437 * t * t;
  const e = 1 - 0.002516 * t - 0.0000074 * t * t;
  const m = (2.5534 + 29.1053567 * k) * rad; // sun's mean anomaly
  const mp = (201.5643 + 385.81693528 * k + 0.0107582 * t * t) * rad; // moon's
  const f = (160.7108 + 390.67050284 * k - 0.0016118 * t * t) * rad;
  const omega = (124.7746 - 1.56375588 * k) * rad;
  const correction = -0.4072 * Math.sin(mp) + 0.17241 * e * Math.sin(m) +
    0.01608 * Math.sin(2 * mp) + 0.01039 * Math.sin(2 * f) +
    0.00739 * e * Math.sin(mp - m) - 0.00514 * e * Math.sin(mp + m) +
    0.00208 * e * e * Math.sin(2 * m) - 0.00111 * Math.sin(mp - 2 * f) -
    0.00057 * Math.sin(mp + 2 * f) + 0.00056 * e * Math.sin(2 * mp + m) -
    0.00042 * Math.sin(3 * mp) + 0.00042 * e * Math.sin(m + 2 * f) +
    0.00038 * e * Math.sin(m - 2 * f) - 0.00024 * e * Math.sin(2 * mp - m) -
    0.00017 * Math.sin(omega);
  // Julian day to Unix time; dynamical time runs about a minute ahead of UTC, which is noise here.
  return (jde + correction - 2440587.5) * DAY_MS;
}

/**
 * The local dates (midnight UTC of the date at `utcOffsetHours`) of the new moons whose local
 * date lies in `[from, to]` (epoch ms of two dates), in order.
 */
function newMoonDates(from: number, to: number, utcOffsetHours: number, shiftHours = 0): number[] {
  const dates: number[] = [];
  let k = Math.floor((from - Date.UTC(2000, 0, 6)) / (29.530588861 * DAY_MS)) - 1;
  for (;; k++) {
    const local = newMoonMs(k) + (utcOffsetHours + shiftHours) * 3_600_000;
    const date = Math.floor(local / DAY_MS) * DAY_MS;
    if (date > to) return dates;
    if (date >= from) dates.push(date);
  }
}

/**
 * The first day of the Chinese (lunisolar) year: the first new moon on or after January 21,
 * by the date at `utcOffsetHours` (8 for China, Hong Kong and Taiwan; 9 for Korea).
 *
 * @example
 * ```ts
 * import { lunarNewYear } from "./calendar.ts";
 * new Date(lunarNewYear(2021)).toISOString().slice(0, 10); // "2021-02-12"
 * ```
 */
export function lunarNewYear(year: number, utcOffsetHours = 8): number {
  return newMoonDates(day(year, 1, 21), day(year, 2, 21), utcOffsetHours)[0];
}

/**
 * The Mid-Autumn festival (Chuseok in Korea): the 15th day of the 8th lunar month, i.e. 14 days
 * after the new moon that falls between August 25 and September 23 (local date).
 */
export function midAutumn(year: number, utcOffsetHours = 8): number {
  return newMoonDates(day(year, 8, 25), day(year, 9, 23), utcOffsetHours)[0] + 14 * DAY_MS;
}

/**
 * Diwali (Lakshmi Puja): the evening of the amavasya (new moon) that falls between October 17 and
 * November 15: the Indian date of the last 6 pm before the new moon.
 */
export function diwali(year: number): number {
  return newMoonDates(day(year, 10, 17), day(year, 11, 15), 5.5, -18)[0];
}

/** Days from a base date, as a list of dates. */
function span(first: number, days: number): number[] {
  return Array.from({ length: days }, (_, i) => first + i * DAY_MS);
}

/** How a holiday that falls on a weekend is observed. */
type Observance =
  | "none" // lost when it falls on a weekend
  | "us" // Saturday → Friday, Sunday → Monday
  | "sunday-monday" // Sunday → the next free weekday
  | "next-weekday"; // Saturday or Sunday → the next free weekday

interface Rules {
  observance: Observance;
  /** [date, name] of the year; moved by the observance rule when on a weekend. */
  holidays(year: number): [number, string][];
  /** [date, name] that are never moved (multi-day festivals, "eve" closures). */
  fixed?(year: number): [number, string][];
}

const RULES: Record<Exchange, Rules> = {
  NYSE: {
    observance: "us",
    holidays: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      [nthWeekday(y, 1, 1, 3), "Martin Luther King Jr. Day"],
      [nthWeekday(y, 2, 1, 3), "Washington's Birthday"],
      [nthWeekday(y, 5, 1, -1), "Memorial Day"],
      ...(y >= 2022 ? [[day(y, 6, 19), "Juneteenth"] as [number, string]] : []),
      [day(y, 7, 4), "Independence Day"],
      [nthWeekday(y, 9, 1, 1), "Labor Day"],
      [nthWeekday(y, 11, 4, 4), "Thanksgiving Day"],
      [day(y, 12, 25), "Christmas Day"],
    ],
    fixed: (y) => [[easter(y) - 2 * DAY_MS, "Good Friday"]],
  },
  TSX: {
    observance: "next-weekday",
    holidays: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      [day(y, 7, 1), "Canada Day"],
      [day(y, 12, 25), "Christmas Day"],
      [day(y, 12, 26), "Boxing Day"],
    ],
    fixed: (y) => [
      ...(y >= 2008 ? [[nthWeekday(y, 2, 1, 3), "Family Day"] as [number, string]] : []),
      [easter(y) - 2 * DAY_MS, "Good Friday"],
      [mondayOnOrBefore(day(y, 5, 24)), "Victoria Day"],
      [nthWeekday(y, 8, 1, 1), "Civic Holiday"],
      [nthWeekday(y, 9, 1, 1), "Labour Day"],
      [nthWeekday(y, 10, 1, 2), "Thanksgiving Day"],
    ],
  },
  HKEX: {
    observance: "sunday-monday",
    holidays: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      [day(y, 5, 1), "Labour Day"],
      [day(y, 7, 1), "HKSAR Establishment Day"],
      [midAutumn(y) + DAY_MS, "Day after Mid-Autumn Festival"],
      [day(y, 10, 1), "National Day"],
      [day(y, 12, 25), "Christmas Day"],
      [day(y, 12, 26), "Boxing Day"],
    ],
    fixed: (y) => [
      ...span(lunarNewYear(y), 3).map((d) => [d, "Lunar New Year"] as [number, string]),
      [easter(y) - 2 * DAY_MS, "Good Friday"],
      [easter(y) + DAY_MS, "Easter Monday"],
    ],
  },
  SSE: {
    observance: "none",
    holidays: () => [],
    fixed: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      ...span(lunarNewYear(y) - DAY_MS, 7).map((d) => [d, "Spring Festival"] as [number, string]),
      ...span(day(y, 5, 1), 3).map((d) => [d, "Labour Day"] as [number, string]),
      [midAutumn(y), "Mid-Autumn Festival"],
      ...span(day(y, 10, 1), 7).map((d) => [d, "National Day"] as [number, string]),
    ],
  },
  NSE: {
    observance: "none",
    holidays: () => [],
    fixed: (y) => [
      [day(y, 1, 26), "Republic Day"],
      [easter(y) - 2 * DAY_MS, "Good Friday"],
      [day(y, 4, 14), "Ambedkar Jayanti"],
      [day(y, 5, 1), "Maharashtra Day"],
      [day(y, 8, 15), "Independence Day"],
      [day(y, 10, 2), "Gandhi Jayanti"],
      [diwali(y) - 20 * DAY_MS, "Dussehra"], // 20 days before Diwali, give or take a day
      [diwali(y), "Diwali"],
      [day(y, 12, 25), "Christmas"],
    ],
  },
  XETRA: {
    observance: "none",
    holidays: () => [],
    fixed: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      [easter(y) - 2 * DAY_MS, "Good Friday"],
      [easter(y) + DAY_MS, "Easter Monday"],
      [day(y, 5, 1), "Labour Day"],
      [day(y, 12, 24), "Christmas Eve"],
      [day(y, 12, 25), "Christmas Day"],
      [day(y, 12, 26), "Boxing Day"],
      [day(y, 12, 31), "New Year's Eve"],
    ],
  },
  KRX: {
    observance: "none",
    holidays: () => [],
    fixed: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      ...span(lunarNewYear(y, 9) - DAY_MS, 3).map((d) => [d, "Seollal"] as [number, string]),
      [day(y, 3, 1), "Independence Movement Day"],
      [day(y, 5, 5), "Children's Day"],
      [day(y, 6, 6), "Memorial Day"],
      [day(y, 8, 15), "Liberation Day"],
      ...span(midAutumn(y, 9) - DAY_MS, 3).map((d) => [d, "Chuseok"] as [number, string]),
      [day(y, 10, 3), "National Foundation Day"],
      ...(y >= 2013 ? [[day(y, 10, 9), "Hangul Day"] as [number, string]] : []),
      [day(y, 12, 25), "Christmas Day"],
      [day(y, 12, 31), "Year-end closing"],
    ],
  },
  SIX: {
    observance: "none",
    holidays: () => [],
    fixed: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      [day(y, 1, 2), "Berchtold's Day"],
      [easter(y) - 2 * DAY_MS, "Good Friday"],
      [easter(y) + DAY_MS, "Easter Monday"],
      [day(y, 5, 1), "Labour Day"],
      [easter(y) + 39 * DAY_MS, "Ascension Day"],
      [easter(y) + 50 * DAY_MS, "Whit Monday"],
      [day(y, 8, 1), "Swiss National Day"],
      [day(y, 12, 24), "Christmas Eve"],
      [day(y, 12, 25), "Christmas Day"],
      [day(y, 12, 26), "St. Stephen's Day"],
      [day(y, 12, 31), "New Year's Eve"],
    ],
  },
  TWSE: {
    observance: "none",
    holidays: () => [],
    fixed: (y) => [
      [day(y, 1, 1), "Founding Day"],
      ...span(lunarNewYear(y) - 2 * DAY_MS, 6).map((d) =>
        [d, "Lunar New Year"] as [number, string]
      ),
      [day(y, 2, 28), "Peace Memorial Day"],
      [day(y, 4, 4), "Children's Day"],
      [day(y, 5, 1), "Labour Day"],
      [midAutumn(y), "Mid-Autumn Festival"],
      [day(y, 10, 10), "National Day"],
    ],
  },
  JSE: {
    observance: "sunday-monday",
    holidays: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      [day(y, 3, 21), "Human Rights Day"],
      [day(y, 4, 27), "Freedom Day"],
      [day(y, 5, 1), "Workers' Day"],
      [day(y, 6, 16), "Youth Day"],
      [day(y, 8, 9), "National Women's Day"],
      [day(y, 9, 24), "Heritage Day"],
      [day(y, 12, 16), "Day of Reconciliation"],
      [day(y, 12, 25), "Christmas Day"],
      [day(y, 12, 26), "Day of Goodwill"],
    ],
    fixed: (y) => [
      [easter(y) - 2 * DAY_MS, "Good Friday"],
      [easter(y) + DAY_MS, "Family Day"],
    ],
  },
  JPX: {
    observance: "sunday-monday",
    holidays: (y) => [
      [day(y, 2, 11), "National Foundation Day"],
      [day(y, 3, vernalEquinox(y)), "Vernal Equinox Day"],
      [day(y, 4, 29), "Showa Day"],
      [day(y, 5, 3), "Constitution Memorial Day"],
      [day(y, 5, 4), "Greenery Day"],
      [day(y, 5, 5), "Children's Day"],
      [day(y, 9, autumnalEquinox(y)), "Autumnal Equinox Day"],
      [day(y, 11, 3), "Culture Day"],
      [day(y, 11, 23), "Labour Thanksgiving Day"],
      ...(y <= 2018
        ? [[day(y, 12, 23), "Emperor's Birthday"] as [number, string]]
        : y >= 2020
        ? [[day(y, 2, 23), "Emperor's Birthday"] as [number, string]]
        : []),
    ],
    fixed: (y) => [
      ...span(day(y, 1, 1), 3).map((d) => [d, "New Year holidays"] as [number, string]),
      [nthWeekday(y, 1, 1, 2), "Coming of Age Day"],
      [nthWeekday(y, 7, 1, 3), "Marine Day"],
      [nthWeekday(y, 9, 1, 3), "Respect for the Aged Day"],
      [nthWeekday(y, 10, 1, 2), "Sports Day"],
      [day(y, 12, 31), "New Year's Eve"],
    ],
  },
  EURONEXT: {
    observance: "none",
    holidays: () => [],
    fixed: (y) => [
      [day(y, 1, 1), "New Year's Day"],
      [easter(y) - 2 * DAY_MS, "Good Friday"],
      [easter(y) + DAY_MS, "Easter Monday"],
      [day(y, 5, 1), "Labour Day"],
      [day(y, 12, 25), "Christmas Day"],
      [day(y, 12, 26), "Boxing Day"],
    ],
  },
};

/** The Monday on or before a date. */
function mondayOnOrBefore(ms: number): number {
  return ms - ((weekday(ms) + 6) % 7) * DAY_MS;
}

/** Day of March of the vernal equinox in Japan (valid 1980-2099). */
function vernalEquinox(year: number): number {
  return Math.floor(20.8431 + 0.242194 * (year - 1980) - Math.floor((year - 1980) / 4));
}

/** Day of September of the autumnal equinox in Japan (valid 1980-2099). */
function autumnalEquinox(year: number): number {
  return Math.floor(23.2488 + 0.242194 * (year - 1980) - Math.floor((year - 1980) / 4));
}

const cache = new Map<string, Map<string, string>>();

/**
 * The days an exchange is closed in a year besides weekends: `YYYY-MM-DD` → holiday name, with
 * weekend holidays moved by the exchange's rule.
 *
 * @example
 * ```ts
 * import { holidays } from "./calendar.ts";
 * holidays("NYSE", 2021).get("2021-07-05"); // "Independence Day (observed)"
 * ```
 */
export function holidays(exchange: Exchange, year: number): Map<string, string> {
  const key = `${exchange}:${year}`;
  const known = cache.get(key);
  if (known) return known;
  const rules = RULES[exchange];
  if (!rules) {
    throw new RangeError(`Unknown exchange "${exchange}": use one of ${EXCHANGES.join(", ")}.`);
  }
  const closed = new Map<string, string>();
  for (const [date, name] of rules.fixed?.(year) ?? []) {
    if (!isWeekend(date)) closed.set(iso(date), name);
  }
  const moved: [number, string][] = [];
  for (const [date, name] of rules.holidays(year)) {
    if (!isWeekend(date)) {
      if (!closed.has(iso(date))) closed.set(iso(date), name);
      else moved.push([date, name]); // two holidays on one day: the second one moves (HK, JP)
      continue;
    }
    const dow = weekday(date);
    if (rules.observance === "none") continue;
    if (rules.observance === "us") {
      // Saturday → Friday, except New Year's Day (the NYSE does not close on December 31).
      if (dow === 6 && name !== "New Year's Day") {
        closed.set(iso(date - DAY_MS), `${name} (observed)`);
      }
      if (dow === 0) closed.set(iso(date + DAY_MS), `${name} (observed)`);
      continue;
    }
    if (rules.observance === "sunday-monday" && dow !== 0) continue;
    moved.push([date, name]);
  }
  for (const [date, name] of moved) {
    let next = date + DAY_MS;
    while (isWeekend(next) || closed.has(iso(next))) next += DAY_MS;
    closed.set(iso(next), `${name} (observed)`);
  }
  cache.set(key, closed);
  return closed;
}

function isWeekend(ms: number): boolean {
  const dow = weekday(ms);
  return dow === 0 || dow === 6;
}

/**
 * Whether an exchange trades on the UTC date of `ms`: not a Saturday or Sunday and not one of
 * its {@linkcode holidays}.
 *
 * @example
 * ```ts
 * import { isTradingDay } from "./calendar.ts";
 * isTradingDay("XETRA", Date.UTC(2021, 11, 24)); // false: Christmas Eve
 * isTradingDay("XETRA", Date.UTC(2021, 11, 23)); // true
 * ```
 */
export function isTradingDay(exchange: Exchange, ms: number): boolean {
  if (isWeekend(ms)) return false;
  return !holidays(exchange, new Date(ms).getUTCFullYear()).has(iso(ms));
}
