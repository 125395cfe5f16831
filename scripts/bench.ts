/**
 * `deno task bench`: throughput, freshness, memory and query time against the local stack, each
 * figure next to its reference from the same run (Kafka's Java producer, DuckDB, the targets).
 *
 * `deno task bench --quick --json` is the CI-sized run with machine-readable output.
 *
 * @module
 */

import { helpText, main, parseFlags, UsageError } from "../lib/cli.ts";
import { configFlags, loadConfig } from "../lib/config.ts";
import { consoleLogger } from "../lib/log.ts";
import { formatReport, markdownSection } from "../lib/bench/report.ts";
import { BENCH_PARTS, type BenchPart, runBench } from "../lib/bench/run.ts";

const FLAGS = {
  quick: { type: "boolean", description: "CI-sized run (about 6 minutes on 2 cores)" },
  json: { type: "boolean", description: "Print the report as JSON on stdout (progress on stderr)" },
  markdown: {
    type: "boolean",
    description: "Print the README's Performance section (machine, table, differing settings) " +
      "on stdout instead of the text table",
  },
  skip: {
    type: "string",
    description: `Comma-separated parts to leave out: ${BENCH_PARTS.join(", ")}`,
  },
  only: {
    type: "string",
    description: "Comma-separated parts to run, leaving out the others (e.g. --only csv)",
  },
  ...configFlags("brokers", "endpoint", "region"),
} as const;

/** Parses `--<flag> a,b` into parts; unknown names are a usage error. */
function parts(flag: string, value: string | boolean | undefined): BenchPart[] {
  if (value === undefined) return [];
  const names = String(value).split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(BENCH_PARTS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--${flag} got the unknown part "${name}": use a comma-separated list of ${
          BENCH_PARTS.join(", ")
        }.`,
      );
    }
  }
  return names as BenchPart[];
}

/** The parts to leave out: `--skip`, or every part `--only` does not name. */
function skippedParts(values: Record<string, unknown>): BenchPart[] {
  const skip = parts("skip", values.skip as string | undefined);
  if (values.only === undefined) return skip;
  const only = parts("only", values.only as string | undefined);
  return BENCH_PARTS.filter((part) => skip.includes(part) || !only.includes(part));
}

if (import.meta.main) {
  main(async () => {
    const { values } = parseFlags(Deno.args, FLAGS);
    if (values.help) {
      console.log(`Usage: deno task bench [flags]\n\n${helpText(FLAGS)}`);
      return;
    }
    const config = loadConfig({ flags: values });
    const report = await runBench({
      quick: values.quick === true,
      skip: skippedParts(values),
      brokers: config.brokers,
      s3Endpoint: config.endpoint,
      region: config.region,
      logger: consoleLogger,
    });
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else if (values.markdown) console.log(markdownSection(report));
    else console.log(`\n${formatReport(report)}`);
  });
}
