/**
 * Streams ticks out of a CSV file with constant memory: the file is read in chunks through a
 * streaming UTF-8 decoder, split into lines, and each row is parsed, checked and yielded before
 * the next chunk is read. A 1 GB file is never loaded whole.
 *
 * Two layouts are recognised from the header. Column names are matched ignoring case, spaces,
 * underscores and punctuation (`Adj Close`, `adj_close`, `AdjClose` and `Adj Close**` are one
 * name):
 *
 * - **Kaggle "Stock Exchange Data"**: `Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD`
 *   (`indexProcessed.csv`) or the same without `CloseUSD` (`indexData.csv`). Every value must be
 *   present; the `"null"` cells of `indexData.csv` reject their row.
 * - **Plain OHLCV** (Yahoo Finance, Stooq, Nasdaq.com, Investing.com, pandas exports): a time
 *   column (`date`, `timestamp`, `datetime` or `time`), a symbol column (`symbol`, `ticker` or
 *   `name`) and a close (`close`, `price`, `last` or `close/last`); optionally `open`, `high`,
 *   `low`, `volume` (or `vol`), `adj close` and `close usd`, in any order. Other columns are
 *   ignored; missing columns and empty cells become `null`. A file **without a symbol column**
 *   (one symbol per file, as Yahoo exports) takes its symbol from the `symbol` option
 *   (`--symbol`), else from the file name's stem (`^GSPC.csv` → `^GSPC`).
 *
 * `Adj Close` stays its own column (`adj_close`) and never replaces `close`: the close is the
 * traded price that `open`, `high` and `low` bound, while the adjusted close is a back-adjusted
 * series the provider rewrites after each split or dividend.
 *
 * Times are accepted as `YYYY-MM-DD` (00:00 UTC), ISO-8601 `YYYY-MM-DD[T ]HH:MM[:SS[.fff]]` with an
 * optional zone (`Z` or `±HH:MM`; no zone means UTC on every host, by the same rule as the wire
 * form: `parseIsoTimestamp` in `lib/tick.ts`), calendar dates (`Jan 5 2021`,
 * `January 5, 2021`, `5-Jan-2021`, `2021/01/05`: `parseCalendarDate` in `lib/tick.ts`, UTC too),
 * or epoch numbers: values of 100,000,000,000 and above are milliseconds, smaller values are
 * seconds. Numeric dates day or month first (`01/05/2021`, `05.01.2021`) need the `dateFormat`
 * option (`--date-format MM/DD/YYYY` or `DD/MM/YYYY`): without it the read stops at the first one
 * with a {@linkcode CsvDateFormatError} saying what to pass; they are never guessed. Other forms
 * reject their row with the forms expected. Numbers may carry a leading `$` and thousands
 * separators (`"$1,234.50"`); volumes may end in `K`, `M` or `B` (`1.2M`).
 *
 * A bad row never stops the stream: it becomes a {@linkcode Reject} handed to `onReject`, and good
 * rows keep flowing. CSV follows RFC 4180: quoted fields (with `""` escapes and line breaks),
 * CRLF or LF line endings, an optional UTF-8 BOM, blank lines skipped.
 *
 * @module
 */

import { basename } from "node:path";
import {
  CALENDAR_DATE_FORMS,
  DATE_ORDERS,
  type DateOrder,
  ISO_TIMESTAMP_FORM,
  parseCalendarDate,
  parseIsoTimestamp,
  PRICE_COLUMNS,
  type PriceColumn,
  type Tick,
  tickProblem,
  utcDate,
} from "../tick.ts";
import { csvQuote, type Reject } from "./rejects.ts";

/** A field of a {@linkcode Tick} that a CSV column can fill. */
export type TickField = "symbol" | "ts" | PriceColumn;

/** The symbol of a file without a symbol column, and where it came from. */
export interface FixedSymbol {
  /** The symbol every row gets. */
  value: string;
  /** `option`: the caller's `symbol` (`--symbol`); `file name`: the file name's stem. */
  from: "option" | "file name";
}

