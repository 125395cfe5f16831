/**
 * Reader-safe publishing of a table partition: rewrite the objects of `<table>/dt=X/` (compaction,
 * a curated table's rebuild) while queries run, so every reader sees every row exactly once at
 * every moment, and a crash anywhere leaves the partition readable.
 *
 * Layout of one partition (`partition` is its prefix, e.g. `ticks/dt=2021-06-01/`):
 *
 * ```text
 * ticks/dt=2021-06-01/stock_market+0+00000000000000001234.parquet   data objects (the sink's, …)
 * ticks/dt=2021-06-01/_g000003-k2x9/part-00000.parquet              objects of generation 3
 * ticks/dt=2021-06-01/_manifest/00000000000000000003.json          manifest of generation 3
 * ```
 *
 * **The reader rule** ({@linkcode readPartition}, {@linkcode readTable}; every local reader uses
 * it): list the partition; take the manifest with the highest generation (none: generation 0);
 * the live objects are that manifest's `objects`, plus every data object directly in the
 * partition folder whose key is not in the manifest's `replace`. Objects in `_`-prefixed
 * folders that the manifest does not name (older generations, unpublished ones) are ignored, and
 * so are `_`/`.`-prefixed names and keys that are not lake formats.
 *
 * **Publishing** ({@linkcode beginGeneration} → write objects under `draft.folder` →
 * {@linkcode publishGeneration}): the new objects are invisible until the manifest of the next
 * generation appears. That manifest is written with `putIfAbsent`, so the switch is one atomic
 * write and of two writers building on the same generation exactly one wins (the other gets a
 * {@linkcode GenerationConflictError} and its objects are orphans). Each draft writes into its own
 * folder (generation plus a random run id), so racing writers never overwrite each other's objects.
 *
 * **Cleaning up** ({@linkcode collectGarbage}): only once the current manifest is older than a
 * grace period (so queries that listed the partition before the switch have finished) are the
 * replaced objects, older generations, orphans of generations up to the current one and older
 * manifests deleted. Nothing else ever deletes, so a crash at any point leaves either the old or
 * the new generation live; running the writer again (or just `collectGarbage`) finishes the job.
 *
 * `replace` is cumulative: a manifest keeps the keys its predecessors replaced, so an object that
 * a replaying writer puts again under a replaced key stays excluded.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * import { beginGeneration, publishGeneration, readPartition } from "./generations.ts";
 * const store = new MemoryStore();
 * const partition = "bars_daily/dt=2021-06-01/";
 * await store.put(`${partition}old.jsonl`, new TextEncoder().encode("{}\n"));
 * const draft = await beginGeneration(store, partition);
 * const key = `${draft.folder}part-00000.jsonl`;
 * await store.put(key, new TextEncoder().encode("{}\n"));
 * await publishGeneration(store, draft, { objects: [{ key, size: 3 }], replace: draft.live.map((o) => o.key) });
 * (await readPartition(store, partition)).objects.map((o) => o.key); // [key]
 * ```
 *
 * @module
 */

import { assertStoreKey, assertStorePrefix, formatFor } from "./layout.ts";
import type { Store, StoredObject } from "./store.ts";

/** Folder of a partition's manifests, relative to the partition prefix. */
export const MANIFEST_FOLDER = "_manifest/";

/** Digits of the generation number in a manifest key. */
export const GENERATION_DIGITS = 20;

/** A generation folder relative to its partition: `_g<generation>-<run id>/`. */
const GENERATION_FOLDER = /^_g(\d{6,})-[a-z0-9]+\//;

/** Default grace period before replaced objects are deleted: 15 minutes. */
export const DEFAULT_GRACE_MS = 15 * 60_000;

