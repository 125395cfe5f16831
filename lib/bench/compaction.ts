/**
 * Bench part `compaction`: the same local query (Polars over S3 on the emulator) on a lake of
 * many small sink-sized objects, then on the same lake after `compactLake`, as a ratio.
 *
 * @module
 */

import { DeleteBucketCommand } from "@aws-sdk/client-s3";
import { compactLake } from "../lake/compact.ts";
import { S3Store } from "../lake/s3_store.ts";
import { type Logger, silentLogger } from "../log.ts";
import { openLocalEngine, s3CloudOptions } from "../query/local.ts";
import { spreadTicks, writeSinkLake } from "../testing/compaction.ts";
import { type Figure, ratioFigure } from "./report.ts";

/** The query both lakes answer: a per-symbol summary over every row. */
export const COMPACTION_QUERY =
  "SELECT symbol, COUNT(*) AS n, AVG(close) AS mean_close, MAX(high) AS high FROM ticks GROUP BY symbol";

/** Options of {@linkcode benchCompaction}. */
export interface BenchCompactionOptions {
  /** S3 emulator endpoint, e.g. `http://127.0.0.1:5000`. */
  endpoint: string;
  /** AWS region. @default "us-east-1" */
  region?: string;
  /** Days of the lake (one `dt` partition each). @default 10 */
  days?: number;
  /** Ticks per symbol and day. @default 300 */
  perDay?: number;
  /** Rows per small object (a sink flush at the tutorial's rate holds ~30). @default 30 */
  rowsPerObject?: number;
  /** Timed query runs per lake (the median is reported). @default 3 */
  runs?: number;
  /** Progress. @default silentLogger */
  logger?: Logger;
}

/** What {@linkcode benchCompaction} measured. */
export interface CompactionBench {
  /** The figure: compacted query time against the uncompacted one. */
  figure: Figure;
  /** Rows of the lake. */
  rows: number;
  /** Objects before and after compaction. */
  objectsBefore: number;
  /** Objects after compaction. */
  objectsAfter: number;
  /** How long compaction took, ms. */
  compactMs: number;
}

/**
 * Fills a fresh bucket with a sink-shaped lake, times the query (opening the lake included: the
 * listing is part of what small objects cost), compacts, times it again, and removes the bucket.
 */
export async function benchCompaction(options: BenchCompactionOptions): Promise<CompactionBench> {
  const logger = options.logger ?? silentLogger;
  const region = options.region ?? "us-east-1";
  const runs = options.runs ?? 3;
  const bucket = `bench-compact-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 6)}`;
  const store = new S3Store({ bucket, prefix: "lake", endpoint: options.endpoint, region });
  await store.ensureBucket();
  try {
    const ticks = spreadTicks({ days: options.days ?? 10, perDay: options.perDay ?? 300 });
    const { keys } = await writeSinkLake(store, ticks, {
      group: "bench",
      rowsPerObject: options.rowsPerObject ?? 30,
    });
    logger.info(`compaction: ${ticks.length} rows in ${keys.length} objects on S3 (moto)…`);
    const cloudOptions = s3CloudOptions({ region, endpoint: options.endpoint });
    const time = async () => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const engine = await openLocalEngine({ store, cloudOptions });
        await engine.query(COMPACTION_QUERY);
        times.push(performance.now() - started);
      }
      return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    };
    const before = await time();
    const started = performance.now();
    const report = await compactLake({ store, group: "bench", olderThanMs: 0, graceMs: 0 });
    const compactMs = performance.now() - started;
    const after = await time();
    const objectsAfter = keys.length - report.objectsIn + report.objectsOut;
    return {
      figure: ratioFigure({
        id: "query.compacted_ms",
        label:
          `Local query over S3 (moto), ${ticks.length} rows: ${objectsAfter} compacted objects ` +
          `(median of ${runs})`,
        value: after,
        unit: "ms",
        reference: { name: `${keys.length} sink objects`, value: before },
        atMost: 1,
      }),
      rows: ticks.length,
      objectsBefore: keys.length,
      objectsAfter,
      compactMs,
    };
  } finally {
    const root = new S3Store({ bucket, endpoint: options.endpoint, region, client: store.client });
    for await (const { key } of root.list("")) await root.delete(key);
    await store.client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
    store.close();
  }
}
