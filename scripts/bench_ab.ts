/**
 * `deno task bench:ab --base <ref>`: the lake consumer of an older commit against this checkout's,
 * on the same topic, run by run alternately (see `lib/bench/consumer_ab.ts`).
 *
 * @module
 */

import { helpText, main, numberFlag, parseFlags, UsageError } from "../lib/cli.ts";
import { configFlags, loadConfig } from "../lib/config.ts";
import { consoleLogger } from "../lib/log.ts";
import { compareConsumers } from "../lib/bench/consumer_ab.ts";

const FLAGS = {
  base: { type: "string", description: "The commit, tag or branch to compare against (required)" },
  rows: { type: "string", description: "Rows each run consumes (default 1000000)" },
  rounds: { type: "string", description: "Runs of each side (default 3)" },
  json: { type: "boolean", description: "Print the report as JSON on stdout" },
  ...configFlags("brokers"),
} as const;

if (import.meta.main) {
  main(async () => {
    const { values } = parseFlags(Deno.args, FLAGS);
    if (values.help) {
      console.log(`Usage: deno task bench:ab --base <ref> [flags]\n\n${helpText(FLAGS)}`);
      return;
    }
    if (typeof values.base !== "string" || values.base === "") {
      throw new UsageError(
        "--base is required: the commit to compare against, e.g. --base HEAD~1.",
      );
    }
    const config = loadConfig({ flags: values });
    const report = await compareConsumers({
      brokers: config.brokers,
      base: values.base,
      rows: numberFlag("rows", values.rows, { integer: true, positive: true }),
      rounds: numberFlag("rounds", values.rounds, { integer: true, positive: true }),
      logger: consoleLogger,
    });
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return;
    }
    const rates = (side: "base" | "head") =>
      report.runs[side].map((f) => Math.round(f.rowsPerSec).toLocaleString("en-US")).join(", ");
    console.log(
      `base ${report.baseCommit.slice(0, 10)}: ${rates("base")} rows/s\n` +
        `head ${report.headCommit.slice(0, 10)}${report.headDirty ? " + changes" : ""}: ${
          rates("head")
        } rows/s\n` +
        `median head / base: ${report.median.ratio.toFixed(2)}× (${report.rows} rows per run)`,
    );
  });
}