/** The manifest of one generation of a partition, as stored in `_manifest/<generation>.json`. */
export interface Manifest {
  /** Format version of this document: 1. */
  version: 1;
  /** The generation it publishes (1, 2, …). */
  generation: number;
  /** Folder (key prefix) holding the generation's objects, e.g. `ticks/dt=2021-06-01/_g000003-k2x9/`. */
  folder: string;
  /** The generation's objects, with their sizes. */
  objects: StoredObject[];
  /** Keys of data objects in the partition folder this generation replaces (cumulative). */
  replace: string[];
  /** When it was published (ISO-8601); the grace period of {@linkcode collectGarbage} counts from it. */
  publishedAt: string;
}

/** What the reader rule sees in one partition. */
export interface PartitionView {
  /** The partition prefix, e.g. `ticks/dt=2021-06-01/`. */
  partition: string;
  /** The current manifest, or `undefined` for a partition never published (generation 0). */
  manifest?: Manifest;
  /** The live objects, in key order: every row of the partition exactly once. */
  objects: StoredObject[];
}

/** Raised when a partition's manifest cannot be used; the message says what to do. */
export class ManifestError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ManifestError";
  }
}

/** Raised by {@linkcode publishGeneration} when another writer published the generation first. */
export class GenerationConflictError extends Error {
  /** The partition both writers built on. */
  readonly partition: string;
  /** The generation the other writer published. */
  readonly generation: number;
  /** Creates the error. */
  constructor(partition: string, generation: number) {
    super(
      `Another writer published generation ${generation} of "${partition}" first; this run's ` +
        "objects were not published. Run again to build on the new generation (one writer per " +
        "partition at a time avoids the wasted work).",
    );
    this.name = "GenerationConflictError";
    this.partition = partition;
    this.generation = generation;
  }
}

/**
 * The key of the manifest of `generation` in a partition.
 *
 * @example
 * ```ts
 * import { manifestKey } from "./generations.ts";
 * manifestKey("ticks/dt=2021-06-01/", 3); // "ticks/dt=2021-06-01/_manifest/00000000000000000003.json"
 * ```
 */
export function manifestKey(partition: string, generation: number): string {
  checkPartition(partition);
  checkGeneration(generation);
  return `${partition}${MANIFEST_FOLDER}${
    String(generation).padStart(GENERATION_DIGITS, "0")
  }.json`;
}

/** The generation of a manifest key of `partition`, or `undefined` for any other key. */
export function parseManifestKey(partition: string, key: string): number | undefined {
  if (!key.startsWith(partition + MANIFEST_FOLDER)) return undefined;
  const match = /^(\d{20})\.json$/.exec(key.slice(partition.length + MANIFEST_FOLDER.length));
  return match ? Number(match[1]) : undefined;
}

/**
 * Whether a key directly in `partition` is a data object the reader rule counts (unless a
 * manifest replaces it): a lake format (`.parquet`, `.jsonl`, `.jsonl.gz`), directly in the
 * folder, its name not starting with `_` or `.` (hidden, as for Hive and Athena).
 */
export function isDataKey(partition: string, key: string): boolean {
  if (!key.startsWith(partition)) return false;
  const name = key.slice(partition.length);
  return !name.includes("/") && !/^[_.]/.test(name) && formatFor(name) !== undefined;
}

/**
 * The partition prefix a key belongs to: the table prefix plus the first folder below it when
 * that folder is a Hive partition (`name=value`, not hidden), else `undefined`.
 *
 * @example
 * ```ts
 * import { partitionOf } from "./generations.ts";
 * partitionOf("ticks/", "ticks/dt=2021-06-01/_g000001-ab/part-00000.parquet"); // "ticks/dt=2021-06-01/"
 * ```
 */
export function partitionOf(table: string, key: string): string | undefined {
  if (!key.startsWith(table)) return undefined;
  const rest = key.slice(table.length);
  const slash = rest.indexOf("/");
  if (slash < 0) return undefined;
  const folder = rest.slice(0, slash);
  return /^[^_.][^=]*=./.test(folder) ? `${table}${folder}/` : undefined;
}

