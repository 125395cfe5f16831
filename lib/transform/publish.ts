/**
 * How curated tables meet their readers: the one place that says which objects make up a
 * partition (of `ticks`, read as input, or of a curated table) and that replaces a curated
 * partition.
 *
 * Today a curated partition is **one object under a fixed key** (`bars_daily/dt=…/bars_daily.parquet`,
 * `symbols/symbols.parquet`), replaced by one atomic `put` (a rename on a folder, one PUT on S3):
 * a reader lists either the old object or the new one, never half of one and never both, and a
 * crash leaves the old or the new. The lake's per-partition publish mechanism (compaction's
 * generations, `lib/lake/generations.ts`) is meant to take over here once it lands — then every
 * object is immutable and a manifest switch publishes it; only these functions change.
 *
 * @module
 */

import { formatFor, partitionPrefix, tablePrefix } from "../lake/layout.ts";
import type { Store, StoredObject } from "../lake/store.ts";

const DT_FOLDER = /^[a-z0-9_]+\/dt=(\d{4}-\d{2}-\d{2})\/([^/]+)$/;

/**
 * The data objects of a table grouped by `dt` (key order within each), as readers see them:
 * objects with a lake extension directly inside `dt=YYYY-MM-DD/`, skipping hidden (`.`) and
 * marker (`_`) names.
 *
 * @example
 * ```ts ignore
 * import { tablePartitions } from "./publish.ts";
 * const partitions = await tablePartitions(store, "ticks"); // Map { "2021-05-31" => [{ key, size }, …] }
 * ```
 */
export async function tablePartitions(
  store: Store,
  table: string,
): Promise<Map<string, StoredObject[]>> {
  const partitions = new Map<string, StoredObject[]>();
  for await (const object of store.list(tablePrefix(table))) {
    const match = DT_FOLDER.exec(object.key);
    if (!match || /^[._]/.test(match[2]) || !formatFor(object.key)) continue;
    const list = partitions.get(match[1]) ?? [];
    list.push(object);
    partitions.set(match[1], list);
  }
  return partitions;
}

/** The key of a curated table's object in partition `dt`, e.g. `bars_daily/dt=2021-05-31/bars_daily.parquet`. */
export function curatedPartitionKey(table: string, dt: string): string {
  return `${partitionPrefix(table, dt)}${table}.parquet`;
}

/** The key of an unpartitioned curated table's object, e.g. `symbols/symbols.parquet`. */
export function curatedTableKey(table: string): string {
  return `${tablePrefix(table)}${table}.parquet`;
}

/** What {@linkcode publishPartition} did. */
export type PublishOutcome = "written" | "unchanged";

/**
 * Publishes the new contents of one curated partition (`dt` given) or of an unpartitioned table
 * (`dt` omitted) atomically. When the partition already holds exactly these bytes nothing is
 * written, so a rerun leaves the lake as it was.
 */
export async function publishPartition(
  store: Store,
  table: string,
  dt: string | undefined,
  body: Uint8Array,
): Promise<PublishOutcome> {
  const key = dt === undefined ? curatedTableKey(table) : curatedPartitionKey(table, dt);
  const current = await store.get(key);
  if (current && equalBytes(current, body)) return "unchanged";
  await store.put(key, body);
  return "written";
}

/** Removes a curated partition whose input is gone (every reader then sees no rows for it). */
export async function removePartition(store: Store, table: string, dt: string): Promise<void> {
  await store.delete(curatedPartitionKey(table, dt));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