/** A header matched to a known layout: which column fills which tick field. */
export interface CsvLayout {
  /** `kaggle` for the Kaggle "Stock Exchange Data" files, `ohlcv` for plain OHLCV. */
  name: "kaggle" | "ohlcv";
  /** Human-readable name of the layout, for logs. */
  title: string;
  /** The header as read (trimmed, BOM removed). */
  header: string[];
  /** 0-based column of each tick field, or -1 when the file has no such column. */
  columns: Record<TickField, number>;
  /** Whether every mapped cell must hold a value (Kaggle); otherwise empty cells become `null`. */
  strict: boolean;
  /** The symbol of every row when the file has no symbol column (`columns.symbol` is -1). */
  symbol?: FixedSymbol;
  /** How numeric dates such as `01/05/2021` are read; without it they stop the read. */
  dateOrder?: DateOrder;
}

interface FieldSpec {
  field: TickField;
  /** Accepted header names as shown in messages, in order of preference. */
  names: string[];
  /** Whether the header must contain the column. */
  required: boolean;
}

interface LayoutSpec {
  name: CsvLayout["name"];
  title: string;
  strict: boolean;
  fields: FieldSpec[];
}

const price = (field: PriceColumn, required: boolean, ...names: string[]): FieldSpec => ({
  field,
  names: names.length ? names : [field],
  required,
});

/** The layouts {@linkcode detectLayout} recognises, in the order they are tried. */
const LAYOUTS: readonly LayoutSpec[] = [
  {
    name: "kaggle",
    title: 'Kaggle "Stock Exchange Data" (indexProcessed.csv, or indexData.csv without CloseUSD)',
    strict: true,
    fields: [
      { field: "symbol", names: ["Index"], required: true },
      { field: "ts", names: ["Date"], required: true },
      price("open", true, "Open"),
      price("high", true, "High"),
      price("low", true, "Low"),
      price("close", true, "Close"),
      price("adj_close", true, "Adj Close"),
      price("volume", true, "Volume"),
      price("close_usd", false, "CloseUSD"),
    ],
  },
  {
    name: "ohlcv",
    title: "Plain OHLCV",
    strict: false,
    fields: [
      { field: "ts", names: ["date", "timestamp", "datetime", "time"], required: true },
      { field: "symbol", names: ["symbol", "ticker", "name"], required: true },
      price("close", true, "close", "price", "last", "close/last"),
      price("open", false),
      price("high", false),
      price("low", false),
      price("volume", false, "volume", "vol"),
      price("adj_close", false, "adj close"),
      price("close_usd", false, "close usd"),
    ],
  },
];

/** One line per accepted layout, listing its columns; used in error messages and `--help`. */
export const CSV_LAYOUTS_HELP: string = LAYOUTS.map((layout) => {
  const cols = (required: boolean) =>
    layout.fields.filter((f) => f.required === required).map((f) =>
      f.names.join("|") +
      (f.field === "symbol" && !layout.strict ? " (or --symbol, or the file name)" : "")
    );
  const optional = cols(false);
  return `  - ${layout.title}: ${cols(true).join(", ")}` +
    (optional.length ? `; optional: ${optional.join(", ")}` : "");
}).join("\n");

/**
 * The key a header name is matched by: lower case, letters and digits only, so `Adj Close`,
 * `adj_close`, `ADJCLOSE` and `Adj Close**` are one name.
 */
