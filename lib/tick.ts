/**
 * The one record that crosses every boundary of the pipeline: a price bar for one symbol at one
 * instant. Sources produce it, Kafka carries its JSON wire form, the lake stores its columns.
 *
 * @module
 */

/** A price bar (OHLCV) for one symbol at one instant, in UTC. */
export interface Tick {
  /** Ticker or index symbol, e.g. `NYA` or `000001.SS`. Never empty. */
  symbol: string;
  /** Event time in milliseconds since the Unix epoch, UTC. */
  ts: number;
  /** Opening price; `null` where the source lacks it. */
  open: number | null;
  /** Highest price in the interval; `null` where the source lacks it. */
  high: number | null;
  /** Lowest price in the interval; `null` where the source lacks it. */
  low: number | null;
  /** Closing price. */
  close: number | null;
  /** Close adjusted for splits and dividends; `null` where the source lacks it. */
  adj_close: number | null;
  /** Traded volume (the Kaggle set stores it as a float, often `0.0`). */
  volume: number | null;
  /** Close converted to US dollars (Kaggle `CloseUSD`); `null` where the source lacks it. */
  close_usd: number | null;
}

/** The numeric columns of a {@linkcode Tick}, in lake column order. */
export const PRICE_COLUMNS = [
  "open",
  "high",
  "low",
  "close",
  "adj_close",
  "volume",
  "close_usd",
] as const;

/** A numeric column of a {@linkcode Tick}. */
export type PriceColumn = typeof PRICE_COLUMNS[number];

/** Every lake column of a {@linkcode Tick}, in order (the partition column `dt` is added by the lake). */
export const TICK_COLUMNS = ["symbol", "ts", ...PRICE_COLUMNS] as const;

/** Raised when a value cannot be a {@linkcode Tick}; the message says which field and why. */
export class InvalidTickError extends Error {
  /** Creates the error with a reason such as `high 3 is below low 4`. */
  constructor(message: string) {
    super(message);
    this.name = "InvalidTickError";
  }
}

/**
 * Checks the rules every tick must satisfy and returns the reason it fails, or `undefined`.
 *
 * Rules: a non-empty symbol; a finite timestamp between years 1900 and 2200; every present price
 * and volume finite and not negative; `high >= low` when both are present; `close` present.
 *
 * @example
 * ```ts
 * import { tickProblem } from "./tick.ts";
 * tickProblem({ symbol: "X", ts: 0, open: 1, high: 1, low: 2, close: 1, adj_close: null,
 *   volume: 0, close_usd: null }); // "high 1 is below low 2"
 * ```
 */
export function tickProblem(tick: Tick): string | undefined {
  if (typeof tick.symbol !== "string" || tick.symbol.trim() === "") return "empty symbol";
  if (!Number.isFinite(tick.ts)) return "missing or impossible date";
  if (tick.ts < MIN_TS || tick.ts > MAX_TS) {
    return `date ${new Date(tick.ts).toISOString()} is outside 1900..2200`;
  }
  for (const column of PRICE_COLUMNS) {
    const value = tick[column];
    if (value === null) continue;
    if (typeof value !== "number" || Number.isNaN(value)) return `${column} is not a number`;
    if (!Number.isFinite(value)) return `${column} is not finite`;
    if (value < 0) return `${column} ${value} is negative`;
  }
  if (tick.close === null) return "close is missing";
  if (tick.high !== null && tick.low !== null && tick.high < tick.low) {
    return `high ${tick.high} is below low ${tick.low}`;
  }
  return undefined;
}

const MIN_TS = Date.UTC(1900, 0, 1);
const MAX_TS = Date.UTC(2200, 0, 1);

/**
 * Serialises a tick to its Kafka wire form: one JSON object, `ts` as an ISO-8601 UTC string.
 *
 * @example
 * ```ts
 * import { encodeTick } from "./tick.ts";
 * encodeTick({ symbol: "NYA", ts: 0, open: 1, high: 1, low: 1, close: 1, adj_close: 1,
 *   volume: 0, close_usd: 1 }); // '{"symbol":"NYA","ts":"1970-01-01T00:00:00.000Z",...}'
 * ```
 */
export function encodeTick(tick: Tick): string {
  return JSON.stringify({
    symbol: tick.symbol,
    ts: new Date(tick.ts).toISOString(),
    open: tick.open,
    high: tick.high,
    low: tick.low,
    close: tick.close,
    adj_close: tick.adj_close,
    volume: tick.volume,
    close_usd: tick.close_usd,
  });
}

