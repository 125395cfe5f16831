/**
 * The transform step: builds the curated tables `bars_daily` and `symbols` from the raw `ticks`,
 * incrementally (only `dt` partitions whose input objects changed since the last run), idempotently
 * (a rerun writes nothing; the same input gives the same bytes) and crash-safely (each partition is
 * replaced atomically, and the state is written after the partitions it describes).
 *
 * @module
 */

import pl from "nodejs-polars";
import { decodeObject, ticksToFrame } from "../lake/encode.ts";
import { DEFAULT_TABLE, formatFor } from "../lake/layout.ts";
import type { Store, StoredObject } from "../lake/store.ts";
import { type Logger, silentLogger } from "../log.ts";
import { PRICE_COLUMNS } from "../tick.ts";
import { BARS_DAILY, barsDailyFrame, decodeCurated, encodeCurated } from "./bars_daily.ts";
import { collectReplaced, publishPartition, removePartition, tablePartitions } from "./publish.ts";
import { fingerprint, readState, sha256, writeState } from "./state.ts";
import { DEFAULT_SYMBOLS_FILE, loadSymbolInfo, SYMBOLS, symbolsFrame } from "./symbols.ts";

/** Options of {@linkcode transformLake}. */
export interface TransformOptions {
  /** The lake (folder or S3). */
  store: Store;
  /** Raw table read. @default "ticks" */
  source?: string;
  /** First `dt` considered, `YYYY-MM-DD`. @default the first */
  from?: string;
  /** Last `dt` considered, `YYYY-MM-DD`. @default the last */
  to?: string;
  /** Rebuild every partition in range, whatever the state says (writes only what differs). @default false */
  full?: boolean;
  /** The symbols CSV. @default data/symbols.csv */
  symbolsFile?: string | URL;
  /** Save the state at most this often while partitions are rebuilt (and at the end), in ms. @default 2000 */
  checkpointMs?: number;
  /** Partitions rebuilt at the same time. @default 4 */
  concurrency?: number;
  /**
   * Objects replaced by an earlier run are deleted once their switch is this old (queries that
   * listed the partition before it have finished). @default 15 minutes, as compaction's grace
   */
  graceMs?: number;
  /** Progress lines. @default silentLogger */
  logger?: Logger;
  /** Called after each partition is published, e.g. for a progress line. */
  onPartition?: (progress: TransformProgress) => void;
}

/** Where a run is. */
export interface TransformProgress {
  /** Partitions to rebuild in this run. */
  total: number;
  /** Of them, done so far. */
  done: number;
  /** The partition just done. */
  dt: string;
}

/** What a run did. */
export interface TransformReport {
  /** `ticks` partitions in range. */
  partitions: number;
  /** Partitions rebuilt because their input changed (or `full`). */
  rebuilt: string[];
  /** Of those, partitions whose object actually changed (written). */
  written: string[];
  /** Curated partitions removed because their ticks are gone. */
  removed: string[];
  /** Objects deleted because earlier runs replaced them more than the grace period ago. */
  collected: string[];
  /** Rows written to `bars_daily` in this run. */
  rows: number;
  /** Whether the `symbols` table was written, left as it was, or not considered. */
  symbols: "written" | "unchanged" | "skipped";
  /** Wall-clock time in milliseconds. */
  elapsedMs: number;
}

/** Raised for options the transform cannot use; the message says what is accepted. */
export class TransformError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TransformError";
  }
}

/**
 * Brings `bars_daily` and `symbols` up to date with `ticks`.
 *
 * @example
 * ```ts ignore
 * import { transformLake } from "./transform.ts";
 * import { openStore } from "../lake/open_store.ts";
 * const report = await transformLake({ store: openStore("./lake") });
 * report.rebuilt; // ["2021-05-31", …] the first time, [] when nothing changed
 * ```
 * @throws {TransformError} for a bad range or a lake without ticks.
 */
export async function transformLake(options: TransformOptions): Promise<TransformReport> {
  const started = performance.now();
  const { store } = options;
  const logger = options.logger ?? silentLogger;
  const source = options.source ?? DEFAULT_TABLE;
  const { inputs, state, rebuild, removed } = await planTransform(store, options);
  logger.info(
    `${inputs.size} ${source} partition(s) in range; ${rebuild.length} to rebuild` +
      (removed.length ? `, ${removed.length} to remove (their ${source} are gone)` : "") + ".",
  );

  const report: TransformReport = {
    partitions: inputs.size,
    rebuilt: [],
    written: [],
    removed: [],
    collected: await collectReplaced(store, BARS_DAILY, options.graceMs),
    rows: 0,
    symbols: "skipped",
    elapsedMs: 0,
  };
  const checkpointMs = options.checkpointMs ?? 2000;
  let saved = performance.now();
  await inParallel(rebuild, options.concurrency ?? 4, async ([dt, objects, inputsHash]) => {
    const bars = barsDailyFrame(await readTicks(store, objects));
    const body = encodeCurated(bars);
    if (await publishPartition(store, BARS_DAILY, dt, body) === "written") report.written.push(dt);
    state.partitions[dt] = { inputs: inputsHash, output: await sha256(body), rows: bars.height };
    report.rebuilt.push(dt);
    report.rows += bars.height;
    options.onPartition?.({ total: rebuild.length, done: report.rebuilt.length, dt });
    if (performance.now() - saved >= checkpointMs) {
      saved = performance.now();
      await writeState(store, state);
    }
  });
  report.rebuilt.sort();
  report.written.sort();
  for (const dt of removed) {
    await removePartition(store, BARS_DAILY, dt);
    delete state.partitions[dt];
    report.removed.push(dt);
  }
  await writeState(store, state);

  report.symbols = await buildSymbols(store, state.partitions, options);
  report.elapsedMs = performance.now() - started;
  return report;
}

