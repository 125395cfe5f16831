/**
 * The curated tables as lazy Polars frames, for the local SQL engine: `deno task query` and the
 * analysis notebook can then query `bars_daily` and join `symbols` beside `ticks`.
 *
 * @module
 */

import pl from "nodejs-polars";
import { readTable } from "../lake/generations.ts";
import { tablePrefix } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { openLocalEngine } from "../query/local.ts";
import { BARS_DAILY, decodeCurated } from "./bars_daily.ts";
import { curatedTableKey } from "./publish.ts";
import { SYMBOLS } from "./symbols.ts";

/**
 * A `tables` option for `openLocalEngine`: the curated tables the lake holds (none before the
 * first `deno task transform`), `bars_daily` chosen by the same reader rule as `ticks`.
 *
 * @example
 * ```ts ignore
 * import { curatedTables } from "./frames.ts";
 * import { openLocalEngine } from "../query/local.ts";
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
