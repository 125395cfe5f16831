/**
 * `deno task compact`: merge the small objects of closed `dt` partitions into few large ones,
 * safe for queries running meanwhile and for the sink; see `lib/lake/compact.ts`.
 *
 * @module
 */

import { durationFlag, runCommand, sizeFlag } from "../lib/cli.ts";
import { ConfigError, configFlags, loadConfig } from "../lib/config.ts";
import { compactLake, type CompactProgress, DEFAULT_TARGET_BYTES } from "../lib/lake/compact.ts";
import { GluePartitionCatalog } from "../lib/lake/compact_glue.ts";
import { DEFAULT_GRACE_MS } from "../lib/lake/generations.ts";
import { openStore } from "../lib/lake/open_store.ts";
import { consoleLogger, silentLogger } from "../lib/log.ts";
import { formatBytes, formatCount, formatDuration, terminalProgress } from "../lib/progress.ts";

const COMMAND = {
  usage: "deno task compact [flags]",
  about:
    `Merges the small objects the sink wrote into each closed dt partition into as few objects as
--target-size allows (rows sorted by symbol, ts; same format and schema). Queries running
meanwhile see every row exactly once: new objects are published by one atomic manifest write,
and what they replace is deleted only after --grace (by this run when it is 0, else by the next).
Only ranges the sink has committed are merged (it reads the checkpoint logs of --group).
Run it from cron on the consumer host, e.g. hourly: deno task compact --older-than 1h`,
  flags: {
    ...configFlags("lake", "group", "table", "database", "region", "endpoint"),
    "older-than": {
      type: "string",
      description: "Compact partitions that ended at least this long ago (90s, 1h, 2d)",
      default: "every partition but the newest",
    },
    "target-size": {
      type: "string",
      description: "Target size of a compacted object (e.g. 128MiB, 64MB)",
      default: "128MiB",
    },
    grace: {
      type: "string",
      description: "Wait this long after a switch before deleting what it replaced",
      default: "15m",
    },
    glue: {
      type: "boolean",
      description: "Also switch the Glue partitions of --database.--table (S3 lakes, for Athena)",
    },
    "dry-run": { type: "boolean", description: "List what it would do; change nothing" },
    verbose: { type: "boolean", description: "Say why each partition or object is left alone" },
  },
} as const;

function progressLine(p: CompactProgress): string {
  return `partitions ${p.partitionsSeen}/${p.partitions} (${p.compacted} compacted) · objects ` +
    `${formatCount(p.objectsIn)} → ${formatCount(p.objectsOut)} · ${formatBytes(p.bytesIn)} → ` +
    `${formatBytes(p.bytesOut)}`;
}

if (import.meta.main) {
  runCommand(COMMAND, async ({ values }) => {
    const config = loadConfig({ flags: values });
    const store = openStore(config.lake, { region: config.region, endpoint: config.endpoint });
    const dryRun = values["dry-run"] === true;
    if (values.glue === true && !store.uri.startsWith("s3://")) {
      throw new ConfigError(
        `--glue needs an S3 lake (Glue points at s3:// locations), but the lake is "${store.uri}".`,
      );
    }
    const catalog = values.glue === true
      ? new GluePartitionCatalog({
        database: config.database,
        table: config.table,
        lakeUri: store.uri,
        region: config.region,
        endpoint: config.endpoint,
        logger: consoleLogger,
      })
      : undefined;
    const progress = terminalProgress();
    const started = performance.now();
    const report = await compactLake({
      store,
      group: config.group,
      table: config.table,
      olderThanMs: durationFlag("older-than", values["older-than"]),
      targetBytes: sizeFlag("target-size", values["target-size"]) ?? DEFAULT_TARGET_BYTES,
      graceMs: durationFlag("grace", values.grace) ?? DEFAULT_GRACE_MS,
      dryRun,
      catalog,
      logger: values.verbose === true ? consoleLogger : silentLogger,
      onProgress: (p) => progress.update(progressLine(p)),
    });
    progress.done(progressLine(report));
    if (values.verbose === true) {
      for (const plan of report.plans) {
        for (const kept of plan.kept) console.log(`  kept ${kept.key}: ${kept.reason}`);
      }
    }
    const verb = dryRun ? "Would compact" : "Compacted";
    const out = dryRun
      ? `about ${formatCount(report.objectsOut)}`
      : `${formatCount(report.objectsOut)} (${formatBytes(report.bytesOut)})`;
    console.log(
      `${verb} ${report.compacted} of ${report.partitions} partitions of ${store.uri}/${config.table}/: ` +
        `${formatCount(report.objectsIn)} objects (${formatBytes(report.bytesIn)}) → ${out} in ` +
        `${formatDuration(performance.now() - started)}.`,
    );
    const cleaned = `${dryRun ? "Would delete" : "Deleted"} ${
      formatCount(report.cleaned.objects)
    } replaced objects (${formatBytes(report.cleaned.bytes)}) of earlier switches.`;
    console.log(cleaned);
    if (report.pendingCleanup > 0) {
      const wait = report.pendingCleanupInMs;
      console.log(
        `${report.pendingCleanup} partition(s) keep their replaced objects for the grace period ` +
          `(queries that started before the switch may read them)${
            wait !== undefined
              ? `; run again in ${formatDuration(Math.ceil(wait / 1000) * 1000)} or later`
              : "; run again"
          } to delete them.`,
      );
    }
  });
}