/** Which partitions a run would rebuild or remove; see {@linkcode pendingPartitions}. */
async function planTransform(
  store: Store,
  options: Pick<TransformOptions, "source" | "from" | "to" | "full">,
) {
  const source = options.source ?? DEFAULT_TABLE;
  checkRange(options.from, options.to);
  const inRange = (dt: string) =>
    (options.from === undefined || dt >= options.from) &&
    (options.to === undefined || dt <= options.to);
  const all = await tablePartitions(store, source);
  if (all.size === 0) {
    throw new TransformError(
      `The lake ${store.uri} has no ${source} (expected ${source}/dt=YYYY-MM-DD/*.parquet or ` +
        "*.jsonl): run `deno task consume` first, or pass --lake to point at another lake.",
    );
  }
  const inputs = new Map([...all].filter(([dt]) => inRange(dt)));
  const state = await readState(store, BARS_DAILY);
  const rebuild: [string, StoredObject[], string][] = [];
  for (const [dt, objects] of [...inputs].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const inputsHash = await fingerprint(objects);
    if (options.full || state.partitions[dt]?.inputs !== inputsHash) {
      rebuild.push([dt, objects, inputsHash]);
    }
  }
  const removed = Object.keys(state.partitions).filter((dt) => inRange(dt) && !inputs.has(dt))
    .sort();
  return { inputs, state, rebuild, removed };
}

/**
 * The `dt` partitions (in range) whose `bars_daily` is not up to date with the ticks: to rebuild
 * (new or changed ticks) or to remove (ticks gone). Both empty: `bars_daily` answers exactly what
 * `ticks` would. Costs one listing of the ticks and no reads of data.
 *
 * @throws {TransformError} for a bad range or a lake without ticks.
 */
export async function pendingPartitions(
  store: Store,
  options: Pick<TransformOptions, "source" | "from" | "to"> = {},
): Promise<{ rebuild: string[]; remove: string[] }> {
  const { rebuild, removed } = await planTransform(store, options);
  return { rebuild: rebuild.map(([dt]) => dt), remove: removed };
}

/**
 * Rebuilds `symbols` when the bars or the symbols file changed since it was built (its state
 * records a digest of both).
 */
async function buildSymbols(
  store: Store,
  bars: Record<string, { output: string }>,
  options: TransformOptions,
): Promise<"written" | "unchanged"> {
  const file = options.symbolsFile ?? DEFAULT_SYMBOLS_FILE;
  const info = await loadSymbolInfo(file);
  const digest = await sha256(
    JSON.stringify(info) + "\n" +
      Object.entries(bars).sort(([a], [b]) => (a < b ? -1 : 1)).map(([dt, p]) =>
        `${dt} ${p.output}`
      )
        .join("\n"),
  );
  const state = await readState(store, SYMBOLS);
  if (!options.full && state.partitions[""]?.inputs === digest) return "unchanged";
  const frames: pl.DataFrame[] = [];
  for (const objects of (await tablePartitions(store, BARS_DAILY)).values()) {
    for (const { key } of objects) {
      const bytes = await store.get(key);
      if (bytes) frames.push(decodeCurated(bytes).select("symbol", "day", "close", "close_usd"));
    }
  }
  const all = frames.length ? pl.concat(frames) : pl.DataFrame({});
  const table = symbolsFrame(info, all.height ? all : emptyBars());
  const body = encodeCurated(table);
  const outcome = await publishPartition(store, SYMBOLS, undefined, body);
  state.partitions[""] = { inputs: digest, output: await sha256(body), rows: table.height };
  await writeState(store, state);
  return outcome;
}

function emptyBars(): pl.DataFrame {
  return pl.DataFrame([
    pl.Series("symbol", [], pl.Utf8),
    pl.Series("day", [], pl.Date),
    pl.Series("close", [], pl.Float64),
    pl.Series("close_usd", [], pl.Float64),
  ]);
}

/** Reads one partition's objects (Parquet or JSON Lines) into one frame with the lake's tick columns. */
async function readTicks(store: Store, objects: readonly StoredObject[]): Promise<pl.DataFrame> {
  const frames = await Promise.all(objects.map(async ({ key }) => {
    const bytes = await store.get(key);
    if (!bytes) {
      throw new TransformError(
        `Object "${key}" vanished while the transform read it (compaction or a cleanup ran at ` +
          "the same time?): run the transform again.",
      );
    }
    if (formatFor(key)?.format !== "parquet") return ticksToFrame(decodeObject(key, bytes));
    return pl.readParquet(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).select(
      pl.col("symbol").cast(pl.Utf8),
      pl.col("ts").cast(pl.Datetime("ms", "UTC")),
      ...PRICE_COLUMNS.map((c) => pl.col(c).cast(pl.Float64)),
    );
  }));
  return frames.length === 1 ? frames[0] : pl.concat(frames);
}

function checkRange(from?: string, to?: string): void {
  for (const [flag, value] of [["from", from], ["to", to]] as const) {
    if (value === undefined) continue;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
      throw new TransformError(
        `--${flag} "${value}" is not a date: use YYYY-MM-DD, e.g. 2021-05-31.`,
      );
    }
  }
  if (from !== undefined && to !== undefined && from > to) {
    throw new TransformError(`--from ${from} is after --to ${to}: swap them.`);
  }
}

/** Runs `work` on every item, at most `limit` at a time; the first failure stops new work and is thrown. */
async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
