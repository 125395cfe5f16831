/**
 * Lake compaction: merges the many small objects the sink writes into each closed `dt` partition
 * into as few objects as a target size allows, rows sorted by (symbol, ts), same format and
 * schema, published through {@link ./generations.ts} so every reader sees every row exactly once
 * at every moment, and a crash anywhere leaves the lake readable (a rerun finishes the job).
 *
 * Safe with the sink: an object is merged only when the sink can no longer write its key again.
 * The sink appends a range to its checkpoint log (`_sink/<group>/<topic>+<p>/`) before writing
 * its objects and commits it after, one range at a time, and it only ever replays the latest
 * recorded range. So objects whose start offset lies below the latest recorded range's start are
 * committed and never rewritten; the latest range's objects (and partitions without a log of the
 * group) are left alone. Even a zombie writer that re-puts an already merged key cannot show its
 * rows twice: the manifest's `replace` excludes by key.
 *
 * @module
 */

import { type Tick } from "../tick.ts";
import { utcDate } from "../tick.ts";
import { decodeObject, encodeTicks } from "./encode.ts";
import {
  beginGeneration,
  collectGarbage,
  DEFAULT_GRACE_MS,
  type GarbageReport,
  type Manifest,
  type PartitionView,
  publishGeneration,
  readTable,
} from "./generations.ts";
import {
  checkpointPrefix,
  type DtGranularity,
  extensionFor,
  formatFor,
  type LakeFormat,
  parseCheckpointSeq,
  parseObjectKey,
  tablePrefix,
} from "./layout.ts";
import type { Store, StoredObject } from "./store.ts";
import { type Logger, silentLogger } from "../log.ts";

/** Default target size of a compacted object: 128 MiB, the size AWS recommends for Athena. */
export const DEFAULT_TARGET_BYTES = 128 * 1024 * 1024;

/** Raised when compaction cannot proceed; the message says what to do. */
export class CompactionError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CompactionError";
  }
}

/**
 * A catalog that locates partitions for another engine (Athena via Glue): compaction tells it
 * about every partition before cleaning up, and about each one it publishes.
 */
export interface PartitionCatalog {
  /**
   * Points each partition at its current objects (a compacted one at its generation folder).
   * Returns the partitions it changed now: their cleanup waits for a later run, so queries that
   * planned with the old location can finish.
   */
  sync(views: readonly PartitionView[]): Promise<string[]>;
}

/** Options of {@linkcode compactLake}. */
export interface CompactOptions {
  /** The lake. */
  store: Store;
  /** The sink's consumer group, whose checkpoint logs say which ranges are final. */
  group: string;
  /** Table folder. @default "ticks" */
  table?: string;
  /**
   * Compact only partitions that ended at least this long ago. @default undefined: every
   * partition but the newest (the one the sink is writing).
   */
  olderThanMs?: number;
  /** Target size of a compacted object in bytes. @default DEFAULT_TARGET_BYTES */
  targetBytes?: number;
  /** Time between a switch and deleting what it replaced. @default DEFAULT_GRACE_MS */
  graceMs?: number;
  /** Plan and report only; write and delete nothing. @default false */
  dryRun?: boolean;
  /** Another engine's catalog to switch with the manifests (Glue). */
  catalog?: PartitionCatalog;
  /** Clock. @default Date.now */
  now?: () => number;
  /** Where skipped objects and partitions are reported. @default silentLogger */
  logger?: Logger;
  /** Called after each partition. */
  onProgress?: (progress: CompactProgress) => void;
}

/** Running totals of a compaction. */
export interface CompactProgress {
  /** Partitions looked at so far. */
  partitionsSeen: number;
  /** Partitions in the table. */
  partitions: number;
  /** Partitions merged (or, in a dry run, to merge). */
  compacted: number;
  /** Objects merged. */
  objectsIn: number;
  /** Objects written. */
  objectsOut: number;
  /** Bytes merged. */
  bytesIn: number;
  /** Bytes written (a dry run estimates them as `bytesIn`). */
  bytesOut: number;
}