export function headerKey(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/**
 * The symbol a file name gives a file without a symbol column: its base name without the last
 * extension (`data/^GSPC.csv` → `^GSPC`, `000001.SS.csv` → `000001.SS`).
 */
export function symbolFromFileName(file: string): string {
  return basename(file).replace(/\.[^.]*$/, "");
}

/** Raised when a CSV header matches no known layout; the message lists the accepted layouts. */
export class UnknownCsvLayoutError extends Error {
  /** The file whose header was not recognised. */
  readonly file: string;
  /** The header as read. */
  readonly header: string[];
  /** Creates the error for a file and the header seen in it. */
  constructor(file: string, header: string[], missing: string) {
    super(
      `Cannot read "${file}": its header "${header.join(",")}" matches no known CSV layout ` +
        `(${missing}). Accepted layouts (column names in any order, case, spaces and ` +
        `underscores ignored):\n` +
        `${CSV_LAYOUTS_HELP}\nRename the columns to one of these layouts or convert the file.`,
    );
    this.name = "UnknownCsvLayoutError";
    this.file = file;
    this.header = header;
  }
}

/** Raised when a CSV file cannot be read at all (missing, empty, not text); the message says why. */
export class CsvReadError extends Error {
  /** The file that could not be read. */
  readonly file: string;
  /** Creates the error. */
  constructor(file: string, message: string, options?: ErrorOptions) {
    super(`Cannot read "${file}": ${message}`, options);
    this.name = "CsvReadError";
    this.file = file;
  }
}

/**
 * Raised at the first numeric date such as `01/05/2021` when no `dateFormat` says whether the
 * day or the month comes first: the message shows what each order would read and what to pass.
 */
export class CsvDateFormatError extends CsvReadError {
  /** 1-based line of the row holding the date. */
  readonly line: number;
  /** The date as written. */
  readonly date: string;
  /** Creates the error for the date found on a line of a file. */
  constructor(file: string, line: number, date: string) {
    const readings = DATE_ORDERS.flatMap((order) => {
      const ms = parseCalendarDate(date, order);
      return typeof ms === "number" ? [{ order, day: utcDate(ms) }] : [];
    });
    const how = readings.map(({ order, day }) => `${day} with ${order}`).join(" or ");
    const pass = readings.map(({ order }) => `--date-format ${order}`).join(" or ");
    super(
      file,
      `line ${line} has the date "${date}", which reads as ${how}: pass ${pass} (the ` +
        "dateFormat option in code) to say which order the file uses: numeric dates are never " +
        "read day or month first by guess.",
    );
    this.name = "CsvDateFormatError";
    this.line = line;
    this.date = date;
  }
}

/** Options of {@linkcode detectLayout}. */
export interface DetectLayoutOptions {
  /** File name for error messages. @default "<csv>" */
  file?: string;
  /** The symbol of every row when the header has no symbol column. */
  symbol?: FixedSymbol;
  /** How numeric dates such as `01/05/2021` are read. */
  dateOrder?: DateOrder;
}

/**
 * Matches a header to a layout.
 *
 * @param header Column names as read; they are matched by {@linkcode headerKey} (case, spaces,
 * underscores and punctuation ignored), after a BOM is removed.
 * @throws {UnknownCsvLayoutError} when no layout fits; the message lists every accepted layout.
 * @throws {CsvReadError} when `symbol` came from the caller but the file has a symbol column.
 *
 * @example
 * ```ts
 * import { detectLayout } from "./csv.ts";
 * const layout = detectLayout(["Index", "Date", "Open", "High", "Low", "Close", "Adj Close",
 *   "Volume", "CloseUSD"]);
 * layout.name; // "kaggle"
 * layout.columns.close_usd; // 8
 * ```
 */
export function detectLayout(header: string[], options: DetectLayoutOptions = {}): CsvLayout {
  const file = options.file ?? "<csv>";
  const clean = header.map((name, i) => (i === 0 ? name.replace(/^\uFEFF/, "") : name).trim());
  const keys = clean.map(headerKey);
  const misses: string[] = [];
  for (const spec of LAYOUTS) {
    const columns = {} as Record<TickField, number>;
    const missing: string[] = [];
    for (const { field, names, required } of spec.fields) {
      // The first alias the header has wins: `close` before `price` before `last`.
      const index = names.map((name) => keys.indexOf(headerKey(name))).find((i) => i >= 0) ?? -1;
      columns[field] = index;
      const fixed = field === "symbol" && !spec.strict && options.symbol !== undefined;
      if (index < 0 && required && !fixed) {
        const hint = field === "symbol" && !spec.strict ? " (or pass --symbol)" : "";
        missing.push(names.join("|") + hint);
      }
    }
    if (missing.length > 0) {
      misses.push(`${spec.name} lacks ${missing.join(", ")}`);
      continue;
    }
    const layout: CsvLayout = {
      name: spec.name,
      title: spec.title,
      header: clean,
      columns,
      strict: spec.strict,
      ...(options.dateOrder ? { dateOrder: options.dateOrder } : {}),
    };
    if (columns.symbol < 0) layout.symbol = options.symbol;
    else if (options.symbol?.from === "option") {
      throw new CsvReadError(
        file,
        `it has a symbol column ("${clean[columns.symbol]}"), so --symbol ` +
          `${options.symbol.value} does not apply: drop --symbol (the option is for files ` +
          "without a symbol column).",
      );
    }
    return layout;
  }
  throw new UnknownCsvLayoutError(file, clean, misses.join("; "));
}

/**
 * Splits one CSV record into fields (RFC 4180): fields are separated by commas; a field that
 * starts with `"` is quoted, may hold commas and line breaks, and escapes `"` as `""`. Stray
 * quotes inside an unquoted field are kept as they are.
 *
 * @example
 * ```ts
 * import { parseCsvFields } from "./csv.ts";
 * parseCsvFields('a,"b,c","say ""hi"""'); // ["a", "b,c", 'say "hi"']
 * ```
 */
export function parseCsvFields(record: string): string[] {
  if (!record.includes('"')) return record.split(",");
  const fields: string[] = [];
  let i = 0;
  const n = record.length;
  while (true) {
    if (record[i] === '"') {
      let value = "";
      i++;
      while (i < n) {
        const quote = record.indexOf('"', i);
        if (quote < 0) {
          value += record.slice(i);
          i = n;
          break;
        }
        value += record.slice(i, quote);
        if (record[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      // Anything between the closing quote and the next comma is kept (lenient).
      const comma = record.indexOf(",", i);
      const end = comma < 0 ? n : comma;
      fields.push(value + record.slice(i, end));
      if (comma < 0) break;
      i = comma + 1;
    } else {
      const comma = record.indexOf(",", i);
      if (comma < 0) {
        fields.push(record.slice(i));
        break;
      }
      fields.push(record.slice(i, comma));
      i = comma + 1;
    }
  }
  return fields;
}

/** How many rows a CSV read has seen so far; updated live while the stream is consumed. */
export interface CsvCounts {
  /** Data rows read (the header and blank lines are not rows). */
  rows: number;
  /** Rows yielded as ticks. */
  good: number;
  /** Rows handed to `onReject`. */
  rejected: number;
}

/** Options of {@linkcode readCsvTicks} and {@linkcode parseCsvTicks}. */
export interface CsvReadOptions {
  /**
   * The symbol of every row of a file without a symbol column (`--symbol`); an error when the
   * file has one. @default the file name's stem ({@linkcode symbolFromFileName})
   */
  symbol?: string;
  /**
   * How numeric dates such as `01/05/2021` are read (`--date-format`). Without it the first such
   * date stops the read with a {@linkcode CsvDateFormatError}; they are never guessed.
   */
  dateFormat?: DateOrder;
  /** Called once per bad row; the stream goes on. @default ignore (the row is only counted) */
  onReject?: (reject: Reject) => void;
  /** Stops reading when aborted: the stream ends quietly and the file is closed. */
  signal?: AbortSignal;
}

/**
 * A stream of ticks from a CSV file: an async generator (use `for await`) that also exposes the
 * live {@linkcode CsvCounts} and, once the header has been read, the detected layout. Its return
 * value is the final counts.
 */
export interface CsvTicks extends AsyncGenerator<Tick, CsvCounts, undefined> {
  /** Rows read, good and rejected so far. */
  readonly counts: Readonly<CsvCounts>;
  /** The layout detected from the header; `undefined` until the first tick is requested. */
  readonly layout: CsvLayout | undefined;
}

/**
 * Streams the ticks of a CSV file, detecting its layout from the header.
 *
 * @param path The CSV file.
 * @throws {CsvReadError} (on first iteration) when the file is missing, unreadable or empty.
 * @throws {UnknownCsvLayoutError} (on first iteration) when the header matches no layout.
 *
 * @example
 * ```ts ignore
 * import { readCsvTicks } from "./csv.ts";
 * import { formatReject } from "./rejects.ts";
 * const ticks = readCsvTicks("data/stock_data.csv", {
 *   onReject: (r) => console.error(formatReject(r)),
 * });
 * for await (const tick of ticks) console.log(tick.symbol, tick.close);
 * console.log(ticks.counts); // { rows: 50400, good: 50400, rejected: 0 }
 * ```
 */
export function readCsvTicks(path: string, options: CsvReadOptions = {}): CsvTicks {
  async function* open(): AsyncGenerator<Uint8Array> {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true });
    } catch (error) {
      const why = error instanceof Deno.errors.NotFound
        ? "no such file. Check the path, or run `deno task generate-data` to create the sample"
        : `${(error as Error).message}. Check the path and its permissions`;
      throw new CsvReadError(path, why, { cause: error });
    }
    // The stream closes the file when it ends or when the consumer stops early.
    yield* file.readable;
  }
  return parseCsvTicks(open(), { ...options, file: path });
}

/**
 * Streams the ticks of CSV bytes from any source (a file's `readable`, a `fetch` body, a test's
 * `ReadableStream`). {@linkcode readCsvTicks} is this with a file.
 *
 * @param bytes UTF-8 CSV, in chunks of any size (sync or async iterable, e.g. a `ReadableStream`).
 * @param options.file Name used in rejects and errors. @default "<csv>"
 */
export function parseCsvTicks(
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: CsvReadOptions & { file?: string } = {},
): CsvTicks {
  const counts: CsvCounts = { rows: 0, good: 0, rejected: 0 };
  const state: { layout?: CsvLayout } = {};
  const file = options.file ?? "<csv>";
  if (options.symbol !== undefined && options.symbol.trim() === "") {
    throw new CsvReadError(file, "the symbol option is empty; pass a symbol such as AAPL.");
  }
  if (options.dateFormat !== undefined && !DATE_ORDERS.includes(options.dateFormat)) {
    throw new CsvReadError(
      file,
      `unknown date format "${options.dateFormat}"; use ${DATE_ORDERS.join(" or ")}.`,
    );
  }
  const symbol: FixedSymbol | undefined = options.symbol !== undefined
    ? { value: options.symbol.trim(), from: "option" }
    : options.file !== undefined
    ? { value: symbolFromFileName(options.file), from: "file name" }
    : undefined;
  const detect = { file, symbol, dateOrder: options.dateFormat };
  const generator = generateTicks(bytes, detect, options, counts, state);
  return Object.defineProperties(generator, {
    counts: { value: counts, enumerable: true },
    layout: { get: () => state.layout, enumerable: true },
  }) as CsvTicks;
}

/** Longest record (in physical lines) a quoted field may span before it is called unterminated. */
const MAX_RECORD_LINES = 100;
/** Longest line kept in memory; longer means the file is not a line-oriented CSV. */
const MAX_LINE_CHARS = 1 << 20;

interface RawRecord {
  line: number;
  text: string;
  problem?: string;
}

/** Joins physical lines into records, following quoted fields across line breaks. */
class RecordAssembler {
  #pending: { line: number; lines: string[]; quotes: number } | undefined;

  push(line: number, text: string, ready: RawRecord[]): void {
    const pending = this.#pending;
    if (pending) {
      pending.lines.push(text);
      pending.quotes += countQuotes(text);
      if (pending.quotes % 2 === 0) {
        this.#pending = undefined;
        ready.push({ line: pending.line, text: pending.lines.join("\n") });
      } else if (pending.lines.length > MAX_RECORD_LINES) {
        this.#flushUnterminated(ready);
      }
      return;
    }
    const quotes = countQuotes(text);
    if (quotes % 2 === 1) this.#pending = { line, lines: [text], quotes };
    else ready.push({ line, text });
  }

  end(ready: RawRecord[]): void {
    while (this.#pending) this.#flushUnterminated(ready);
  }

  /** Rejects the first line of the pending record and re-reads the lines after it. */
  #flushUnterminated(ready: RawRecord[]): void {
    const { line, lines } = this.#pending!;
    this.#pending = undefined;
    ready.push({ line, text: lines[0], problem: "a quoted field is never closed" });
    for (let i = 1; i < lines.length; i++) this.push(line + i, lines[i], ready);
  }
}

function countQuotes(text: string): number {
  let count = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) count++;
  return count;
}

