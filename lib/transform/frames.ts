/**
 * The curated tables for queries: as lazy Polars frames for the local SQL engine (`deno task
 * query` and the analysis notebook can query `bars_daily` and join `symbols` beside `ticks`), and
 * the choice of which table a named analysis reads.
 *
 * @module
 */

import pl from "nodejs-polars";
import { readTable } from "../lake/generations.ts";
import { tablePrefix } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { ANALYSES, type AnalysisName, type AnalysisSource } from "../query/analyses.ts";
import { openLocalEngine } from "../query/local.ts";
import { BARS_DAILY, decodeCurated } from "./bars_daily.ts";
import { curatedTableKey } from "./publish.ts";
import { SYMBOLS } from "./symbols.ts";
import { pendingPartitions } from "./transform.ts";

/**
 * A `tables` option for `openLocalEngine`: the curated tables the lake holds (none before the
 * first `deno task transform`), `bars_daily` chosen by the same reader rule as `ticks`.
 *
 * @example
 * ```ts ignore
 * import { curatedTables } from "./frames.ts";
 * import { ANALYSES, type AnalysisName, type AnalysisSource } from "../query/analyses.ts";
import { openLocalEngine } from "../query/local.ts";
 * const engine = await openLocalEngine({ store, tables: curatedTables() });
 * await engine.query("SELECT b.symbol, s.name, b.close FROM bars_daily b JOIN symbols s ON b.symbol = s.symbol");
 * ```
 */
export function curatedTables(
  options: { cloudOptions?: Record<string, string> } = {},
): (store: Store) => Promise<Record<string, pl.LazyDataFrame>> {
  return async (store) => {
    const tables: Record<string, pl.LazyDataFrame> = {};
    if ((await readTable(store, tablePrefix(BARS_DAILY))).some((v) => v.objects.length > 0)) {
      const engine = await openLocalEngine({
        store,
        table: BARS_DAILY,
        prefix: tablePrefix(BARS_DAILY),
        cloudOptions: options.cloudOptions,
      });
      tables[BARS_DAILY] = engine.frame;
    }
    const symbols = await store.get(curatedTableKey(SYMBOLS));
    if (symbols) tables[SYMBOLS] = decodeCurated(symbols).lazy();
    return tables;
  };
}

/** What {@linkcode chooseSource} decided, and why (for a line on stderr). */
export interface SourceChoice {
  /** The table the analysis reads. */
  source: AnalysisSource;
  /** Why, in words. */
  reason: string;
}

/**
 * Which table a named analysis should read: `auto` takes `bars_daily` when the analysis can
 * (`ohlc`, `vwap`) and `bars_daily` is up to date with `ticks` for the range
 * ({@linkcode pendingPartitions}: one listing, no data read), else `ticks`. An explicit source is
 * kept (a stale `bars_daily` is only reported).
 *
 * @example
 * ```ts ignore
 * import { chooseSource } from "./frames.ts";
 * const { source, reason } = await chooseSource(store, "ohlc", { requested: "auto" });
 * ```
 */
export async function chooseSource(
  store: Store,
  name: AnalysisName,
  options: { requested?: "auto" | AnalysisSource; from?: string; to?: string } = {},
): Promise<SourceChoice> {
  const requested = options.requested ?? "auto";
  if (requested === "ticks") return { source: "ticks", reason: "--source ticks" };
  if (requested === "auto" && !ANALYSES[name]?.sources.includes(BARS_DAILY)) {
    return { source: "ticks", reason: `${name} needs every tick` };
  }
  const { rebuild, remove } = await pendingPartitions(store, {
    from: options.from,
    to: options.to,
  });
  const behind = rebuild.length + remove.length;
  if (behind === 0) {
    return { source: BARS_DAILY, reason: `${BARS_DAILY} is up to date with ticks` };
  }
  const why =
    `${BARS_DAILY} is behind ticks in ${behind} partition(s); run \`deno task transform\``;
  return requested === "auto"
    ? { source: "ticks", reason: why }
    : { source: BARS_DAILY, reason: `--source ${BARS_DAILY}, although ${why}` };
}

/** The size of one lake table. */
export interface TableSize {
  /** Table name. */
  table: string;
  /** `dt` partitions (0 for an unpartitioned table). */
  partitions: number;
  /** Live objects (by the reader rule). */
  objects: number;
  /** Their bytes. */
  bytes: number;
}

/**
 * The raw and curated tables side by side (`ticks`, `bars_daily`, `symbols`): partitions, live
 * objects and bytes, by the lake's reader rule. Tables the lake does not hold are left out.
 */
export async function tableSizes(
  store: Store,
  tables = ["ticks", BARS_DAILY],
): Promise<TableSize[]> {
  const sizes: TableSize[] = [];
  for (const table of tables) {
    const views = (await readTable(store, tablePrefix(table))).filter((v) => v.objects.length);
    if (views.length === 0) continue;
    const objects = views.flatMap((v) => v.objects);
    sizes.push({
      table,
      partitions: views.length,
      objects: objects.length,
      bytes: objects.reduce((n, o) => n + o.size, 0),
    });
  }
  const symbols = await store.get(curatedTableKey(SYMBOLS));
  if (symbols) sizes.push({ table: SYMBOLS, partitions: 0, objects: 1, bytes: symbols.byteLength });
  return sizes;
}
