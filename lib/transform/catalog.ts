/**
 * Catalogs the curated tables like `ticks`: the local catalog file in the lake, or Glue tables for
 * Athena — `bars_daily` with `dt` partition projection (or, once a partition was rebuilt into a
 * generation folder, with each partition registered at its current objects, as compaction does),
 * `symbols` as an unpartitioned table.
 *
 * @module
 */

import { discoverLake, type LakeDiscovery, schemaOf } from "../catalog/discover.ts";
import { ensureGlueTable, type GlueLike } from "../catalog/glue.ts";
import { writeLocalCatalog } from "../catalog/local.ts";
import { tableInput, type TableInputOptions } from "../catalog/table_input.ts";
import { defineLakeTable } from "../lake/compact_glue.ts";
import { readTable } from "../lake/generations.ts";
import { tablePrefix } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { type Logger, silentLogger } from "../log.ts";
import { BARS_DAILY, BARS_DAILY_COLUMNS, type CuratedColumn } from "./bars_daily.ts";
import { curatedTableKey } from "./publish.ts";
import { SYMBOLS, SYMBOLS_COLUMNS } from "./symbols.ts";

/** Options of {@linkcode catalogCurated}. */
export interface CatalogCuratedOptions {
  /** The lake. */
  store: Store;
  /** `local`: `_catalog/<database>/<table>.json` in the lake; `aws`: Glue (the lake must be S3). */
  target: "local" | "aws";
  /** Catalog database. @default "stock_market" */
  database?: string;
  /** Glue client. @default new GlueClient({ region, endpoint }) */
  client?: GlueLike;
  /** Region of the default Glue client. */
  region?: string;
  /** Endpoint of the default Glue client (moto). */
  endpoint?: string;
  /** Progress. @default silentLogger */
  logger?: Logger;
}

/** One curated table as cataloged. */
export interface CuratedCatalogEntry {
  /** What discovery found. */
  discovery: LakeDiscovery;
  /** Where the definition went: a lake key or `glue://database.table`. */
  where: string;
}

const DESCRIPTIONS: Record<string, string> = {
  [BARS_DAILY]:
    "Daily bars per symbol and UTC day built from ticks by deno task transform: open, high, low, close, close_usd, volume, vwap, ticks, first/last tick time.",
  [SYMBOLS]:
    "Symbol dimension: name, exchange, country and currency (data/symbols.csv) with the lake's first/last day and last close, built by deno task transform.",
};

/**
 * Catalogs every curated table the lake holds (none when `deno task transform` has not run).
 *
 * @example
 * ```ts ignore
 * import { catalogCurated } from "./catalog.ts";
 * const entries = await catalogCurated({ store, target: "local" });
 * entries.map((e) => e.where); // [".../_catalog/stock_market/bars_daily.json", ".../symbols.json"]
 * ```
 */
export async function catalogCurated(
  options: CatalogCuratedOptions,
): Promise<CuratedCatalogEntry[]> {
  const { store, target } = options;
  const database = options.database ?? "stock_market";
  const logger = options.logger ?? silentLogger;
  const root = store.uri.replace(/\/+$/, "");
  const entries: CuratedCatalogEntry[] = [];
  const describe = async (
    discovery: LakeDiscovery,
    columns: readonly CuratedColumn[],
    extra: Partial<TableInputOptions>,
  ): Promise<CuratedCatalogEntry> => {
    const input = { ...curatedInput(discovery.table, columns), ...extra };
    if (target === "local") {
      const { key } = await writeLocalCatalog(store, discovery, { database, input });
      return { discovery, where: `${root}/${key}` };
    }
    await ensureGlueTable({
      database,
      table: tableInput(discovery, { ...input, location: `${root}/${discovery.table}/` }),
      client: options.client,
      region: options.region,
      endpoint: options.endpoint,
      logger,
    });
    return { discovery, where: `glue://${database}.${discovery.table}` };
  };

  if ((await readTable(store, tablePrefix(BARS_DAILY))).length > 0) {
    const found = await discoverLake(store, { table: BARS_DAILY, logger });
    if (target === "local") entries.push(await describe(found, BARS_DAILY_COLUMNS, {}));
    else {
      // Projection, or each partition registered once a rebuild put it in a generation folder.
      await defineLakeTable({
        store,
        discovery: found,
        database,
        input: curatedInput(BARS_DAILY, BARS_DAILY_COLUMNS),
        client: options.client,
        region: options.region,
        endpoint: options.endpoint,
        logger,
      });
      entries.push({ discovery: found, where: `glue://${database}.${BARS_DAILY}` });
    }
  }
  const symbolsKey = curatedTableKey(SYMBOLS);
  const symbols = await store.get(symbolsKey);
  if (symbols) {
    const found: LakeDiscovery = {
      table: SYMBOLS,
      format: "parquet",
      gzip: false,
      columns: await schemaOf(store, symbolsKey),
      partitions: [],
      generations: {},
      objects: 1,
      bytes: symbols.byteLength,
    };
    entries.push(await describe(found, SYMBOLS_COLUMNS, { partitioned: false }));
  }
  return entries;
}

function curatedInput(
  table: string,
  columns: readonly CuratedColumn[],
): Pick<TableInputOptions, "description" | "comments"> {
  return {
    description: DESCRIPTIONS[table],
    comments: Object.fromEntries(columns.map((c) => [c.name, c.comment])),
  };
}