/** Decodes UTF-8 chunks, splits them into lines and joins those into records. */
class RecordReader {
  readonly #file: string;
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: false });
  readonly #assembler = new RecordAssembler();
  #buffer = "";
  #lineNo = 0;

  constructor(file: string) {
    this.#file = file;
  }

  /** Adds a chunk (`undefined` at the end) and appends the records it completes to `ready`. */
  push(chunk: Uint8Array | undefined, ready: RawRecord[]): void {
    const done = chunk === undefined;
    let buffer = this.#buffer +
      (done ? this.#decoder.decode() : this.#decoder.decode(chunk, { stream: true }));
    let from = 0;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n", from)) {
      const end = nl > from && buffer.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      this.#assembler.push(++this.#lineNo, buffer.slice(from, end), ready);
      from = nl + 1;
    }
    buffer = from === 0 ? buffer : buffer.slice(from);
    if (done) {
      if (buffer !== "") {
        const end = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
        this.#assembler.push(++this.#lineNo, buffer.slice(0, end), ready);
      }
      this.#assembler.end(ready);
    } else if (buffer.length > MAX_LINE_CHARS) {
      throw new CsvReadError(
        this.#file,
        `line ${this.#lineNo + 1} is longer than ${MAX_LINE_CHARS} characters. ` +
          "Is this a CSV file with one row per line?",
      );
    }
    this.#buffer = buffer;
  }
}