/**
 * Applies the reader rule to a listing of one partition (pure; see the module docs). `manifest`
 * is the partition's latest manifest as read from the store, if any.
 */
export function selectLive(
  partition: string,
  listing: readonly StoredObject[],
  manifest?: Manifest,
): StoredObject[] {
  const replaced = new Set(manifest?.replace ?? []);
  const live = listing.filter((o) => isDataKey(partition, o.key) && !replaced.has(o.key));
  if (manifest) live.push(...manifest.objects);
  return live.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
}

/**
 * The reader rule for one partition: lists it, reads its latest manifest and returns the live
 * objects.
 *
 * @throws {ManifestError} when the latest manifest cannot be read or parsed.
 */
export async function readPartition(store: Store, partition: string): Promise<PartitionView> {
  checkPartition(partition);
  const listing: StoredObject[] = [];
  for await (const object of store.list(partition)) listing.push(object);
  return await viewOf(store, partition, listing);
}

/** Options of {@linkcode readTable}. */
export interface ReadTableOptions {
  /**
   * Called for each listed object that is neither a data object of a partition folder nor a
   * generation's (manifests, `_g…/` folders): markers such as `_SUCCESS`, foreign files.
   */
  onSkipped?: (object: StoredObject) => void;
}

/**
 * The reader rule for a whole table: lists `table` (e.g. `ticks/`) once and returns one view per
 * partition folder (`name=value/`), in key order. Keys outside partition folders are skipped.
 *
 * @example
 * ```ts ignore
 * import { readTable } from "./generations.ts";
 * for (const { partition, objects } of await readTable(store, "ticks/")) console.log(partition, objects.length);
 * ```
 * @throws {ManifestError} when a partition's latest manifest cannot be read or parsed.
 */
export async function readTable(
  store: Store,
  table: string,
  options: ReadTableOptions = {},
): Promise<PartitionView[]> {
  const prefix = table.endsWith("/") ? table : `${table}/`;
  assertStorePrefix(prefix);
  const byPartition = new Map<string, StoredObject[]>();
  for await (const object of store.list(prefix)) {
    const partition = partitionOf(prefix, object.key);
    if (!partition || !(isDataKey(partition, object.key) || isBookkeeping(partition, object.key))) {
      options.onSkipped?.(object);
    }
    if (!partition) continue;
    let objects = byPartition.get(partition);
    if (!objects) byPartition.set(partition, objects = []);
    objects.push(object);
  }
  const views: PartitionView[] = [];
  for (const [partition, listing] of byPartition) {
    const view = await viewOf(store, partition, listing);
    if (view.objects.length > 0 || view.manifest) views.push(view);
  }
  return views;
}

/** Reads the manifest of one generation, or `undefined` when there is none. */
export async function readManifest(
  store: Store,
  partition: string,
  generation: number,
): Promise<Manifest | undefined> {
  const key = manifestKey(partition, generation);
  const bytes = await store.get(key);
  return bytes ? parseManifest(key, bytes) : undefined;
}

/** A generation being built: write its objects under `folder`, then publish it. */
export interface GenerationDraft {
  /** The partition prefix. */
  partition: string;
  /** The generation this draft will publish (current + 1). */
  generation: number;
  /** The folder to write the new objects under (private to this draft). */
  folder: string;
  /** The manifest the draft builds on, if any. */
  base?: Manifest;
  /** The partition's live objects when the draft began (what a rewrite reads and replaces). */
  live: StoredObject[];
}

/** Options of {@linkcode beginGeneration}. */
export interface BeginGenerationOptions {
  /** Distinguishes this draft's folder from other writers'. @default random */
  runId?: string;
}

/**
 * Starts a new generation of a partition: reads the current state with the reader rule and
 * returns where to write. Nothing is visible to readers until {@linkcode publishGeneration}.
 */
