/**
 * Ticks held as columns: a symbol array and one `Float64Array` per number column, with a mask per
 * price column for its nulls. The sink buffers a partition's rows in a {@linkcode TickRows} until
 * they are written: a buffered row then costs no JavaScript object (a `Tick` held until its flush
 * is ten heap objects, each number boxed, that the garbage collector copies and marks again and
 * again), and the Parquet writer takes the columns as they are.
 *
 * @module
 */

import { PRICE_COLUMNS, type Tick } from "../tick.ts";

/** Ticks as columns, every array `length` rows long. */
export interface TickColumns {
  /** Rows. */
  length: number;
  /** `symbol` of each row. */
  symbols: string[];
  /** `ts` of each row, epoch ms. */
  times: Float64Array;
  /** One array per {@linkcode PRICE_COLUMNS} entry, in that order; 0 where the row has null. */
  prices: Float64Array[];
  /** One mask per {@linkcode PRICE_COLUMNS} entry: 1 where the row has a number, 0 for null. */
  defined: Uint8Array[];
}

/**
 * Rows fetched from Kafka, as columns, each with its offset, record timestamp and value size:
 * what the ingest job decodes from a fetched batch and hands to the sink.
 */
export interface FetchedRows extends TickColumns {
  /** Kafka offset of each row (an offset is exact as a number below 2^53). */
  offsets: Float64Array;
  /** Kafka record timestamp of each row, epoch ms (the ingest time of `partitionBy: "ingest"`). */
  ingest: Float64Array;
  /** Size of each row's Kafka value in bytes, for the byte-based flush trigger. */
  sizes: Float64Array;
}

/** One fetched row, for {@linkcode fetchedRows}. */
export interface FetchedRow {
  /** Kafka offset. */
  offset: bigint | number;
  /** The tick. */
  tick: Tick;
  /** Kafka record timestamp, epoch ms. @default 0 */
  timestamp?: number;
  /** Value size in bytes. @default 0 */
  size?: number;
}

/**
 * Fetched rows as columns ({@linkcode FetchedRows}), from rows given one by one.
 *
 * @example
 * ```ts
 * import { fetchedRows } from "./tick_rows.ts";
 * const rows = fetchedRows([{ offset: 7n, tick: { symbol: "NYA", ts: 0, open: 1, high: 1,
 *   low: 1, close: 1, adj_close: 1, volume: 0, close_usd: 1 } }]);
 * rows.offsets[0]; // 7
 * ```
 */
export function fetchedRows(rows: readonly FetchedRow[]): FetchedRows {
  const table = new TickRows();
  for (const row of rows) table.push(row.tick, row.timestamp ?? 0);
  return {
    ...table.columns(),
    offsets: Float64Array.from(rows, (row) => Number(row.offset)),
    ingest: table.ingest.slice(0, rows.length),
    sizes: Float64Array.from(rows, (row) => row.size ?? 0),
  };
}

const FIRST_CAPACITY = 1024;

/**
 * A growing table of ticks in columns, with each row's Kafka timestamp beside it.
 *
 * @example
 * ```ts
 * import { TickRows } from "./tick_rows.ts";
 * const rows = new TickRows();
 * rows.push({ symbol: "NYA", ts: 0, open: 1, high: 2, low: 1, close: 2, adj_close: 2,
 *   volume: null, close_usd: 2 }, 5);
 * rows.length; // 1
 * rows.tick(0).volume; // null
 * rows.ingest[0]; // 5
 * ```
 */
export class TickRows {
  #length = 0;
  #capacity = FIRST_CAPACITY;
  /** `symbol` of each row. */
  symbols: string[] = [];
  /** `ts` of each row. */
  times = new Float64Array(FIRST_CAPACITY);
  /** Kafka record timestamp of each row, epoch ms (for `partitionBy: "ingest"`). */
  ingest = new Float64Array(FIRST_CAPACITY);
  /** Price columns, as in {@linkcode TickColumns}. */
  prices: Float64Array[] = PRICE_COLUMNS.map(() => new Float64Array(FIRST_CAPACITY));
  /** Null masks, as in {@linkcode TickColumns}. */
  defined: Uint8Array[] = PRICE_COLUMNS.map(() => new Uint8Array(FIRST_CAPACITY));

  /** Rows held. */
  get length(): number {
    return this.#length;
  }