/** What {@linkcode compactLake} planned for one partition. */
export interface PartitionPlan {
  /** The partition prefix. */
  partition: string;
  /** Objects to merge (sink objects below the replay point and the current generation's). */
  inputs: StoredObject[];
  /** Live objects left as they are, with the reason. */
  kept: { key: string; reason: string }[];
  /** Why the partition is not merged, when it is not. */
  skip?: string;
}

/** What {@linkcode compactLake} did. */
export interface CompactReport extends CompactProgress {
  /** One plan per partition. */
  plans: PartitionPlan[];
  /** Objects deleted after their grace period (replaced inputs, older generations, orphans). */
  cleaned: { objects: number; bytes: number };
  /** Partitions whose cleanup waits for the grace period: run again after it. */
  pendingCleanup: number;
  /** Milliseconds until the first pending cleanup may run. */
  pendingCleanupInMs?: number;
}

/**
 * Compacts the closed partitions of a table, then deletes what earlier switches replaced once
 * their grace period is over. Safe to run again at any time and to kill at any point.
 *
 * @example
 * ```ts ignore
 * import { compactLake } from "./compact.ts";
 * import { openStore } from "./open_store.ts";
 * const report = await compactLake({ store: openStore("./lake"), group: "stock_market_lake" });
 * console.log(`${report.objectsIn} objects → ${report.objectsOut}`);
 * ```
 * @throws {CompactionError} for a bad option.
 */
export async function compactLake(options: CompactOptions): Promise<CompactReport> {
  const store = options.store;
  const table = options.table ?? "ticks";
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const targetBytes = options.targetBytes ?? DEFAULT_TARGET_BYTES;
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  if (!(targetBytes >= 1024)) {
    throw new CompactionError(`The target size must be at least 1 KiB, got ${targetBytes} bytes.`);
  }
  if (options.olderThanMs !== undefined && !(options.olderThanMs >= 0)) {
    throw new CompactionError(`--older-than must not be negative, got ${options.olderThanMs} ms.`);
  }
  const views = await readTable(store, tablePrefix(table));
  const report: CompactReport = {
    partitionsSeen: 0,
    partitions: views.length,
    compacted: 0,
    objectsIn: 0,
    objectsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    plans: [],
    cleaned: { objects: 0, bytes: 0 },
    pendingCleanup: 0,
  };

  // 1. Finish earlier runs: point the other catalog at every current generation, then delete
  //    what switches older than the grace period replaced.
  const justSwitched = new Set(
    options.catalog && !options.dryRun ? await options.catalog.sync(views) : [],
  );
  for (const view of views) {
    if (!view.manifest) continue;
    if (justSwitched.has(view.partition)) {
      report.pendingCleanup++;
      continue;
    }
    tally(
      report,
      await collectGarbage(store, view.partition, { graceMs, now, dryRun: options.dryRun }),
    );
  }

  // 2. Merge each closed partition.
  const replay = await readReplayPoints(store, options.group, views);
  const closedBefore = closingTime(views, replay.granularity, options.olderThanMs, now());
  const published: string[] = [];
  const current = [...views];
  for (const view of views) {
    const plan = planPartition(view, replay.points, closedBefore(view.partition));
    report.plans.push(plan);
    report.partitionsSeen++;
    if (plan.skip) {
      logger.info(`${view.partition}: ${plan.skip}.`);
    } else {
      const bytesIn = sum(plan.inputs);
      report.compacted++;
      report.objectsIn += plan.inputs.length;
      report.bytesIn += bytesIn;
      if (options.dryRun) {
        report.objectsOut += Math.max(1, Math.ceil(bytesIn / targetBytes));
        report.bytesOut += bytesIn;
      } else {
        const manifest = await mergePartition(store, view, plan, targetBytes, now);
        report.objectsOut += manifest.objects.length;
        report.bytesOut += sum(manifest.objects);
        published.push(view.partition);
        // The other catalog switches right after the manifest (it needs every partition when
        // it has to register them all).
        current[views.indexOf(view)] = {
          partition: view.partition,
          manifest,
          objects: manifest.objects,
        };
        await options.catalog?.sync(current);
      }
    }
    options.onProgress?.({ ...report });
  }

  // 3. With no grace period, clean up at once; otherwise the next run does.
  for (const partition of published) {
    const garbage = await collectGarbage(store, partition, { graceMs, now });
    tally(report, garbage);
  }
  return report;

  function tally(into: CompactReport, garbage: GarbageReport): void {
    into.cleaned.objects += garbage.deleted.length;
    into.cleaned.bytes += garbage.bytes;
    if (garbage.waitMs !== undefined) {
      into.pendingCleanup++;
      into.pendingCleanupInMs = Math.min(into.pendingCleanupInMs ?? Infinity, garbage.waitMs);
    }
  }
}