export async function beginGeneration(
  store: Store,
  partition: string,
  options: BeginGenerationOptions = {},
): Promise<GenerationDraft> {
  const view = await readPartition(store, partition);
  const generation = (view.manifest?.generation ?? 0) + 1;
  const runId = options.runId ?? crypto.randomUUID().slice(0, 8);
  if (!/^[a-z0-9]{1,32}$/.test(runId)) {
    throw new ManifestError(`Invalid run id ${JSON.stringify(runId)}: use 1-32 of a-z 0-9.`);
  }
  return {
    partition,
    generation,
    folder: `${partition}_g${String(generation).padStart(6, "0")}-${runId}/`,
    base: view.manifest,
    live: view.objects,
  };
}

/** What a generation publishes; see {@linkcode publishGeneration}. */
export interface PublishOptions {
  /** The objects written under `draft.folder`, with their sizes. */
  objects: StoredObject[];
  /**
   * Keys of data objects directly in the partition folder whose rows the new objects hold (the
   * previous generation's objects need not be named: they stop counting anyway). Merged with
   * the base manifest's `replace`.
   */
  replace: string[];
  /** Clock for `publishedAt`. @default Date.now */
  now?: () => number;
}

/**
 * The switch: writes the manifest of `draft.generation` with `putIfAbsent`. From that write on,
 * readers see the new objects instead of the replaced ones.
 *
 * @throws {GenerationConflictError} when another writer published this generation first (delete
 * nothing: its objects are orphans that {@linkcode collectGarbage} removes).
 * @throws {ManifestError} when an object lies outside the draft folder or a replaced key outside
 * the partition folder.
 */
export async function publishGeneration(
  store: Store,
  draft: GenerationDraft,
  options: PublishOptions,
): Promise<Manifest> {
  for (const object of options.objects) {
    assertStoreKey(object.key);
    if (
      !object.key.startsWith(draft.folder) || object.key.slice(draft.folder.length).includes("/")
    ) {
      throw new ManifestError(
        `Object "${object.key}" is not directly in the draft folder "${draft.folder}": write ` +
          "the generation's objects there.",
      );
    }
  }
  for (const key of options.replace) {
    if (!isDataKey(draft.partition, key)) {
      throw new ManifestError(
        `Cannot replace "${key}": only data objects directly in "${draft.partition}" are replaced.`,
      );
    }
  }
  const manifest: Manifest = {
    version: 1,
    generation: draft.generation,
    folder: draft.folder,
    objects: options.objects.map(({ key, size }) => ({ key, size })),
    replace: [...new Set([...(draft.base?.replace ?? []), ...options.replace])].sort(),
    publishedAt: new Date((options.now ?? Date.now)()).toISOString(),
  };
  const body = new TextEncoder().encode(JSON.stringify(manifest, null, 1) + "\n");
  if (!await store.putIfAbsent(manifestKey(draft.partition, draft.generation), body)) {
    throw new GenerationConflictError(draft.partition, draft.generation);
  }
  return manifest;
}

/** Options of {@linkcode collectGarbage}. */
export interface CollectGarbageOptions {
  /** Wait this long after the switch before deleting. @default DEFAULT_GRACE_MS */
  graceMs?: number;
  /** Clock. @default Date.now */
  now?: () => number;
  /** Only report what would be deleted. @default false */
  dryRun?: boolean;
}

/** What {@linkcode collectGarbage} did. */
export interface GarbageReport {
  /** Keys deleted (or, in a dry run, to delete). */
  deleted: string[];
  /** Bytes of them. */
  bytes: number;
  /** Milliseconds until the grace period ends, when it has not yet (nothing was deleted). */
  waitMs?: number;
}

/**
 * Deletes what the current generation made dead, once its grace period is over: replaced data
 * objects, objects of other generations (older ones and orphans of unpublished ones up to the
 * current number), and older manifests. Objects of higher, unpublished generation numbers are
 * kept: a writer may still be building them. Safe to run any time, from any process.
 */
