/**
 * `deno task bench`: throughput, freshness, memory and query time against the local stack, each
 * figure next to its reference from the same run (Kafka's Java producer, DuckDB, the targets).
 *
 * `deno task bench --quick --json` is the CI-sized run with machine-readable output.
 *
 * @module
 */

import { helpText, main, parseFlags, UsageError } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import { formatReport, markdownTable } from "../lib/bench/report.ts";
import { BENCH_PARTS, type BenchPart, runBench } from "../lib/bench/run.ts";

const FLAGS = {
  quick: { type: "boolean", description: "CI-sized run (under 3 minutes on 2 cores)" },
  json: { type: "boolean", description: "Print the report as JSON on stdout (progress on stderr)" },
  markdown: { type: "boolean", description: "Also print the README's Markdown table" },
  skip: {
    type: "string",
    description: `Comma-separated parts to leave out: ${BENCH_PARTS.join(", ")}`,
  },
  brokers: {
    type: "string",
    description: "Bootstrap servers",
    default: "127.0.0.1:9092 (KAFKA_BROKERS)",
  },
} as const;

/** Parses `--skip a,b` into parts; unknown names are a usage error. */
function skipParts(value: string | boolean | undefined): BenchPart[] {
  if (value === undefined) return [];
  const names = String(value).split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(BENCH_PARTS as readonly string[]).includes(name)) {
      throw new UsageError(
        `--skip got the unknown part "${name}": use a comma-separated list of ${
          BENCH_PARTS.join(", ")
        }.`,
      );
    }
  }
  return names as BenchPart[];
}

if (import.meta.main) {
  main(async () => {
    const { values } = parseFlags(Deno.args, FLAGS);
    if (values.help) {
      console.log(`Usage: deno task bench [flags]\n\n${helpText(FLAGS)}`);
      return;
    }
    const brokers = typeof values.brokers === "string"
      ? values.brokers.split(",").map((b) => b.trim())
      : undefined;
    const report = await runBench({
      quick: values.quick === true,
      skip: skipParts(values.skip as string | undefined),
      brokers,
      logger: consoleLogger,
    });
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else console.log(`\n${formatReport(report)}`);
    if (values.markdown) console.error(`\n${markdownTable(report)}`);
  });
}
