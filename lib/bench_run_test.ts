import assert from "node:assert/strict";
import { requireTestEnv } from "./testing/lake.ts";
import type { BenchReport } from "./bench/report.ts";
import { runScript } from "./testing/kafka.ts";

/** The figures `--quick --json` must report, each with its reference. */
const EXPECTED = [
  "csv.rows_per_sec",
  "producer.gzip.records_per_sec",
  "producer.gzip.mb_per_sec",
  "producer.none.records_per_sec",
  "producer.none.mb_per_sec",
  "consumer.local.rows_per_sec",
  "consumer.s3.rows_per_sec",
  "replay.day_rows_per_sec",
  "memory.peak_rss_large",
  "memory.peak_rss_budget",
  "query.ohlc_month_ms",
  "query.compacted_ms",
  "freshness.p50_ms",
  "freshness.p99_ms",
];

function bench(args: string[]) {
  return runScript("bench", args, { allowFailure: true });
}

Deno.test({
  name: "bench --quick --json reports every figure next to its reference from the same run",
  sanitizeResources: false,
  fn: async () => {
    requireTestEnv("KAFKA_BROKERS", "the Kafka broker the bench measures");
    requireTestEnv("AWS_ENDPOINT_URL", "the S3 emulator the consumer writes to");
    const { code, stdout, stderr } = await bench(["--quick", "--json"]);
    assert.equal(code, 0, `bench failed:\n${stderr.slice(-3000)}`);
    const report: BenchReport = JSON.parse(stdout);
    assert.equal(report.quick, true);
    assert.deepEqual(report.skipped, []);
    assert.ok(report.machine.cores >= 1 && report.machine.cpu !== "");
    assert.deepEqual(report.figures.map((f) => f.id).sort(), [...EXPECTED].sort());
    for (const figure of report.figures) {
      assert.ok(Number.isFinite(figure.value) && figure.value > 0, `${figure.id} value`);
      assert.ok(figure.unit !== "" && figure.target !== "", `${figure.id} unit/target`);
      assert.ok(figure.reference.name !== "", `${figure.id} reference name`);
      assert.ok(
        Number.isFinite(figure.reference.value) && figure.reference.value > 0,
        `${figure.id} reference value`,
      );
      assert.equal(figure.ratio, figure.value / figure.reference.value, `${figure.id} ratio`);
      assert.equal(typeof figure.met, "boolean");
    }
    const producer = report.figures.find((f) => f.id === "producer.gzip.records_per_sec")!;
    assert.match(producer.reference.name, /Java ProducerPerformance/);
    // Throughput figures are medians of repeated runs, min and max kept, reference interleaved.
    for (const id of ["producer.gzip.records_per_sec", "consumer.s3.rows_per_sec"]) {
      const figure = report.figures.find((f) => f.id === id)!;
      assert.ok(figure.spread!.runs.length >= 3, `${id} runs`);
      assert.ok(figure.spread!.min <= figure.value && figure.value <= figure.spread!.max, id);
      assert.ok(figure.reference.spread!.runs.length >= 3, `${id} reference runs`);
    }
    const consumer = report.figures.find((f) => f.id === "consumer.local.rows_per_sec")!;
    assert.match(consumer.reference.name, /Java ConsumerPerformance/);
    assert.ok(report.differences!.some((d) => d.startsWith("Producer")), "producer differences");
    const query = report.figures.find((f) => f.id === "query.ohlc_month_ms")!;
    assert.equal(query.reference.name, "DuckDB");
  },
});

Deno.test("bench --skip with an unknown part is a usage error that lists the parts", async () => {
  const { code, stderr } = await bench(["--quick", "--skip", "producer,bogus"]);
  assert.equal(code, 2);
  assert.match(stderr, /unknown part "bogus"/);
  assert.match(stderr, /producer, consumer, replay, memory, query, compaction, freshness/);
});

Deno.test("bench --help lists the flags", async () => {
  const { code, stdout } = await bench(["--help"]);
  assert.equal(code, 0);
  for (const flag of ["--quick", "--json", "--skip"]) assert.ok(stdout.includes(flag), flag);
});

Deno.test("bench --only csv measures the CSV readers alone, without Kafka or S3", async () => {
  const { code, stdout, stderr } = await bench(["--quick", "--only", "csv", "--json"]);
  assert.equal(code, 0, stderr.slice(-3000));
  const report: BenchReport = JSON.parse(stdout);
  assert.deepEqual(report.figures.map((f) => f.id), ["csv.rows_per_sec"]);
  assert.equal(report.figures[0].reference.name, "csv-parse");
  assert.deepEqual(report.skipped, [
    "producer",
    "consumer",
    "replay",
    "memory",
    "query",
    "compaction",
    "freshness",
  ]);
});
