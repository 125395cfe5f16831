/**
 * Opens the tick stream a producer sends, from the producer's options: a CSV file (with a
 * rejects file for bad rows) or the simulator, replayed in order or sampled like the original
 * tutorial, paced, and limited.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log.ts";
import type { DateOrder, Tick } from "../tick.ts";
import { type CsvLayout, CsvReadError, readCsvTicks } from "./csv.ts";
import { pace, type PaceMode, sampleTicks } from "./pace.ts";
import { type Clock, systemClock } from "../time.ts";
import { formatReject, RejectsFile, rejectsPathFor } from "./rejects.ts";
import { liveTicks, simulateTicks } from "./simulate.ts";

/** Options of {@linkcode openTickSource}. */
export interface TickSourceOptions {
  /** Where ticks come from. @default "csv" */
  source?: "csv" | "simulate";
  /** CSV file (Kaggle layout or plain OHLCV). @default "data/stock_data.csv" */
  file?: string;
  /**
   * CSV without a symbol column: the symbol of every row (`--symbol`).
   * @default the file name's stem (`^GSPC.csv` → `^GSPC`)
   */
  symbol?: string;
  /** CSV: how numeric dates such as `01/05/2021` are read (`--date-format`). */
  dateFormat?: DateOrder;
  /** Rejects file for bad CSV rows; `false` keeps none. @default `rejects/<file>.rejects.csv` */
  rejectsPath?: string | false;
  /**
   * `stream`: every row once, in file order. `sample`: a random row every interval, each row once
   * (or forever with `repeat`). @default "stream"
   */
  mode?: "stream" | "sample";
  /** Sample mode: draw rows with replacement, forever, like the original tutorial. @default false */
  repeat?: boolean;
  /** How fast a stream goes. @default { speed: "max" } */
  pace?: PaceMode;
  /** Time between two sampled rows. @default 1000 */
  sampleIntervalMs?: number;
  /** Most rows a sample draws from (a reservoir keeps memory flat for huge files). @default 100000 */
  sampleReservoir?: number;
  /** Stop after this many ticks. */
  limit?: number;
  /** Simulator: how many symbols (the 14 Kaggle index symbols first). @default 14 */
  symbols?: number;
  /** Simulator: seed. @default 42 */
  seed?: number;
  /**
   * Simulator: historical daily bars from this day up to today (weekends and each exchange's
   * holidays skipped, with the real file's quirks). Without it the simulator is live: ticks
   * stamped with the current time.
   */
  start?: Date | number;
  /**
   * Simulator: live, the time between two rounds of ticks (one per index); historical, the bar
   * length. @default 1 s live, one day historical
   */
  intervalMs?: number;
  /** Stops the stream quietly. */
  signal?: AbortSignal;
  /** Time source for pacing. @default systemClock */
  clock?: Clock;
  /** Where bad rows are reported (`file:line: reason`). @default silentLogger */
  logger?: Logger;
}

/** An open tick stream and what it has seen. */
export interface TickSource {
  /** The ticks, paced and limited. */
  ticks: AsyncIterable<Tick>;
  /** One line saying where the ticks come from. */
  description: string;
  /** Rows read and rejected so far (CSV only; the simulator rejects nothing). */
  counts(): { rows: number; rejected: number };
  /** The rejects file, when a bad row was written to it. */
  readonly rejectsPath?: string;
  /** Closes the rejects file. */
  close(): void;
}

/**
 * Opens a tick source.
 *
 * @example
 * ```ts ignore
 * import { openTickSource } from "./open_source.ts";
 * const source = await openTickSource({ file: "data/stock_data.csv", pace: { rate: 100 } });
 * for await (const tick of source.ticks) console.log(tick.symbol);
 * source.close();
 * ```
 */
export async function openTickSource(options: TickSourceOptions = {}): Promise<TickSource> {
  const clock = options.clock ?? systemClock;
  const origin = (options.source ?? "csv") === "simulate"
    ? simulatedOrigin(options, clock)
    : await csvOrigin(options);
  const { ticks, description } = await delivered(origin.raw, origin.description, options, clock);
  const { rejects } = origin;
  return {
    ticks,
    description,
    counts: origin.counts,
    get rejectsPath() {
      return rejects && rejects.count > 0 ? rejects.path : undefined;
    },
    close: () => {
      rejects?.close();
      if (rejects?.count === 0) Deno.removeSync(rejects.path);
    },
  };
}

/** Where the ticks come from, before pacing or sampling. */
interface Origin {
  raw: AsyncIterable<Tick> | Iterable<Tick>;
  description: string;
  counts: () => { rows: number; rejected: number };
  rejects?: RejectsFile;
}

