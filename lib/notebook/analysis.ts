/**
 * The analysis notebook's lake: catalog it (a local catalog file, or a Glue table) and query it
 * (Polars SQL, or Athena), for either target.
 *
 * @module
 */

import { discoverLake, type LakeDiscovery } from "../catalog/discover.ts";
import { writeLocalCatalog } from "../catalog/local.ts";
import { defineLakeTable } from "../lake/compact_glue.ts";
import { tablePrefix } from "../lake/layout.ts";
import { openStore } from "../lake/open_store.ts";
import type { Store } from "../lake/store.ts";
import { type Logger, silentLogger } from "../log.ts";
import {
  type AnalysisName,
  type AnalysisOptions,
  analysisSql,
  type Engine,
} from "../query/analyses.ts";
import { queryAthena } from "../query/athena.ts";
import { openLocalEngine, s3CloudOptions } from "../query/local.ts";
import type { QueryResult } from "../query/result.ts";
import type { NotebookSettings } from "./settings.ts";
import { catalogCurated } from "../transform/catalog.ts";
import { curatedTables, type TableSize, tableSizes } from "../transform/frames.ts";
import { transformLake, type TransformReport } from "../transform/transform.ts";

/** What {@linkcode LakeAnalysis.catalog} found and where it wrote the table. */
export interface CatalogSummary {
  /** The table's schema, partitions and size. */
  discovery: LakeDiscovery;
  /** Where the table definition went: a lake key or `glue://database.table`. */
  where: string;
}

/** The lake opened for the analysis notebook: catalog it, then query it. */
export interface LakeAnalysis {
  /** `local` (Polars SQL) or `athena`. */
  readonly engine: Engine;
  /** The lake store. */
  readonly store: Store;
  /** Discovers the table and writes it to the local catalog or to Glue. */
  catalog(): Promise<CatalogSummary>;
  /** Runs one SQL statement on the target's engine. */
  sql(sql: string): Promise<QueryResult>;
  /**
   * Builds the curated tables (`deno task transform`: `bars_daily`, `symbols`), catalogs them for
   * the target and returns what it did with the sizes of the raw and curated tables.
   */
  transform(): Promise<{ report: TransformReport; sizes: TableSize[] }>;
  /** Runs a named analysis (see `deno task query --list`). */
  named(name: AnalysisName, options?: AnalysisOptions): Promise<QueryResult>;
}

/**
 * Opens the lake of the settings for catalog + query: locally Polars SQL and a catalog file in
 * the lake; with `NOTEBOOK_TARGET=aws` a Glue table (partition projection) and Athena.
 *
 * @example
 * ```ts ignore
 * import { notebookSettings, openLakeAnalysis } from "./mod.ts";
 * const lake = openLakeAnalysis(notebookSettings());
 * await lake.catalog();
 * const latest = await lake.named("latest");
 * ```
 */
export function openLakeAnalysis(
  settings: NotebookSettings,
  options: { logger?: Logger } = {},
): LakeAnalysis {
  const logger = options.logger ?? silentLogger;
  const store = openStore(settings.lake, { region: settings.region, endpoint: settings.endpoint });
  const engine: Engine = settings.target === "aws" ? "athena" : "local";
  let local: ReturnType<typeof openLocalEngine> | undefined;
  const sql = async (text: string): Promise<QueryResult> => {
    if (engine === "athena") {
      return await queryAthena(text, {
        database: settings.database,
        workgroup: settings.workgroup,
        outputLocation: settings.athenaOutput,
        region: settings.region,
        endpoint: settings.endpoint,
        logger,
      });
    }
    local ??= openLocalEngine({
      store,
      table: settings.table,
      prefix: tablePrefix(settings.table),
      cloudOptions: s3CloudOptions({ region: settings.region, endpoint: settings.endpoint }),
      tables: curatedTables({
        cloudOptions: s3CloudOptions({ region: settings.region, endpoint: settings.endpoint }),
      }),
    });
    return await (await local).query(text);
  };
  return {
    engine,
    store,
    async catalog() {
      const discovery = await discoverLake(store, { table: settings.table, logger });
      local = undefined; // the lake may have grown since the engine listed it
      if (engine === "local") {
        const { key } = await writeLocalCatalog(store, discovery, { database: settings.database });
        return { discovery, where: `${store.uri.replace(/\/+$/, "")}/${key}` };
      }
      // Projection, or registered partitions for a compacted lake (`deno task compact`).
      await defineLakeTable({
        store,
        discovery,
        database: settings.database,
        table: settings.table,
        region: settings.region,
        endpoint: settings.endpoint,
        logger,
      });
      return { discovery, where: `glue://${settings.database}.${settings.table}` };
    },
    async transform() {
      const report = await transformLake({ store, logger });
      await catalogCurated({
        store,
        target: engine === "local" ? "local" : "aws",
        database: settings.database,
        region: settings.region,
        endpoint: settings.endpoint,
        logger,
      });
      local = undefined; // the engine lists the new tables when it opens again
      return { report, sizes: await tableSizes(store) };
    },
    sql,
    named: (name, analysisOptions = {}) =>
      sql(analysisSql(name, engine, { table: settings.table, ...analysisOptions })),
  };
}