export async function collectGarbage(
  store: Store,
  partition: string,
  options: CollectGarbageOptions = {},
): Promise<GarbageReport> {
  const view = await readPartition(store, partition);
  const manifest = view.manifest;
  if (!manifest) return { deleted: [], bytes: 0 };
  const age = (options.now ?? Date.now)() - Date.parse(manifest.publishedAt);
  const grace = options.graceMs ?? DEFAULT_GRACE_MS;
  if (age < grace) return { deleted: [], bytes: 0, waitMs: grace - age };
  const replaced = new Set(manifest.replace);
  const live = new Set(manifest.objects.map((o) => o.key));
  const dead: StoredObject[] = [];
  for await (const object of store.list(partition)) {
    const key = object.key;
    const rest = key.slice(partition.length);
    if (live.has(key)) continue;
    const manifestGeneration = parseManifestKey(partition, key);
    if (manifestGeneration !== undefined) {
      if (manifestGeneration < manifest.generation) dead.push(object);
      continue;
    }
    const folder = GENERATION_FOLDER.exec(rest);
    if (folder) {
      if (Number(folder[1]) <= manifest.generation) dead.push(object);
      continue;
    }
    if (replaced.has(key)) dead.push(object);
  }
  if (!options.dryRun) {
    // Manifests last: until they go, a crash here leaves the older state fully described.
    dead.sort((a, b) => Number(isManifest(a.key)) - Number(isManifest(b.key)));
    for (const object of dead) await store.delete(object.key);
  }
  return { deleted: dead.map((o) => o.key), bytes: dead.reduce((n, o) => n + o.size, 0) };
}

function isBookkeeping(partition: string, key: string): boolean {
  const rest = key.slice(partition.length);
  return rest.startsWith(MANIFEST_FOLDER) || GENERATION_FOLDER.test(rest);
}

function isManifest(key: string): boolean {
  return key.includes(`/${MANIFEST_FOLDER}`);
}

async function viewOf(
  store: Store,
  partition: string,
  listing: readonly StoredObject[],
): Promise<PartitionView> {
  let latest = 0;
  for (const object of listing) {
    const generation = parseManifestKey(partition, object.key);
    if (generation !== undefined && generation > latest) latest = generation;
  }
  if (latest === 0) return { partition, objects: selectLive(partition, listing) };
  const manifest = await readManifest(store, partition, latest);
  if (!manifest) {
    throw new ManifestError(
      `The manifest of generation ${latest} of "${partition}" vanished while reading: a cleanup ` +
        "ran longer ago than the grace period after this listing; run the query again.",
    );
  }
  return { partition, manifest, objects: selectLive(partition, listing, manifest) };
}

function parseManifest(key: string, bytes: Uint8Array): Manifest {
  let value: Manifest;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new ManifestError(
      `Manifest "${key}" is not valid JSON (${(error as Error).message}): restore it from the ` +
        "store's versioning or delete it to fall back to the previous generation.",
      { cause: error },
    );
  }
  if (
    value?.version !== 1 || !Number.isSafeInteger(value.generation) ||
    !Array.isArray(value.objects) || !Array.isArray(value.replace) ||
    typeof value.folder !== "string" || typeof value.publishedAt !== "string"
  ) {
    throw new ManifestError(
      `Manifest "${key}" is not a version-1 manifest (generation, folder, objects, replace, ` +
        "publishedAt): it was written by another tool; move it out of the partition.",
    );
  }
  return value;
}

function checkPartition(partition: string): void {
  assertStorePrefix(partition);
  if (!partition.endsWith("/") || partition === "") {
    throw new ManifestError(
      `Invalid partition prefix ${JSON.stringify(partition)}: expected a folder such as ` +
        '"ticks/dt=2021-06-01/" (ending in /).',
    );
  }
}

function checkGeneration(generation: number): void {
  if (!Number.isSafeInteger(generation) || generation < 1) {
    throw new ManifestError(`Invalid generation ${generation}: expected an integer from 1.`);
  }
}
