/**
 * The local catalog: the lake table's Glue `TableInput` and its partitions, written as JSON into
 * the lake itself (`_catalog/<database>/<table>.json`), so a local lake is described the same way
 * Glue describes the S3 one.
 *
 * @module
 */

import type { TableInput } from "@aws-sdk/client-glue";
import type { Store } from "../lake/store.ts";
import type { LakeDiscovery } from "./discover.ts";
import { tableInput, type TableInputOptions } from "./table_input.ts";

/** The document the local catalog stores for one table. */
export interface LocalCatalogEntry {
  /** Database name. */
  DatabaseName: string;
  /** The table, as Glue's CreateTable would receive it. */
  TableInput: TableInput;
  /** One entry per `dt` partition, as Glue's BatchCreatePartition would receive it. */
  Partitions: { Values: string[]; StorageDescriptor: { Location: string } }[];
  /** Objects and bytes counted when it was written. */
  Stats: { objects: number; bytes: number };
  /** When it was written (ISO-8601). */
  UpdatedAt: string;
}

/** Options of {@linkcode writeLocalCatalog}. */
export interface WriteLocalCatalogOptions {
  /** Database name. @default "stock_market" */
  database?: string;
  /** Clock for `UpdatedAt`. @default Date.now */
  now?: () => number;
  /** More of the table's definition (description, comments, no partitions). @default none */
  input?: Omit<TableInputOptions, "location" | "projection">;
}

/** The key of a table's catalog document inside the lake. */
export function localCatalogKey(database: string, table: string): string {
  return `_catalog/${database}/${table}.json`;
}

/**
 * Writes (or overwrites, so running it again is harmless) the catalog entry for a discovered
 * table and returns it with its key.
 *
 * @example
 * ```ts ignore
 * import { discoverLake } from "./discover.ts";
 * import { writeLocalCatalog } from "./local.ts";
 * import { openStore } from "../lake/open_store.ts";
 * const store = openStore("./lake");
 * const { key } = await writeLocalCatalog(store, await discoverLake(store));
 * // key === "_catalog/stock_market/ticks.json"
 * ```
 */
export async function writeLocalCatalog(
  store: Store,
  discovery: LakeDiscovery,
  options: WriteLocalCatalogOptions = {},
): Promise<{ key: string; entry: LocalCatalogEntry }> {
  const database = options.database ?? "stock_market";
  const location = `${store.uri.replace(/\/+$/, "")}/${discovery.table}/`;
  const entry: LocalCatalogEntry = {
    DatabaseName: database,
    TableInput: tableInput(discovery, { ...options.input, location, projection: false }),
    Partitions: discovery.partitions.map((dt) => ({
      Values: [dt],
      // A compacted partition is located at its current generation's folder, as in Glue.
      StorageDescriptor: {
        Location: discovery.generations?.[dt]
          ? `${store.uri.replace(/\/+$/, "")}/${discovery.generations[dt]}`
          : `${location}dt=${dt}/`,
      },
    })),
    Stats: { objects: discovery.objects, bytes: discovery.bytes },
    UpdatedAt: new Date((options.now ?? Date.now)()).toISOString(),
  };
  const key = localCatalogKey(database, discovery.table);
  await store.put(key, new TextEncoder().encode(JSON.stringify(entry, null, 2) + "\n"));
  return { key, entry };
}

/** Reads a table's catalog entry, or `undefined` when `deno task crawl` has not written one. */
export async function readLocalCatalog(
  store: Store,
  database: string,
  table: string,
): Promise<LocalCatalogEntry | undefined> {
  const bytes = await store.get(localCatalogKey(database, table));
  return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : undefined;
}
