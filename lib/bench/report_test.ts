import assert from "node:assert/strict";
import {
  type BenchReport,
  formatNumber,
  formatReport,
  machineLine,
  markdownSection,
  markdownTable,
  ratioFigure,
  spreadText,
} from "./report.ts";

const machine = {
  cpu: "Intel(R) Xeon(R) Processor",
  cores: 2,
  memoryBytes: 24 * 1024 ** 3,
  os: "6.1.0",
  deno: "2.9.6",
};

function report(): BenchReport {
  return {
    quick: true,
    startedAt: "2026-01-01T00:00:00.000Z",
    durationMs: 61_000,
    machine,
    settings: {},
    skipped: ["memory"],
    figures: [
      ratioFigure({
        id: "producer.gzip.records_per_sec",
        label: "Producer, gzip, acks=all",
        value: 45_000,
        unit: "records/s",
        reference: { name: "Java ProducerPerformance, gzip", value: 60_000 },
        atLeast: 0.5,
      }),
      ratioFigure({
        id: "query.ohlc_month_ms",
        label: "Monthly OHLC | 300k rows",
        value: 300,
        unit: "ms",
        reference: { name: "DuckDB", value: 100 },
        atMost: 1.5,
      }),
    ],
  };
}

Deno.test("ratioFigure meets an at-least target at or above the bound and misses below", () => {
  const make = (value: number) =>
    ratioFigure({
      id: "x",
      label: "x",
      value,
      unit: "records/s",
      reference: { name: "Java", value: 100 },
      atLeast: 0.5,
    });
  assert.equal(make(50).met, true);
  assert.equal(make(50).ratio, 0.5);
  assert.equal(make(49).met, false);
  assert.equal(make(50).target, "≥ 0.5× Java");
});

Deno.test("ratioFigure meets an at-most target at or below the bound and misses above", () => {
  const make = (value: number) =>
    ratioFigure({
      id: "q",
      label: "q",
      value,
      unit: "ms",
      reference: { name: "DuckDB", value: 100 },
      atMost: 1.5,
    });
  assert.equal(make(150).met, true);
  assert.equal(make(151).met, false);
  assert.equal(make(151).target, "≤ 1.5× DuckDB");
});

Deno.test("ratioFigure with a zero reference has an infinite ratio instead of NaN", () => {
  const f = ratioFigure({
    id: "z",
    label: "z",
    value: 1,
    unit: "ms",
    reference: { name: "r", value: 0 },
    atMost: 1,
  });
  assert.equal(f.ratio, Infinity);
  assert.equal(f.met, false);
});

Deno.test("ratioFigure needs exactly one bound", () => {
  const base = { id: "b", label: "b", value: 1, unit: "ms", reference: { name: "r", value: 1 } };
  assert.throws(() => ratioFigure(base), /exactly one of atLeast and atMost/);
  assert.throws(() => ratioFigure({ ...base, atLeast: 1, atMost: 2 }), /exactly one/);
});

Deno.test("formatNumber groups thousands and keeps decimals only for small values", () => {
  assert.equal(formatNumber(123456.7), "123,457");
  assert.equal(formatNumber(12.345), "12.3");
  assert.equal(formatNumber(1.2345), "1.23");
  assert.equal(formatNumber(Infinity), "Infinity");
});

Deno.test("machineLine names cores, CPU, memory and versions", () => {
  assert.equal(
    machineLine(machine),
    "2 × Intel(R) Xeon(R) Processor, 24.0 GiB RAM, Linux 6.1.0, Deno 2.9.6",
  );
});

Deno.test("formatReport shows every figure with its reference, ratio and a NO for a miss", () => {
  const text = formatReport(report());
  assert.match(text, /Benchmark \(quick\) on 2 × Intel/);
  assert.match(text, /skipped: memory/);
  const lines = text.split("\n");
  const producer = lines.find((l) => l.startsWith("Producer, gzip"))!;
  assert.match(producer, /45,000 records\/s\s+60,000 \(Java ProducerPerformance, gzip\)\s+0\.75×/);
  assert.match(producer, /yes$/);
  const query = lines.find((l) => l.startsWith("Monthly OHLC"))!;
  assert.match(query, /3\.00×.*NO$/);
});

Deno.test("markdownTable has one row per figure and escapes pipes", () => {
  const table = markdownTable(report()).split("\n");
  assert.equal(table.length, 2 + 2);
  assert.match(table[2], /^\| Producer, gzip, acks=all \| 45,000 records\/s \| 60,000 records\/s/);
  assert.match(table[3], /Monthly OHLC \\\| 300k rows/);
  assert.match(table[3], /\*\*no\*\* \|$/);
});

Deno.test("a figure measured several times counts by its medians and shows min–max", () => {
  const f = ratioFigure({
    id: "producer.none.records_per_sec",
    label: "Producer",
    value: [50, 40, 60],
    unit: "records/s",
    reference: { name: "Java", value: [100, 90, 120] },
    atLeast: 0.5,
  });
  assert.equal(f.value, 50);
  assert.equal(f.reference.value, 100);
  assert.equal(f.ratio, 0.5);
  assert.deepEqual([f.spread!.min, f.spread!.max], [40, 60]);
  assert.equal(spreadText(f.value, f.spread), "50 (40–60)");
  const r = { ...report(), figures: [f], differences: ["Producer keys: ours key=symbol."] };
  const section = markdownSection(r);
  assert.match(section, /deno task bench --quick --markdown/);
  assert.match(
    section,
    /\| Producer \| 50 \(40–60\) records\/s \| 100 \(90–120\) records\/s \(Java\) \| 0\.50× \|/,
  );
  assert.match(section, /- Producer keys: ours key=symbol\./);
  assert.match(formatReport(r), /Settings that differ from the references:\n- Producer keys/);
});