/**
 * Parses and validates the wire form written by {@linkcode encodeTick}. `ts` is an ISO-8601 string
 * read by {@linkcode parseIsoTimestamp} (no zone = UTC on every host; free-form dates are refused)
 * or a number of epoch milliseconds. Missing price fields become `null`.
 *
 * @throws {InvalidTickError} when the text is not JSON, a field has the wrong type, or a rule of
 * {@linkcode tickProblem} fails. The message names the field.
 */
export function decodeTick(text: string): Tick {
  return checked(readJsonTick(text));
}

/**
 * {@linkcode decodeTick} for a message's bytes (UTF-8), the consumer's path. The exact text
 * {@linkcode encodeTick} writes — keys in its order, no spaces, `ts` as
 * `YYYY-MM-DDTHH:MM:SS.sssZ`, a printable ASCII symbol without escapes, numbers of at most 15
 * digits without exponent — is read straight from the bytes in one pass, with no string, JSON
 * object or number text made: `JSON.parse` and the field checks were the consumer's largest
 * cost per row. Any other bytes are decoded as text and read by {@linkcode decodeTick}, so both
 * give the same tick or the same error (`tick_test.ts` compares them on generated and mutated
 * texts).
 *
 * @example
 * ```ts
 * import { decodeTickBytes, encodeTick } from "./tick.ts";
 * const tick = { symbol: "NYA", ts: 0, open: 1, high: 1, low: 1, close: 1, adj_close: 1,
 *   volume: 0, close_usd: 1 };
 * decodeTickBytes(new TextEncoder().encode(encodeTick(tick))); // tick
 * ```
 * @throws {InvalidTickError} as {@linkcode decodeTick}.
 */
export function decodeTickBytes(bytes: Uint8Array): Tick {
  const tick = readCanonicalTick(bytes);
  return tick ? checked(tick) : decodeTick(UTF8.decode(bytes));
}

const UTF8 = new TextDecoder();

function checked(tick: Tick): Tick {
  const problem = tickProblem(tick);
  if (problem) throw new InvalidTickError(problem);
  return tick;
}

/** ASCII codes of the fixed parts of the wire form. */
const CANONICAL = {
  start: ascii('{"symbol":"'),
  ts: ascii('","ts":"'),
  prices: PRICE_COLUMNS.map((column) => ascii(`,"${column}":`)),
};

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

/** Exact powers of ten, for the numbers of {@linkcode readCanonicalNumber}. */
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** Position of the canonical reader in the bytes; -1 once they are not canonical. */
let cursor = 0;

/** Whether `expected` comes at `cursor`; moves past it. */
function expect(bytes: Uint8Array, expected: number[]): boolean {
  for (let i = 0; i < expected.length; i++) {
    if (bytes[cursor + i] !== expected[i]) return false;
  }
  cursor += expected.length;
  return true;
}

/** Symbols read so far, by a hash of their bytes, so that rows share one string per symbol. */
const SYMBOLS = new Map<number, string>();

/** The printable-ASCII symbol in `bytes[start, end)`: the string read before when it is known. */
function symbolAt(bytes: Uint8Array, start: number, end: number): string {
  let hash = end - start;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + bytes[i]) | 0;
  const known = SYMBOLS.get(hash);
  if (known !== undefined && known.length === end - start) {
    let i = 0;
    while (i < known.length && known.charCodeAt(i) === bytes[start + i]) i++;
    if (i === known.length) return known;
  }
  const symbol = String.fromCharCode.apply(null, bytes.subarray(start, end) as never);
  if (SYMBOLS.size >= 10_000) SYMBOLS.clear(); // a bound, for topics of endless symbols
  SYMBOLS.set(hash, symbol);
  return symbol;
}

/** The fast path of {@linkcode decodeTickBytes}, or `undefined` for bytes it does not read. */
function readCanonicalTick(bytes: Uint8Array): Tick | undefined {
  cursor = 0;
  if (!expect(bytes, CANONICAL.start)) return undefined;
  const symbolStart = cursor;
  for (let c = bytes[cursor]; c !== 0x22; c = bytes[++cursor]) {
    // Printable ASCII only: escapes, control characters and UTF-8 are the text path's.
    if (!(c >= 0x20 && c < 0x7f) || c === 0x5c) return undefined;
  }
  const symbol = symbolAt(bytes, symbolStart, cursor);
  if (!expect(bytes, CANONICAL.ts)) return undefined;
  const ts = readCanonicalInstant(bytes, cursor);
  if (ts === undefined || bytes[cursor + 24] !== 0x22) return undefined;
  cursor += 25;
  const open = readCanonicalNumber(bytes, 0);
  const high = readCanonicalNumber(bytes, 1);
  const low = readCanonicalNumber(bytes, 2);
  const close = readCanonicalNumber(bytes, 3);
  const adj_close = readCanonicalNumber(bytes, 4);
  const volume = readCanonicalNumber(bytes, 5);
  const close_usd = readCanonicalNumber(bytes, 6);
  if (cursor !== bytes.length - 1 || bytes[cursor] !== 0x7d) return undefined;
  return { symbol, ts, open, high, low, close, adj_close, volume, close_usd };
}