/** The next chunk of the source, `undefined` at its end; a failed read is a {@linkcode CsvReadError}. */
async function nextChunk(
  iterator: Iterator<Uint8Array> | AsyncIterator<Uint8Array>,
  file: string,
): Promise<Uint8Array | undefined> {
  try {
    const result = await iterator.next();
    return result.done ? undefined : result.value;
  } catch (error) {
    if (error instanceof CsvReadError) throw error;
    throw new CsvReadError(file, `reading failed: ${(error as Error).message}`, { cause: error });
  }
}

async function* generateTicks(
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  detect: DetectLayoutOptions & { file: string },
  options: CsvReadOptions,
  counts: CsvCounts,
  state: { layout?: CsvLayout },
): AsyncGenerator<Tick, CsvCounts, undefined> {
  const { onReject, signal } = options;
  const { file } = detect;
  const reader = new RecordReader(file);
  const ready: RawRecord[] = [];
  let layout: CsvLayout | undefined;
  let done = false;
  const iterator = Symbol.asyncIterator in bytes
    ? bytes[Symbol.asyncIterator]()
    : bytes[Symbol.iterator]();
  try {
    while (!done) {
      if (signal?.aborted) return counts;
      const chunk = await nextChunk(iterator, file);
      done = chunk === undefined;
      reader.push(chunk, ready);
      for (let r = 0; r < ready.length; r++) {
        const record = ready[r];
        if (record.text.trim() === "" && !record.problem) continue; // blank line
        if (!layout) {
          if (record.problem) throw new CsvReadError(file, `the header ${record.problem}.`);
          layout = state.layout = detectLayout(parseCsvFields(record.text), detect);
          continue;
        }
        counts.rows++;
        const result = record.problem ??
          rowToTick(parseCsvFields(record.text), layout, { file, line: record.line });
        if (typeof result === "string") {
          counts.rejected++;
          onReject?.({ file, line: record.line, reason: result, raw: record.text });
          continue;
        }
        counts.good++;
        if (signal?.aborted) return counts;
        yield result;
      }
      ready.length = 0;
    }
    if (!layout) {
      throw new CsvReadError(
        file,
        `the file is empty; expected a header row such as ${KAGGLE_CSV_HEADER}.`,
      );
    }
    return counts;
  } finally {
    // Closes the file when the consumer stops early or an error is thrown.
    if (!done) await iterator.return?.();
  }
}

