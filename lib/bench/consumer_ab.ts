/**
 * An A/B of the lake consumer between an older commit and this checkout: both consume the same
 * topic, run by run alternately, so a busy machine slows both alike. The older commit is checked
 * out with `git worktree` beside this one and its consumer runs with its own `deno.json` (so its
 * own kafkajs override, tick decoding and V8 flags), sharing this checkout's `node_modules`.
 * `deno task bench:ab --base <ref>` runs it; the README's consumer figures before/after come from it.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Logger, silentLogger } from "../log.ts";
import { createKafka } from "../kafka/client.ts";
import { produceTicksInWorkers } from "../kafka/producer_workers.ts";
import { benchConsumer, type ConsumerFigure } from "./consumer.ts";
import { benchTicks } from "./data.ts";
import { median } from "./stats.ts";
import { BenchTopics } from "./topics.ts";

/** Options of {@linkcode compareConsumers}. */
export interface ConsumerAbOptions {
  /** Bootstrap servers. */
  brokers: string[];
  /** The git commit, tag or branch to compare against (e.g. `HEAD~3`). */
  base: string;
  /** Rows of the topic each run consumes. @default 1_000_000 */
  rows?: number;
  /** Runs of each side. @default 3 */
  rounds?: number;
  /** Progress. @default silent */
  logger?: Logger;
}

/** What {@linkcode compareConsumers} measured. */
export interface ConsumerAbReport {
  /** The base commit, resolved. */
  baseCommit: string;
  /** This checkout's commit. */
  headCommit: string;
  /** Whether this checkout had uncommitted changes to tracked files (they were measured too). */
  headDirty: boolean;
  /** The topic both consumed (deleted again at the end). */
  topic: string;
  /** Rows per run. */
  rows: number;
  /** Each side's runs, in order. */
  runs: { base: ConsumerFigure[]; head: ConsumerFigure[] };
  /** Median rows written per second of each side, and head over base. */
  median: { base: number; head: number; ratio: number };
}

/** Raised when the A/B cannot run (not a git checkout, an unknown ref); says what to do. */
export class ConsumerAbError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConsumerAbError";
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

async function git(args: string[]): Promise<string> {
  const output = await new Deno.Command("git", {
    args,
    cwd: ROOT,
    stderr: "piped",
    stdout: "piped",
  })
    .output();
  if (!output.success) {
    throw new ConsumerAbError(
      `git ${args.join(" ")} failed: ${new TextDecoder().decode(output.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(output.stdout).trim();
}

/**
 * Fills a fresh 3-partition topic with `rows` bench ticks, then consumes it `rounds` times with
 * the base commit's consumer and this checkout's, alternately, each run in a fresh group and lake.
 *
 * @example
 * ```ts ignore
 * import { compareConsumers } from "./consumer_ab.ts";
 * const report = await compareConsumers({ brokers: ["127.0.0.1:9092"], base: "HEAD~1" });
 * console.log(report.median.ratio);
 * ```
 * @throws {ConsumerAbError} when this is not a git checkout or `base` names no commit.
 */
export async function compareConsumers(options: ConsumerAbOptions): Promise<ConsumerAbReport> {
  const rows = options.rows ?? 1_000_000;
  const rounds = options.rounds ?? 3;
  const logger = options.logger ?? silentLogger;
  const baseCommit = await git(["rev-parse", "--verify", `${options.base}^{commit}`]).catch(
    (error) => {
      throw new ConsumerAbError(
        `"${options.base}" names no commit of this checkout (${error.message}): pass a commit, ` +
          "tag or branch, e.g. --base HEAD~1.",
      );
    },
  );
  const headDirty = (await git(["status", "--porcelain", "--untracked-files=no"])) !== "";
  const headCommit = await git(["rev-parse", "HEAD"]);
  const scratch = await Deno.makeTempDir({ prefix: "bench_ab_" });
  const tree = join(scratch, "base");
  await git(["worktree", "add", "--detach", tree, baseCommit]);
  try {
    await Deno.symlink(join(ROOT, "node_modules"), join(tree, "node_modules"));
    await using topics = new BenchTopics(createKafka({ brokers: options.brokers }));
    const topic = await topics.create("ab");
    logger.info(`filling ${topic} with ${rows} ticks…`);
    await produceTicksInWorkers(benchTicks(rows), { client: { brokers: options.brokers }, topic });
    const runs = { base: [] as ConsumerFigure[], head: [] as ConsumerFigure[] };
    for (let round = 1; round <= rounds; round++) {
      for (const side of ["base", "head"] as const) {
        const lake = join(scratch, `lake-${side}-${round}`);
        const figure = await benchConsumer({
          brokers: options.brokers,
          topic,
          group: `${topic}-${side}-${round}`,
          lake,
          rows,
          ...(side === "base" ? { tree } : {}),
        });
        runs[side].push(figure);
        logger.info(
          `round ${round}/${rounds} ${side}: ${Math.round(figure.rowsPerSec)} rows/s, peak ` +
            `${Math.round(figure.peakRss / 2 ** 20)} MiB`,
        );
        await Deno.remove(lake, { recursive: true });
      }
    }
    const base = median(runs.base.map((f) => f.rowsPerSec));
    const head = median(runs.head.map((f) => f.rowsPerSec));
    return {
      baseCommit,
      headCommit,
      headDirty,
      topic,
      rows,
      runs,
      median: { base, head, ratio: head / base },
    };
  } finally {
    await git(["worktree", "remove", "--force", tree]).catch(() => {});
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
  }
}
