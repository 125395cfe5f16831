/**
 * How curated tables meet their readers: the one place that says which objects make up a
 * partition (of `ticks`, read as input, or of a curated table) and that replaces a curated
 * partition — through the lake's reader rule and generations (`lib/lake/generations.ts`), the
 * mechanism compaction uses.
 *
 * - The **first** version of a curated partition is one object under a fixed key
 *   (`bars_daily/dt=…/bars_daily.parquet`), written by one atomic `put`: readers see no object or
 *   the whole object. A clean rebuild gives the same keys and the same bytes.
 * - A **changed** partition is replaced by a new generation: the new object goes into the draft's
 *   own folder (`_g000002-<run>/part-00000.parquet`, invisible to readers), then one manifest
 *   write (`putIfAbsent`) switches every reader from the old object to the new one. The old one
 *   is deleted by {@linkcode collectReplaced} (every transform run calls it) once the grace period has passed. A crash anywhere leaves the
 *   old or the new version live, never both, never half.
 * - Identical bytes are never written again: a rerun leaves the lake as it was.
 *
 * The `symbols` dimension has no partitions: it is one small object under a fixed key, replaced
 * by one atomic `put`.
 *
 * @module
 */

import {
  beginGeneration,
  collectGarbage,
  DEFAULT_GRACE_MS,
  isDataKey,
  publishGeneration,
  readTable,
} from "../lake/generations.ts";
import { partitionPrefix, tablePrefix } from "../lake/layout.ts";
import type { Store, StoredObject } from "../lake/store.ts";

const DT_PARTITION = /\/dt=(\d{4}-\d{2}-\d{2})\/$/;

/**
 * The live data objects of a table grouped by `dt`, by the lake's reader rule (what every query
 * sees: the current generation of a compacted or rebuilt partition, never the objects it
 * replaced).
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
  for (const view of await readTable(store, tablePrefix(table))) {
    const dt = DT_PARTITION.exec(view.partition)?.[1];
    if (dt && view.objects.length > 0) partitions.set(dt, view.objects);
  }
  return partitions;
}

/** The key of a curated table's first object in partition `dt`, e.g. `bars_daily/dt=2021-05-31/bars_daily.parquet`. */
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
 * (`dt` omitted) so readers switch atomically from the old to the new contents (see the module
 * docs). When the partition already holds exactly these bytes nothing is written.
 */
export async function publishPartition(
  store: Store,
  table: string,
  dt: string | undefined,
  body: Uint8Array,
): Promise<PublishOutcome> {
  if (dt === undefined) {
    const key = curatedTableKey(table);
    const current = await store.get(key);
    if (current && equalBytes(current, body)) return "unchanged";
    await store.put(key, body);
    return "written";
  }
  const partition = partitionPrefix(table, dt);
  const draft = await beginGeneration(store, partition);
  if (draft.live.length === 0 && !draft.base) {
    // Never published: one atomic put of a new key (a replaced key stays excluded by the manifest).
    await store.put(curatedPartitionKey(table, dt), body);
    return "written";
  }
  if (draft.live.length === 1) {
    const current = await store.get(draft.live[0].key);
    if (current && equalBytes(current, body)) return "unchanged";
  }
  const key = `${draft.folder}part-00000.parquet`;
  await store.put(key, body);
  await publishGeneration(store, draft, {
    objects: [{ key, size: body.byteLength }],
    replace: draft.live.filter((o) => isDataKey(partition, o.key)).map((o) => o.key),
  });
  return "written";
}

/** Empties a curated partition whose input is gone: a generation without objects. */
export async function removePartition(store: Store, table: string, dt: string): Promise<void> {
  const partition = partitionPrefix(table, dt);
  const draft = await beginGeneration(store, partition);
  if (draft.live.length === 0) return;
  await publishGeneration(store, draft, {
    objects: [],
    replace: draft.live.filter((o) => isDataKey(partition, o.key)).map((o) => o.key),
  });
}

/**
 * Deletes what earlier rebuilds of a curated table replaced, in every partition whose switch is
 * older than `graceMs` (queries that listed before it have finished); returns the keys deleted.
 */
export async function collectReplaced(
  store: Store,
  table: string,
  graceMs = DEFAULT_GRACE_MS,
): Promise<string[]> {
  const deleted: string[] = [];
  for (const view of await readTable(store, tablePrefix(table))) {
    if (!view.manifest) continue;
    deleted.push(...(await collectGarbage(store, view.partition, { graceMs })).deleted);
  }
  return deleted;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