/** Where the sink may still write: per `topic+partition`, the first offset it may replay. */
export interface ReplayPoints {
  /** `topic+partition` → first offset of the latest recorded range (it may be written again). */
  points: Map<string, bigint>;
  /** The sink's `dt` granularity, from its latest recorded settings. @default "day" */
  granularity: DtGranularity;
}

/**
 * Reads the sink's checkpoint logs for every Kafka partition that has objects in the table: the
 * latest recorded range is the only one the sink may write again (see the module docs).
 */
export async function readReplayPoints(
  store: Store,
  group: string,
  views: readonly PartitionView[],
): Promise<ReplayPoints> {
  const sources = new Map<string, { topic: string; partition: number }>();
  for (const view of views) {
    for (const object of view.objects) {
      const parsed = parseObjectKey(object.key);
      if (parsed) sources.set(sourceOf(parsed), parsed);
    }
  }
  const points = new Map<string, bigint>();
  let granularity: DtGranularity = "day";
  for (const [source, { topic, partition }] of sources) {
    let latest: { seq: number; key: string } | undefined;
    for await (const { key } of store.list(checkpointPrefix(group, topic, partition))) {
      const seq = parseCheckpointSeq(key);
      if (seq !== undefined && (!latest || seq > latest.seq)) latest = { seq, key };
    }
    if (!latest) continue;
    const bytes = await store.get(latest.key);
    if (!bytes) continue; // pruned under us by a claim: the range is unknown, keep it all
    let record: { range?: { start?: string; settings?: { dtGranularity?: DtGranularity } } };
    try {
      record = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      throw new CompactionError(
        `Checkpoint "${latest.key}" is not JSON (${(error as Error).message}): the sink's log is ` +
          "damaged; let `deno task consume` run once to rewrite it, then compact again.",
      );
    }
    const start = record.range?.start;
    // A log without a range: the group never wrote this partition, so its objects are foreign.
    if (typeof start === "string" && /^\d+$/.test(start)) points.set(source, BigInt(start));
    granularity = record.range?.settings?.dtGranularity ?? granularity;
  }
  return { points, granularity };
}

/** Chooses the inputs of one partition. */
export function planPartition(
  view: PartitionView,
  points: ReadonlyMap<string, bigint>,
  closed: boolean,
): PartitionPlan {
  const plan: PartitionPlan = { partition: view.partition, inputs: [], kept: [] };
  if (!closed) {
    plan.skip = "still open (the sink may write to it; see --older-than)";
    return plan;
  }
  const current = new Set(view.manifest?.objects.map((o) => o.key) ?? []);
  let fresh = 0;
  for (const object of view.objects) {
    if (current.has(object.key)) {
      plan.inputs.push(object);
      continue;
    }
    const parsed = parseObjectKey(object.key);
    if (!parsed) {
      plan.kept.push({ key: object.key, reason: "not a sink object" });
      continue;
    }
    const point = points.get(sourceOf(parsed));
    if (point === undefined) {
      plan.kept.push({
        key: object.key,
        reason: "no checkpoint log of this group for its partition",
      });
    } else if (BigInt(parsed.startOffset) >= point) {
      plan.kept.push({ key: object.key, reason: "the sink may still replay its range" });
    } else {
      plan.inputs.push(object);
      fresh++;
    }
  }
  const formats = new Set(plan.inputs.map((o) => extensionOf(o.key)));
  if (fresh === 0) plan.skip = "nothing new to merge";
  else if (plan.inputs.length < 2) plan.skip = "a single object";
  else if (formats.size > 1) {
    plan.skip = `mixed formats (${[...formats].join(", ")}); move the odd objects`;
  }
  return plan;
}