/**
 * Turns the fields of one data row into a tick, or returns why it cannot (the reason a
 * {@linkcode Reject} carries).
 *
 * @param where The row's file and line, for a {@linkcode CsvDateFormatError}.
 * @throws {CsvDateFormatError} for a numeric date such as `01/05/2021` when the layout has no
 * `dateOrder`: the whole file needs one, so this stops the read instead of rejecting rows.
 *
 * @example
 * ```ts
 * import { detectLayout, rowToTick } from "./csv.ts";
 * const layout = detectLayout(["date", "symbol", "close"]);
 * rowToTick(["2021-05-31", "HSI", "29151.8"], layout); // a tick at 2021-05-31T00:00Z
 * rowToTick(["2021-05-31", "HSI", "NaN"], layout); // 'close "NaN" is not a number'
 * ```
 */
export function rowToTick(
  fields: string[],
  layout: CsvLayout,
  where: { file: string; line: number } = { file: "<csv>", line: 0 },
): Tick | string {
  const { header, columns, strict } = layout;
  if (fields.length !== header.length) {
    const names = header.join(",");
    return `has ${fields.length} field${
      fields.length === 1 ? "" : "s"
    }, expected ${header.length} ` +
      `(${names.length > 80 ? `${names.slice(0, 79)}…` : names})`;
  }
  const symbol = columns.symbol < 0 ? layout.symbol?.value ?? "" : fields[columns.symbol].trim();
  if (symbol === "") return "empty symbol";
  const text = fields[columns.ts].trim();
  const ts = parseTimestamp(text, layout.dateOrder);
  if (ts === NEEDS_DATE_ORDER) throw new CsvDateFormatError(where.file, where.line, text);
  if (typeof ts === "string") return ts;
  const tick: Tick = {
    symbol,
    ts,
    open: null,
    high: null,
    low: null,
    close: null,
    adj_close: null,
    volume: null,
    close_usd: null,
  };
  for (const column of PRICE_COLUMNS) {
    const index = columns[column];
    if (index < 0) continue;
    const value = parseNumber(fields[index].trim(), column, strict);
    if (typeof value === "string") return value;
    tick[column] = value;
  }
  return tickProblem(tick) ?? tick;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
/** `1,234.5` and `$1,234.50`, as spreadsheets and Nasdaq.com export prices. */
const GROUPED_NUMBER = /^\$?\d{1,3}(?:,\d{3})+(?:\.\d+)?$|^\$(?:\d+\.?\d*|\.\d+)$/;
/** `1.2M`, as Investing.com exports volumes. */
const SUFFIXED_VOLUME = /^(\d+\.?\d*|\.\d+)([KMB])$/i;
const VOLUME_SUFFIX: Record<string, number> = { k: 1e3, m: 1e6, b: 1e9 };

function parseNumber(text: string, column: PriceColumn, strict: boolean): number | null | string {
  if (text === "") return strict ? `${column} is empty` : null;
  if (NUMBER.test(text)) return Number(text);
  if (GROUPED_NUMBER.test(text)) return Number(text.replace(/[$,]/g, ""));
  const suffixed = column === "volume" ? SUFFIXED_VOLUME.exec(text) : null;
  if (suffixed) return Math.round(Number(suffixed[1]) * VOLUME_SUFFIX[suffixed[2].toLowerCase()]);
  if (text.toLowerCase() === "null") return `${column} is "null" (the source has no value)`;
  return `${column} "${text.length > 20 ? `${text.slice(0, 20)}…` : text}" is not a number`;
}

const EPOCH = /^\d{1,16}(?:\.\d+)?$/;
/** Epoch values from here up are milliseconds (1973-03-03 in ms; year 5138 in seconds). */
const EPOCH_MS_FROM = 100_000_000_000;

/** What {@linkcode parseTimestamp} returns for a numeric date without a day order. */
const NEEDS_DATE_ORDER = Symbol("needs a date order");

/**
 * Parses a CSV time cell to epoch milliseconds (UTC), or returns why it cannot: ISO-8601 by the
 * wire's rule ({@linkcode parseIsoTimestamp}: `YYYY-MM-DD`, optional time and zone, no zone =
 * UTC on every host), calendar dates ({@linkcode parseCalendarDate}), or epoch seconds /
 * milliseconds.
 */
function parseTimestamp(
  text: string,
  order?: DateOrder,
): number | string | typeof NEEDS_DATE_ORDER {
  const shown = text.length > 30 ? `${text.slice(0, 30)}…` : text;
  const iso = parseIsoTimestamp(text);
  if (typeof iso === "number") {
    const year = +text.slice(0, 4);
    if (year < 1900 || year > 2200) return `date "${shown}" is outside 1900..2200`;
    return iso;
  }
  if (iso !== "not ISO-8601") return `date "${shown}" ${iso}`;
  if (EPOCH.test(text)) {
    const value = Number(text);
    return Math.round(value >= EPOCH_MS_FROM ? value : value * 1000);
  }
  if (text === "") return "date is empty";
  const calendar = parseCalendarDate(text, order);
  if (typeof calendar === "number") return calendar;
  if (calendar === "needs a day order") {
    // A date no order can read (`31/31/2021`) is a bad row, not a question about the file.
    const real = DATE_ORDERS.some((o) => typeof parseCalendarDate(text, o) === "number");
    return real ? NEEDS_DATE_ORDER : `date "${shown}" is not a real calendar date or time`;
  }
  if (calendar !== "not a calendar date") return `date "${shown}" ${calendar}`;
  return `date "${shown}" is not a date this reader knows: expected ${ISO_TIMESTAMP_FORM}, ` +
    `${CALENDAR_DATE_FORMS}, or epoch seconds/milliseconds`;
}

/** The header of the Kaggle `indexProcessed.csv` file, as {@linkcode formatKaggleCsvRow} writes it. */
export const KAGGLE_CSV_HEADER = "Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD";

/**
 * Formats a tick as one row of the Kaggle layout ({@linkcode KAGGLE_CSV_HEADER}), without a line
 * ending: `Date` is the UTC date of `ts` (any time of day is dropped), whole numbers get one
 * decimal like the Kaggle file (`0.0`), other numbers their shortest exact form, `null` an empty
 * cell (which the Kaggle layout rejects on reading).
 *
 * @example
 * ```ts
 * import { formatKaggleCsvRow } from "./csv.ts";
 * formatKaggleCsvRow({ symbol: "HSI", ts: Date.UTC(2021, 4, 31), open: 1.5, high: 2, low: 1,
 *   close: 1.75, adj_close: 1.75, volume: 0, close_usd: 0.224 });
 * // "HSI,2021-05-31,1.5,2.0,1.0,1.75,1.75,0.0,0.224"
 * ```
 */
export function formatKaggleCsvRow(tick: Tick): string {
  let row = `${csvQuote(tick.symbol)},${utcDate(tick.ts)}`;
  for (const column of PRICE_COLUMNS) row += `,${formatNumber(tick[column])}`;
  return row;
}

function formatNumber(value: number | null): string {
  if (value === null) return "";
  return Number.isInteger(value) && Math.abs(value) < 1e21 ? value.toFixed(1) : String(value);
}
