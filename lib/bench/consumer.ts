/**
 * Consumer → lake throughput and memory: runs {@linkcode ./consumer_child.ts} (the real
 * `consumeToLake`) in a child process on a filled topic, samples the child's resident memory from
 * `/proc`, and reports rows per second and peak RSS.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildResult } from "./consumer_child.ts";
import { MemorySampler } from "./memory.ts";
import { perSecond } from "./stats.ts";

/** Options of {@linkcode benchConsumer}. */
export interface ConsumerBenchOptions {
  /** Bootstrap servers. */
  brokers: string[];
  /** A topic already holding at least `rows` tick messages. */
  topic: string;
  /** A fresh consumer group (the child reads from the beginning). */
  group: string;
  /** Lake URI: a folder or `s3://bucket/prefix`. */
  lake: string;
  /** Messages to consume before stopping. */
  rows: number;
  /** The sink's per-partition row trigger. @default the sink's default (50,000) */
  flushRows?: number;
  /** Width of the lake's `dt` partitions. @default "day" (the sink's default) */
  dtGranularity?: "day" | "month" | "year";
  /**
   * Extra `deno run` flags for the child, e.g. `["--cpu-prof"]`. @default the `--v8-flags` of the
   * `consume` task in deno.json, so the bench measures the consumer as users run it
   */
  denoFlags?: string[];
  /** Environment of the child (the AWS settings of an S3 lake). @default inherited */
  env?: Record<string, string>;
  /** Longest run before the child is killed. @default 1 800 000 (30 min) */
  timeoutMs?: number;
  /**
   * Another checkout of the project whose consumer to measure (e.g. a `git worktree` of an older
   * commit): its `lib/bench/consumer_child.ts` runs with its own `deno.json` (`--config`) and, unless
   * `denoFlags` says otherwise, its `consume` task's V8 flags. @default this checkout
   */
  tree?: string;
}

/** What {@linkcode benchConsumer} measured. */
export interface ConsumerFigure {
  /** Rows written to the lake. */
  rows: number;
  /** Objects written. */
  objects: number;
  /** Bytes of objects written. */
  bytes: number;
  /**
   * Rows written per second once messages flow (startup excluded): the rows written less the
   * messages received by the consumer's first progress report that had any, over the time from
   * that report to the last commit. A tail shorter than 250 ms falls back to
   * {@linkcode ConsumerFigure.rowsPerSecWithStartup}.
   */
  rowsPerSec: number;
  /** Rows per second over the whole run, including connect and group join. */
  rowsPerSecWithStartup: number;
  /** Startup: connect, topic checks, offset reset and group join, ms. */
  startupMs: number;
  /** Whole run of the consumer, ms. */
  elapsedMs: number;
  /** Peak resident set of the consumer process, bytes. */
  peakRss: number;
  /** V8 heap in use when the consumer finished, bytes (the rest of RSS is native: Polars, buffers). */
  heapUsed: number;
  /** Peaks of the child's `Deno.memoryUsage()` (rss, heapTotal, heapUsed, external), bytes. */
  peaks: ChildResult["peaks"];
}

/** Raised when the consumer child fails; carries its stderr. */
export class ConsumerBenchError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConsumerBenchError";
  }
}

const MIN_STEADY_MS = 250;
/** This checkout's root folder. */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * Consumes `rows` messages of `topic` into the lake in a child process and measures it.
 *
 * @example
 * ```ts ignore
 * import { benchConsumer } from "./consumer.ts";
 * const figure = await benchConsumer({
 *   brokers: ["127.0.0.1:9092"], topic: "bench-x-data", group: "bench-x-g1",
 *   lake: "/tmp/bench-lake", rows: 1_000_000,
 * });
 * console.log(figure.rowsPerSec, figure.peakRss);
 * ```
 * @throws {ConsumerBenchError} when the child exits non-zero, times out, or prints no result.
 */
export async function benchConsumer(options: ConsumerBenchOptions): Promise<ConsumerFigure> {
  const tree = options.tree ?? ROOT;
  const args = [
    "run",
    "-A",
    ...(options.tree ? ["--config", join(tree, "deno.json")] : []),
    ...(options.denoFlags ?? await consumeTaskV8Flags(tree)),
    join(tree, "lib", "bench", "consumer_child.ts"),
    "--brokers",
    options.brokers.join(","),
    "--topic",
    options.topic,
    "--group",
    options.group,
    "--lake",
    options.lake,
    "--max-messages",
    String(options.rows),
    ...(options.flushRows ? ["--flush-rows", String(options.flushRows)] : []),
    ...(options.dtGranularity ? ["--dt-granularity", options.dtGranularity] : []),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: options.env,
  }).spawn();
  const sampler = new MemorySampler(child.pid);
  const timeout = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, options.timeoutMs ?? 1_800_000);
  const output = await child.output();
  clearTimeout(timeout);
  const sampled = await sampler.stop();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  const stderr = new TextDecoder().decode(output.stderr).trim();
  if (!output.success) {
    throw new ConsumerBenchError(
      `The consumer child exited with ${output.code}${output.signal ? ` (${output.signal})` : ""}` +
        ` on topic ${options.topic} → ${options.lake}: ${stderr.slice(-2000) || "no output"}`,
    );
  }
  const line = stdout.split("\n").pop() ?? "";
  let result: ChildResult;
  try {
    result = JSON.parse(line);
  } catch {
    throw new ConsumerBenchError(
      `The consumer child printed no result line (got "${line.slice(0, 200)}"); stderr: ${
        stderr.slice(-1000)
      }`,
    );
  }
  const startupMs = Math.max(0, result.firstMessageMs);
  const steadyMs = result.elapsedMs - startupMs;
  const rowsPerSecWithStartup = perSecond(result.rowsWritten, result.elapsedMs);
  return {
    rows: result.rowsWritten,
    objects: result.objectsWritten,
    bytes: result.bytesWritten,
    // Rows written after the first progress report over the time after it: no rounding to the
    // 250 ms report interval. Too short a tail falls back to the whole run.
    rowsPerSec: result.firstMessageMs >= 0 && steadyMs >= MIN_STEADY_MS
      ? perSecond(result.rowsWritten - result.firstMessages, steadyMs)
      : rowsPerSecWithStartup,
    rowsPerSecWithStartup,
    startupMs,
    elapsedMs: result.elapsedMs,
    peakRss: Math.max(result.peakRss, sampled.peakRss),
    heapUsed: result.heapUsed,
    peaks: result.peaks,
  };
}

/**
 * The `--v8-flags=…` of the `consume` task in the deno.json of `tree` (this checkout by default):
 * its heap caps, or none.
 *
 * @example
 * ```ts
 * import { consumeTaskV8Flags } from "./consumer.ts";
 * await consumeTaskV8Flags(); // ["--v8-flags=--max-old-space-size=512,--max-semi-space-size=8"]
 * ```
 */
export async function consumeTaskV8Flags(tree: string = ROOT): Promise<string[]> {
  const denoJson = JSON.parse(
    await Deno.readTextFile(join(tree, "deno.json")),
  ) as { tasks?: Record<string, string> };
  return (denoJson.tasks?.consume ?? "").split(/\s+/).filter((arg) =>
    arg.startsWith("--v8-flags=")
  );
}