/**
 * Reads `,"<column>":` and then `null` or a number `-?(0|[1-9]\d*)(\.\d+)?` of at most 15
 * digits at `cursor`; on anything else sets `cursor` to -1. Such a number is its digits as an
 * integer below 2^53 divided by an exact power of ten: one correctly rounded division, the
 * double `JSON.parse` gives.
 */
function readCanonicalNumber(bytes: Uint8Array, column: number): number | null {
  if (cursor < 0 || !expect(bytes, CANONICAL.prices[column])) return cursor = -1, null;
  let c = bytes[cursor];
  if (c === 0x6e) { // n
    if (bytes[cursor + 1] === 0x75 && bytes[cursor + 2] === 0x6c && bytes[cursor + 3] === 0x6c) {
      cursor += 4;
      return null;
    }
    return cursor = -1, null;
  }
  const negative = c === 0x2d;
  if (negative) c = bytes[++cursor];
  let digits = 0;
  let value = 0;
  if (c === 0x30) { // a leading 0 stands alone
    c = bytes[++cursor];
    digits = 1;
  } else {
    for (; c >= 0x30 && c <= 0x39; c = bytes[++cursor], digits++) value = value * 10 + c - 0x30;
    if (digits === 0) return cursor = -1, null;
  }
  let fraction = 0;
  if (c === 0x2e) { // .
    for (c = bytes[++cursor]; c >= 0x30 && c <= 0x39; c = bytes[++cursor], fraction++) {
      value = value * 10 + c - 0x30;
    }
    if (fraction === 0) return cursor = -1, null;
  }
  // An exponent, or too many digits to be exact: the text path's.
  if (c === 0x65 || c === 0x45 || digits + fraction > 15) return cursor = -1, null;
  if (fraction > 0) value /= POWERS_OF_TEN[fraction];
  return negative ? -value : value;
}

/** Reads `YYYY-MM-DDTHH:MM:SS.sssZ` at `at` as {@linkcode parseIsoTimestamp} would, else `undefined`. */
function readCanonicalInstant(bytes: Uint8Array, at: number): number | undefined {
  const digit = (i: number) => {
    const c = bytes[at + i] - 0x30;
    return c >= 0 && c <= 9 ? c : NaN;
  };
  const two = (i: number) => digit(i) * 10 + digit(i + 1);
  if (
    bytes[at + 4] !== 0x2d || bytes[at + 7] !== 0x2d || bytes[at + 10] !== 0x54 ||
    bytes[at + 13] !== 0x3a || bytes[at + 16] !== 0x3a || bytes[at + 19] !== 0x2e ||
    bytes[at + 23] !== 0x5a
  ) {
    return undefined;
  }
  const ms = utcInstant(
    two(0) * 100 + two(2),
    two(5),
    two(8),
    two(11),
    two(14),
    two(17),
    digit(20) * 100 + two(21),
  );
  // NaN (a non-digit) or an impossible date: the text path says which.
  return typeof ms === "number" && !Number.isNaN(ms) ? ms : undefined;
}