/** Merges one planned partition into a new generation and publishes it. */
async function mergePartition(
  store: Store,
  view: PartitionView,
  plan: PartitionPlan,
  targetBytes: number,
  now: () => number,
): Promise<Manifest> {
  const draft = await beginGeneration(store, view.partition);
  const kind = formatFor(plan.inputs[0].key)!;
  const ticks: Tick[] = [];
  for (const object of plan.inputs) {
    const bytes = await store.get(object.key);
    if (!bytes) {
      throw new CompactionError(
        `"${object.key}" vanished while compacting: another compactor or cleanup is running on ` +
          "this lake; run one at a time, then run again.",
      );
    }
    for (const tick of decodeObject(object.key, bytes)) ticks.push(tick);
  }
  ticks.sort(bySymbolTs);
  const chunks = chunkRows(ticks.length, sum(plan.inputs), targetBytes);
  const objects: StoredObject[] = [];
  const extension = extensionFor(kind.format, { gzip: kind.gzip });
  for (const [n, [from, to]] of chunks.entries()) {
    const body = encodeTicks(ticks.slice(from, to), { format: kind.format, gzip: kind.gzip });
    const key = `${draft.folder}part-${String(n).padStart(5, "0")}${extension}`;
    await store.put(key, body);
    objects.push({ key, size: body.byteLength });
  }
  const current = new Set(view.manifest?.objects.map((o) => o.key) ?? []);
  return await publishGeneration(store, draft, {
    objects,
    replace: plan.inputs.map((o) => o.key).filter((key) => !current.has(key)),
    now,
  });
}

/** Splits `rows` into even chunks of about `targetBytes`, judging bytes per row by the inputs. */
export function chunkRows(rows: number, bytes: number, targetBytes: number): [number, number][] {
  const count = Math.max(1, Math.ceil(bytes / targetBytes));
  const size = Math.ceil(rows / count);
  const chunks: [number, number][] = [];
  for (let from = 0; from < rows; from += size) chunks.push([from, Math.min(rows, from + size)]);
  return chunks.length ? chunks : [[0, 0]];
}

/** Orders ticks by symbol, then time. */
export function bySymbolTs(a: Tick, b: Tick): number {
  return a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.ts - b.ts;
}

/** Whether each partition is closed: it ended `olderThanMs` ago, or (default) it is not the newest. */
function closingTime(
  views: readonly PartitionView[],
  granularity: DtGranularity,
  olderThanMs: number | undefined,
  nowMs: number,
): (partition: string) => boolean {
  const dts = views.map((v) => dtOf(v.partition)).filter((dt): dt is string => !!dt).sort();
  const newest = dts.at(-1);
  return (partition) => {
    const dt = dtOf(partition);
    if (!dt) return false;
    if (olderThanMs === undefined) return dt !== newest;
    return partitionEnd(dt, granularity) <= nowMs - olderThanMs;
  };
}

/** When a `dt` partition of a granularity ends (epoch ms, exclusive). */
export function partitionEnd(dt: string, granularity: DtGranularity): number {
  const [y, m, d] = dt.split("-").map(Number);
  if (granularity === "year") return Date.UTC(y + 1, 0, 1);
  if (granularity === "month") return Date.UTC(y, m, 1);
  return Date.UTC(y, m - 1, d + 1);
}

function dtOf(partition: string): string | undefined {
  const dt = /dt=(\d{4}-\d{2}-\d{2})\/$/.exec(partition)?.[1];
  return dt && utcDate(Date.parse(`${dt}T00:00:00Z`)) === dt ? dt : undefined;
}

function sourceOf(parsed: { topic: string; partition: number }): string {
  return `${parsed.topic}+${parsed.partition}`;
}

function extensionOf(key: string): string {
  const kind = formatFor(key);
  return kind ? extensionFor(kind.format as LakeFormat, { gzip: kind.gzip }) : "?";
}

function sum(objects: readonly StoredObject[]): number {
  return objects.reduce((n, o) => n + o.size, 0);
}