  /** Appends `tick`, received with Kafka timestamp `ingestMs`. */
  push(tick: Tick, ingestMs: number): void {
    const i = this.#length;
    if (i === this.#capacity) this.#grow();
    this.symbols.push(tick.symbol);
    this.times[i] = tick.ts;
    this.ingest[i] = ingestMs;
    for (let c = 0; c < PRICE_COLUMNS.length; c++) {
      const value = tick[PRICE_COLUMNS[c]];
      if (value === null || value === undefined) continue;
      this.prices[c][i] = value;
      this.defined[c][i] = 1;
    }
    this.#length = i + 1;
  }

  /** Appends rows `start` to `end` (excluded) of `rows`, column by column. */
  append(rows: FetchedRows, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    const at = this.#length;
    while (this.#capacity < at + n) this.#grow();
    for (let i = start; i < end; i++) this.symbols.push(rows.symbols[i]);
    this.times.set(rows.times.subarray(start, end), at);
    this.ingest.set(rows.ingest.subarray(start, end), at);
    for (let c = 0; c < PRICE_COLUMNS.length; c++) {
      this.prices[c].set(rows.prices[c].subarray(start, end), at);
      this.defined[c].set(rows.defined[c].subarray(start, end), at);
    }
    this.#length = at + n;
  }

  /** Row `i` as a tick. */
  tick(i: number): Tick {
    return rowAt(this, i);
  }

  /** All rows, as columns (views of this table's arrays: no copy). */
  columns(): TickColumns {
    const n = this.#length;
    return {
      length: n,
      symbols: this.symbols,
      times: this.times.subarray(0, n),
      prices: this.prices.map((column) => column.subarray(0, n)),
      defined: this.defined.map((mask) => mask.subarray(0, n)),
    };
  }

  /** The rows at `indices`, in that order, as columns of their own. */
  select(indices: readonly number[]): TickColumns {
    const n = indices.length;
    const out: TickColumns = {
      length: n,
      symbols: new Array(n),
      times: new Float64Array(n),
      prices: PRICE_COLUMNS.map(() => new Float64Array(n)),
      defined: PRICE_COLUMNS.map(() => new Uint8Array(n)),
    };
    for (let j = 0; j < n; j++) {
      const i = indices[j];
      out.symbols[j] = this.symbols[i];
      out.times[j] = this.times[i];
    }
    for (let c = 0; c < PRICE_COLUMNS.length; c++) {
      const [from, to, mask, toMask] = [
        this.prices[c],
        out.prices[c],
        this.defined[c],
        out.defined[c],
      ];
      for (let j = 0; j < n; j++) {
        to[j] = from[indices[j]];
        toMask[j] = mask[indices[j]];
      }
    }
    return out;
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    const grown = <T extends Float64Array | Uint8Array>(array: T, make: (n: number) => T) => {
      const next = make(capacity);
      next.set(array);
      return next;
    };
    const doubles = (n: number) => new Float64Array(n);
    const bytes = (n: number) => new Uint8Array(n);
    this.times = grown(this.times, doubles);
    this.ingest = grown(this.ingest, doubles);
    this.prices = this.prices.map((column) => grown(column, doubles));
    this.defined = this.defined.map((mask) => grown(mask, bytes));
    this.#capacity = capacity;
  }
}

/**
 * Ticks as columns (what {@linkcode TickRows.columns} gives for rows pushed one by one).
 *
 * @example
 * ```ts
 * import { ticksToColumns } from "./tick_rows.ts";
 * ticksToColumns([]).length; // 0
 * ```
 */
export function ticksToColumns(ticks: readonly Tick[]): TickColumns {
  const rows = new TickRows();
  for (const tick of ticks) rows.push(tick, 0);
  return rows.columns();
}

/**
 * Columns back to ticks (nulls where a mask says so).
 *
 * @example
 * ```ts
 * import { columnsToTicks, ticksToColumns } from "./tick_rows.ts";
 * columnsToTicks(ticksToColumns([])); // []
 * ```
 */
export function columnsToTicks(columns: TickColumns): Tick[] {
  return Array.from({ length: columns.length }, (_, i) => rowAt(columns, i));
}

function rowAt(columns: Omit<TickColumns, "length">, i: number): Tick {
  const tick = { symbol: columns.symbols[i], ts: columns.times[i] } as Tick;
  for (let c = 0; c < PRICE_COLUMNS.length; c++) {
    tick[PRICE_COLUMNS[c]] = columns.defined[c][i] ? columns.prices[c][i] : null;
  }
  return tick;
}