/** The simulator: historical bars (with `start` or in sample mode) or live ticks stamped now. */
function simulatedOrigin(options: TickSourceOptions, clock: Clock): Origin {
  const symbols = options.symbols ?? 14;
  const seed = options.seed ?? 42;
  const counts = () => ({ rows: 0, rejected: 0 });
  if (options.start !== undefined || options.mode === "sample") {
    const start = Number(options.start ?? Date.UTC(2007, 9, 1));
    const intervalMs = options.intervalMs ?? DAY_MS;
    return {
      raw: simulateTicks({
        symbols,
        seed,
        start,
        intervalMs,
        calendar: intervalMs === DAY_MS,
        quirks: true,
        // A sample draws from the first 1,000 days; a stream goes on up to today.
        ...(options.mode === "sample" ? { count: 1000 } : { end: clock.now() }),
      }),
      description: `the simulator (${symbols} indices, ${
        intervalMs === DAY_MS ? "daily bars" : `${intervalMs} ms bars`
      } from ${new Date(start).toISOString().slice(0, 10)}, seed ${seed})`,
      counts,
    };
  }
  const intervalMs = options.intervalMs ?? 1000;
  return {
    raw: liveTicks({ symbols, seed, intervalMs, clock, signal: options.signal }),
    description: `the simulator, live (${symbols} indices, a tick each every ${
      intervalMs / 1000
    } s stamped with the current time, seed ${seed})`,
    counts,
  };
}

/** A CSV file, its bad rows reported and kept in a rejects file. */
async function csvOrigin(options: TickSourceOptions): Promise<Origin> {
  const logger = options.logger ?? silentLogger;
  const file = options.file ?? "data/stock_data.csv";
  // Fail before anything else happens (topic creation, connections) when the file is missing.
  await Deno.stat(file).catch((error) => {
    throw new CsvReadError(
      file,
      error instanceof Deno.errors.NotFound
        ? "no such file. Check the path, or run `deno task generate-data` to create the sample"
        : `${error.message}. Check the path and its permissions`,
      { cause: error },
    );
  });
  const rejectsPath = options.rejectsPath ?? rejectsPathFor(file);
  let rejects: RejectsFile | undefined;
  if (rejectsPath !== false) {
    // One rejects file per run; it is removed again at close when the file had no bad rows.
    await Deno.remove(rejectsPath).catch(() => {});
    rejects = await RejectsFile.open(rejectsPath);
  }
  const csv = readCsvTicks(file, {
    signal: options.signal,
    symbol: options.symbol,
    dateFormat: options.dateFormat,
    onReject: (reject) => {
      logger.warn(formatReject(reject));
      rejects?.add(reject);
    },
  });
  // Read the header and the first row now: an unknown layout or a date order to choose stops
  // the run before any topic is created, and the description can say where the symbol is from.
  let first: IteratorResult<Tick, unknown>;
  try {
    first = await csv.next();
  } catch (error) {
    rejects?.close();
    if (rejects?.count === 0) await Deno.remove(rejects.path).catch(() => {});
    throw error;
  }
  async function* ticks(): AsyncGenerator<Tick> {
    if (first.done) return;
    yield first.value;
    yield* csv;
  }
  return {
    raw: ticks(),
    description: file + csvNote(csv.layout),
    counts: () => ({ rows: csv.counts.rows, rejected: csv.counts.rejected }),
    rejects,
  };
}

/** What a CSV's description adds: where a file without a symbol column got its symbol. */
function csvNote(layout: CsvLayout | undefined): string {
  const notes: string[] = [];
  if (layout?.symbol) {
    notes.push(
      `no symbol column: every row is ${layout.symbol.value}, from ${
        layout.symbol.from === "option" ? "--symbol" : "the file name"
      }`,
    );
  }
  if (layout?.dateOrder) notes.push(`dates read as ${layout.dateOrder}`);
  return notes.length ? ` (${notes.join("; ")})` : "";
}

/** How the ticks are delivered: random rows one at a time (sample mode) or paced in order. */
async function delivered(
  raw: AsyncIterable<Tick> | Iterable<Tick>,
  description: string,
  options: TickSourceOptions,
  clock: Clock,
): Promise<{ ticks: AsyncIterable<Tick>; description: string }> {
  const { signal } = options;
  if (options.mode === "sample") {
    const rows = await reservoir(raw, options.sampleReservoir ?? 100_000, signal);
    return {
      ticks: sampleTicks(rows, {
        intervalMs: options.sampleIntervalMs ?? 1000,
        limit: options.limit,
        clock,
        signal,
        repeat: options.repeat,
      }),
      description: `random rows of ${description}, one every ${
        options.sampleIntervalMs ?? 1000
      } ms, ${options.repeat ? "rows may repeat" : "each row once"}`,
    };
  }
  let ticks = pace(raw, options.pace ?? { speed: "max" }, { clock, signal });
  if (options.limit !== undefined) ticks = take(ticks, options.limit);
  return { ticks, description };
}

const DAY_MS = 86_400_000;

async function* take<T>(source: AsyncIterable<T>, limit: number): AsyncGenerator<T> {
  if (limit <= 0) return;
  let n = 0;
  for await (const item of source) {
    yield item;
    if (++n >= limit) return;
  }
}

/** Keeps a uniform random sample of at most `size` items (Algorithm R), in constant memory. */
async function reservoir<T>(
  source: AsyncIterable<T> | Iterable<T>,
  size: number,
  signal?: AbortSignal,
): Promise<T[]> {
  const kept: T[] = [];
  let seen = 0;
  for await (const item of source) {
    if (signal?.aborted) break;
    seen++;
    if (kept.length < size) kept.push(item);
    else {
      const j = Math.floor(Math.random() * seen);
      if (j < size) kept[j] = item;
    }
  }
  return kept;
}