/** The general path of {@linkcode decodeTick}: `JSON.parse`, then each field's type. */
function readJsonTick(text: string): Tick {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new InvalidTickError(`not JSON: ${preview(text)}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new InvalidTickError(`not a JSON object: ${preview(text)}`);
  }
  const record = raw as Record<string, unknown>;
  if (typeof record.symbol !== "string") throw new InvalidTickError("symbol must be a string");
  const tick: Tick = {
    symbol: record.symbol,
    ts: parseTimestamp(record.ts),
    open: 0,
    high: 0,
    low: 0,
    close: 0,
    adj_close: 0,
    volume: 0,
    close_usd: 0,
  };
  for (const column of PRICE_COLUMNS) {
    const value = record[column];
    if (value === undefined || value === null) tick[column] = null;
    else if (typeof value === "number") tick[column] = value;
    else throw new InvalidTickError(`${column} must be a number or null, got ${typeof value}`);
  }
  return tick;
}

function parseTimestamp(value: unknown): number {
  if (typeof value === "number") return value;
  if (typeof value === "string") {
    const ms = parseIsoTimestamp(value);
    if (typeof ms === "number") return ms;
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    throw new InvalidTickError(
      ms === "not ISO-8601"
        ? `ts "${shown}" is not an ISO-8601 date: expected ${ISO_TIMESTAMP_FORM}`
        : `ts "${shown}" ${ms}`,
    );
  }
  throw new InvalidTickError("ts must be an ISO-8601 string or epoch milliseconds");
}

/** Why {@linkcode parseIsoTimestamp} refuses a text: its form, or the date or zone it names. */
export type IsoTimestampProblem =
  | "not ISO-8601"
  | "is not a real calendar date or time"
  | "has an impossible time zone offset";

/** The timestamp forms {@linkcode parseIsoTimestamp} accepts, for messages. */
export const ISO_TIMESTAMP_FORM = "YYYY-MM-DD[(T| )HH:MM[:SS[.fff]][Z|±HH:MM]] (no zone = UTC)";

const ISO_TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * Parses an ISO-8601 timestamp to epoch milliseconds: `YYYY-MM-DD`, optionally followed by `T`
 * (or a space) and `HH:MM`, `:SS` and a fraction (`.` or `,`, cut to milliseconds), optionally
 * followed by `Z` or an offset `±HH:MM` (also `±HHMM`, `±HH`). **A timestamp without a zone is
 * UTC**, whatever the host's time zone, so the same text gives the same instant (and `dt`) on
 * every machine. This is the one timestamp rule of the wire form ({@linkcode decodeTick}) and of
 * CSV sources.
 *
 * Anything else is refused rather than guessed: free-form text (`Jan 5 2021`, `2021/01/05`,
 * RFC 2822), impossible days (`2021-02-30`, which `Date.parse` rolls over to March), hours past
 * 23, minutes or seconds past 59.
 *
 * @returns the epoch milliseconds, or why the text is refused: `"not ISO-8601"` when its form is
 * wrong, otherwise a phrase such as `is not a real calendar date or time`.
 *
 * @example
 * ```ts
 * import { parseIsoTimestamp } from "./tick.ts";
 * parseIsoTimestamp("2021-06-30T22:00:00"); // Date.UTC(2021, 5, 30, 22), on every host
 * parseIsoTimestamp("2021-06-30T22:00:00+05:30"); // Date.UTC(2021, 5, 30, 16, 30)
 * parseIsoTimestamp("Jan 5 2021"); // "not ISO-8601"
 * ```
 */
export function parseIsoTimestamp(text: string): number | IsoTimestampProblem {
  const iso = ISO_TIMESTAMP.exec(text);
  if (!iso) return "not ISO-8601";
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", zone] = iso;
  const millis = frac === "" ? 0 : Number(frac.slice(0, 3).padEnd(3, "0"));
  let ms = utcInstant(+y, +mo, +d, +h, +mi, +s, millis);
  if (typeof ms === "string") return ms;
  if (zone && zone.toUpperCase() !== "Z") {
    const digits = zone.slice(1).replace(":", "");
    const zh = +digits.slice(0, 2), zm = +(digits.slice(2) || "0");
    if (zh > 23 || zm > 59) return "has an impossible time zone offset";
    ms -= (zone[0] === "-" ? -1 : 1) * (zh * 60 + zm) * 60_000;
  }
  return ms;
}

/**
 * The UTC instant of calendar fields (month 1..12), or why they name no real date or time:
 * `Date.UTC` alone would roll `2021-02-30` over to March and read years 0..99 as 1900..1999.
 */
function utcInstant(
  year: number,
  month: number,
  day: number,
  hour = 0,
  minute = 0,
  second = 0,
  millis = 0,
): number | "is not a real calendar date or time" {
  if (
    month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 ||
    minute > 59 || second > 59
  ) {
    return "is not a real calendar date or time";
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  return year < 100 ? new Date(ms).setUTCFullYear(year) : ms;
}

/** The day order of numeric dates such as `01/05/2021`, named as `--date-format` takes it. */
export type DateOrder = "MM/DD/YYYY" | "DD/MM/YYYY";

/** The values {@linkcode DateOrder} takes, for flags and messages. */
export const DATE_ORDERS: readonly DateOrder[] = ["MM/DD/YYYY", "DD/MM/YYYY"];

/** Why {@linkcode parseCalendarDate} refuses a text. */
export type CalendarDateProblem =
  | "not a calendar date"
  | "is not a real calendar date or time"
  | "needs a day order";

/** The forms {@linkcode parseCalendarDate} accepts, for messages. */
export const CALENDAR_DATE_FORMS =
  "Jan 5 2021, January 5, 2021, 5-Jan-2021, 5 Jan 2021, 2021/01/05, and with a day order " +
  "01/05/2021 (also with - or . between, and an optional time HH:MM[:SS])";

const MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const TIME = String.raw`(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?`;
/** `Jan 5 2021`, `January 5, 2021`, `Jan-05-2021`, `Sept. 5th, 2021`. */
const MONTH_DAY_YEAR = new RegExp(
  String.raw`^([a-z]{3,9})\.?[ -](\d{1,2})(?:st|nd|rd|th)?,?[ -](\d{4})${TIME}$`,
  "i",
);
/** `5-Jan-2021`, `5 January 2021`, `05 Jan, 2021`. */
const DAY_MONTH_YEAR = new RegExp(
  String.raw`^(\d{1,2})[ -]([a-z]{3,9})\.?,?[ -](\d{4})${TIME}$`,
  "i",
);
/** `2021/01/05`: year first is never read day first. */
const YEAR_SLASH = new RegExp(String.raw`^(\d{4})/(\d{1,2})/(\d{1,2})${TIME}$`);
/** `01/05/2021`, `1.5.2021`, `01-05-2021`: day or month first, by the caller's order. */
const NUMERIC_DAY_MONTH = new RegExp(
  String.raw`^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})${TIME}$`,
);

function monthNumber(name: string): number {
  // The full English name or an abbreviation of at least 3 letters (`Jan`, `Sept`).
  const lower = name.toLowerCase();
  return MONTHS.findIndex((month) => month.startsWith(lower)) + 1;
}

/**
 * Parses the calendar dates that spreadsheet and broker exports write, at 00:00 UTC (or the
 * optional `HH:MM[:SS]` after them, UTC too; none of these forms carries a zone): month names in
 * English (`Jan 5 2021`, `January 5, 2021`, `5-Jan-2021`, `5 Jan 2021`), year first with
 * slashes (`2021/01/05`), and numeric dates day or month first (`01/05/2021`, `1.5.2021`,
 * `01-05-2021`) **only with a day order**: without one they are refused as `"needs a day order"`,
 * never guessed. Two-digit years are refused. ISO-8601 is {@linkcode parseIsoTimestamp}'s.
 *
 * @example
 * ```ts
 * import { parseCalendarDate } from "./tick.ts";
 * parseCalendarDate("Jan 5 2021"); // Date.UTC(2021, 0, 5)
 * parseCalendarDate("01/05/2021"); // "needs a day order"
 * parseCalendarDate("01/05/2021", "DD/MM/YYYY"); // Date.UTC(2021, 4, 1)
 * ```
 */
export function parseCalendarDate(text: string, order?: DateOrder): number | CalendarDateProblem {
  let year: number, month: number, day: number, rest: string[];
  let match: RegExpExecArray | null;
  if ((match = MONTH_DAY_YEAR.exec(text))) {
    [month, day, year, rest] = [monthNumber(match[1]), +match[2], +match[3], match.slice(4)];
  } else if ((match = DAY_MONTH_YEAR.exec(text))) {
    [day, month, year, rest] = [+match[1], monthNumber(match[2]), +match[3], match.slice(4)];
  } else if ((match = YEAR_SLASH.exec(text))) {
    [year, month, day, rest] = [+match[1], +match[2], +match[3], match.slice(4)];
  } else if ((match = NUMERIC_DAY_MONTH.exec(text))) {
    if (!order) return "needs a day order";
    const [first, second] = [+match[1], +match[3]];
    [month, day] = order === "MM/DD/YYYY" ? [first, second] : [second, first];
    [year, rest] = [+match[4], match.slice(5)];
  } else {
    return "not a calendar date";
  }
  if (month === 0) return "not a calendar date"; // a word that is no month name
  const [h = "0", mi = "0", s = "0"] = rest;
  return utcInstant(year, month, day, +h, +mi, +s);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
}

function preview(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}

/** The UTC calendar date `YYYY-MM-DD` of an epoch-millisecond instant (the lake's `dt`). */
export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
