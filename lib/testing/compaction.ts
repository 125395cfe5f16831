/**
 * Test and bench fixtures for compaction: a lake shaped like the sink's (many small objects per
 * `dt` partition under deterministic keys, and the checkpoint logs that say which ranges are
 * final), without running Kafka.
 *
 * @module
 */

import { CheckpointLog } from "../lake/checkpoint_log.ts";
import { encodeTicks } from "../lake/encode.ts";
import { type LakeFormat, objectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { type Tick, utcDate } from "../tick.ts";

/** Options of {@linkcode spreadTicks}. */
export interface SpreadTicksOptions {
  /** First day, `YYYY-MM-DD`. @default "2021-06-01" */
  from?: string;
  /** Calendar days. @default 3 */
  days?: number;
  /** Ticks per symbol and day. @default 40 */
  perDay?: number;
  /** Symbols. @default ["AAA", "BBB", "CCC"] */
  symbols?: string[];
}

/** Deterministic ticks spread evenly over each day, in time order (as a sink receives them). */
export function spreadTicks(options: SpreadTicksOptions = {}): Tick[] {
  const start = Date.parse(`${options.from ?? "2021-06-01"}T00:00:00Z`);
  const perDay = options.perDay ?? 40;
  const symbols = options.symbols ?? ["AAA", "BBB", "CCC"];
  const ticks: Tick[] = [];
  for (let day = 0; day < (options.days ?? 3); day++) {
    for (let i = 0; i < perDay; i++) {
      const ts = start + day * 86_400_000 + Math.floor(i * 86_400_000 / perDay);
      symbols.forEach((symbol, s) => {
        const close = 100 + s * 10 + day + i / 100;
        ticks.push({
          symbol,
          ts,
          open: close - 0.5,
          high: close + 1,
          low: close - 1,
          close,
          adj_close: i % 7 === 0 ? null : close,
          volume: i * 10,
          close_usd: close,
        });
      });
    }
  }
  return ticks;
}

/** Options of {@linkcode writeSinkLake}. */
export interface WriteSinkLakeOptions {
  /** Consumer group whose checkpoint logs are written. */
  group: string;
  /** Kafka topic of the keys. @default "stock_market" */
  topic?: string;
  /** Kafka partitions the ticks are dealt to. @default 2 */
  partitions?: number;
  /** Ticks per object. @default 10 */
  rowsPerObject?: number;
  /** Object format. @default "parquet" */
  format?: LakeFormat;
  /** Gzip JSON Lines. @default false */
  gzip?: boolean;
}

/**
 * Writes ticks as a sink would: per Kafka partition, consecutive offset ranges of
 * `rowsPerObject` ticks, one object per range and `dt`, and a checkpoint log whose latest range
 * is each partition's last (the one a sink may still replay). Returns the keys of those last
 * ranges' objects.
 */
export async function writeSinkLake(
  store: Store,
  ticks: readonly Tick[],
  options: WriteSinkLakeOptions,
): Promise<{ keys: string[]; replayable: string[] }> {
  const topic = options.topic ?? "stock_market";
  const partitions = options.partitions ?? 2;
  const rows = options.rowsPerObject ?? 10;
  const format = options.format ?? "parquet";
  const next = Array.from({ length: partitions }, () => 0);
  const last: { start: number; end: number; keys: string[] }[] = [];
  const keys: string[] = [];
  let chunk = 0;
  for (let i = 0; i < ticks.length; i += rows) {
    const part = ticks.slice(i, i + rows);
    const p = chunk++ % partitions;
    const start = next[p];
    const byDt = new Map<string, Tick[]>();
    for (const tick of part) {
      const dt = utcDate(tick.ts);
      byDt.set(dt, [...byDt.get(dt) ?? [], tick]);
    }
    const rangeKeys: string[] = [];
    for (const [dt, group] of byDt) {
      const key = objectKey({
        dt,
        topic,
        partition: p,
        startOffset: start,
        format,
        gzip: options.gzip,
      });
      await store.put(key, encodeTicks(group, { format, gzip: options.gzip }));
      rangeKeys.push(key);
    }
    keys.push(...rangeKeys);
    last[p] = { start, end: start + part.length - 1, keys: rangeKeys };
    next[p] += part.length;
  }
  for (const [p, range] of last.entries()) {
    if (!range) continue;
    const log = new CheckpointLog({ store, group: options.group, topic, partition: p });
    await log.claim();
    await log.append({ start: String(range.start), end: String(range.end), keys: range.keys });
  }
  return { keys: keys.sort(), replayable: last.filter(Boolean).flatMap((r) => r.keys).sort() };
}
