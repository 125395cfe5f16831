import assert from "node:assert/strict";
import { DeleteDatabaseCommand, GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import { ConfigError } from "./config.ts";
import { encodeTicks } from "./lake/encode.ts";
import { objectKey } from "./lake/layout.ts";
import type { Store } from "./lake/store.ts";
import {
  candlestickChart,
  type ChartBundle,
  ChartError,
  consumeView,
  countCharts,
  type DisplayBundle,
  escapeHtml,
  jupyter,
  type JupyterDisplay,
  LastPrices,
  liveDisplay,
  type NotebookDocument,
  notebookJson,
  notebookProblems,
  notebookSettings,
  openLakeAnalysis,
  priceLinesChart,
  produceView,
  PROJECT_ROOT,
  stripNotebook,
  VEGA_LITE_MIME,
  volumeChart,
} from "./notebook.ts";
import type { ProgressSink } from "./progress.ts";
import { simulateTicks } from "./source/simulate.ts";
import { requireTestEnv, s3TestStore, tempLake } from "./testing/lake.ts";
import type { Tick } from "./tick.ts";

// ----------------------------------------------------------------------------- settings

Deno.test("notebook settings default to the local pipeline, with folders under the project", () => {
  const s = notebookSettings({ env: {}, root: "/repo" });
  assert.deepEqual(s.brokers, ["localhost:9092"]);
  assert.equal(s.topic, "stock_market");
  assert.equal(s.testTopic, "stock_market.hello");
  assert.equal(s.group, "stock_market_lake");
  assert.equal(s.lake, "/repo/lake");
  assert.equal(s.csv, "/repo/data/stock_data.csv");
  assert.equal(s.rejects, "/repo/rejects/stock_data.csv.rejects.csv");
  assert.equal(s.rows, 5000);
  assert.equal(s.rate, 1000);
  assert.equal(s.mode, "sample");
  assert.equal(s.idleSeconds, 3);
  assert.equal(s.target, "local");
  assert.equal(s.runId, undefined);
});

Deno.test("a run id gives the topic, group and lake of that run only", () => {
  const s = notebookSettings({ env: { NOTEBOOK_RUN_ID: "ci-42" }, root: "/repo" });
  assert.equal(s.topic, "stock_market-nb-ci-42");
  assert.equal(s.testTopic, "stock_market-nb-ci-42.hello");
  assert.equal(s.group, "stock_market_lake-nb-ci-42");
  assert.equal(s.lake, "/repo/.cache/notebook-runs/ci-42/lake");
  const s3 = notebookSettings({
    env: { NOTEBOOK_RUN_ID: "r1", LAKE_URI: "s3://my-lake/stock/", KAFKA_TOPIC: "ticks" },
    root: "/repo",
  });
  assert.equal(s3.lake, "s3://my-lake/stock/notebook-runs/r1");
  assert.equal(s3.topic, "ticks-nb-r1");
});

Deno.test("relative lake and CSV paths resolve against the project, not the kernel's folder", () => {
  const s = notebookSettings({
    env: { LAKE_URI: "./my_lake", NOTEBOOK_CSV: "data/indexProcessed.csv" },
    root: "/repo",
  });
  assert.equal(s.lake, "/repo/my_lake");
  assert.equal(s.csv, "/repo/data/indexProcessed.csv");
  assert.equal(
    notebookSettings({ env: { LAKE_URI: "/abs/lake" }, root: "/repo" }).lake,
    "/abs/lake",
  );
  assert.equal(
    notebookSettings({ env: { LAKE_URI: "s3://bucket/p" }, root: "/repo" }).lake,
    "s3://bucket/p",
  );
  assert.equal(PROJECT_ROOT, new URL("..", import.meta.url).pathname.replace(/\/$/, ""));
});

Deno.test("bad notebook variables are rejected with the variable's name and what it accepts", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ NOTEBOOK_ROWS: "many" }, /NOTEBOOK_ROWS="many".*whole number above 0/],
    [{ NOTEBOOK_ROWS: "2.5" }, /NOTEBOOK_ROWS/],
    [{ NOTEBOOK_RATE: "0" }, /NOTEBOOK_RATE="0"/],
    [{ NOTEBOOK_IDLE_SECONDS: "-1" }, /NOTEBOOK_IDLE_SECONDS/],
    [{ NOTEBOOK_MODE: "random" }, /NOTEBOOK_MODE="random".*sample or stream/],
    [{ NOTEBOOK_TARGET: "gcp" }, /NOTEBOOK_TARGET="gcp".*local or aws/],
    [{ NOTEBOOK_TARGET: "aws" }, /needs an S3 lake.*LAKE_URI=s3:\/\//],
    [{ NOTEBOOK_RUN_ID: "a b" }, /NOTEBOOK_RUN_ID="a b"/],
    [{ KAFKA_BROKERS: "nope" }, /KAFKA_BROKERS/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => notebookSettings({ env, root: "/repo" }), (error: Error) => {
      assert.ok(error instanceof ConfigError, `${JSON.stringify(env)} gave ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
});

// ----------------------------------------------------------------------------- display

class RecordingJupyter implements JupyterDisplay {
  calls: { bundle: DisplayBundle; options: { display_id?: string; update?: boolean } }[] = [];
  fail = false;
  display(bundle: DisplayBundle, options: { raw: true; display_id?: string; update?: boolean }) {
    if (this.fail) return Promise.reject(new Error("kernel gone"));
    this.calls.push({ bundle, options });
    return Promise.resolve();
  }
}

Deno.test("a live display creates one output, then updates that same output in place", async () => {
  const api = new RecordingJupyter();
  const view = liveDisplay({ jupyter: api, intervalMs: 0, displayId: "d1" });
  view.update("one");
  view.update({ "text/plain": "two", "text/html": "<b>two</b>" });
  await view.done("three");
  assert.deepEqual(api.calls.map((c) => c.options), [
    { raw: true, display_id: "d1", update: false },
    { raw: true, display_id: "d1", update: true },
    { raw: true, display_id: "d1", update: true },
  ]);
  assert.deepEqual(api.calls.map((c) => c.bundle["text/plain"]), ["one", "two", "three"]);
  assert.equal(api.calls[1].bundle["text/html"], "<b>two</b>");
});

Deno.test("a live display drops updates that come too fast but always shows the final state", async () => {
  const api = new RecordingJupyter();
  const view = liveDisplay({ jupyter: api, intervalMs: 60_000 });
  for (let i = 0; i < 100; i++) view.update(`n=${i}`);
  await view.done("finished");
  assert.deepEqual(api.calls.map((c) => c.bundle["text/plain"]), ["n=0", "finished"]);
  assert.notEqual(api.calls[0].options.display_id, undefined);
});

Deno.test("a live display reports a failed display when it is done", async () => {
  const api = new RecordingJupyter();
  api.fail = true;
  const view = liveDisplay({ jupyter: api, intervalMs: 0 });
  view.update("lost");
  await assert.rejects(view.done("end"), /kernel gone/);
});

Deno.test("outside Jupyter the live display writes the plain text to the terminal sink", async () => {
  assert.equal(jupyter(), undefined, "deno test does not run in a Jupyter kernel");
  const lines: string[] = [];
  const fallback: ProgressSink = {
    update: (text) => lines.push(`update ${text}`),
    done: (text) => void lines.push(`done ${text}`),
  };
  const view = liveDisplay({ fallback });
  view.update({ "text/plain": "half", "text/html": "<i>half</i>" });
  await view.done("all");
  assert.deepEqual(lines, ["update half", "done all"]);
});

function tick(symbol: string, ts: string, close: number, extra: Partial<Tick> = {}): Tick {
  return {
    symbol,
    ts: Date.parse(ts),
    open: close,
    high: close,
    low: close,
    close,
    adj_close: close,
    volume: 1000,
    close_usd: close,
    ...extra,
  };
}

Deno.test("the last prices board keeps each symbol's latest tick, by symbol", async () => {
  const prices = new LastPrices();
  const seen: string[] = [];
  const ticks = [
    tick("NYA", "2021-01-04", 1),
    tick("HSI", "2021-01-04", 2),
    tick("NYA", "2021-01-05", 3),
  ];
  for await (const t of prices.tap(ticks)) seen.push(t.symbol);
  prices.observe(undefined);
  assert.deepEqual(seen, ["NYA", "HSI", "NYA"]);
  assert.equal(prices.size, 2);
  assert.deepEqual(prices.ticks().map((t) => [t.symbol, t.close]), [["HSI", 2], ["NYA", 3]]);
});

Deno.test("the producer view shows progress, counts, rate and last prices as text and HTML", () => {
  const prices = new LastPrices();
  prices.observe(tick("<b>X", "2021-05-31", 1234.5678));
  const bundle = produceView({ sent: 500, bytes: 2048, elapsedMs: 1000 }, { total: 1000, prices });
  const text = bundle["text/plain"] as string;
  assert.match(text, /^Producing 50%\n/);
  assert.match(text, /sent 500 · rate 500\/s · bytes 2\.0 KiB · elapsed 1\.0 s/);
  assert.match(text, /last: <b>X 1,234\.57 \(2021-05-31\)/);
  const html = bundle["text/html"] as string;
  assert.match(html, /<progress value="500" max="1000"/);
  assert.match(html, /&#60;b&#62;X/, "symbols are escaped in HTML");
  assert.ok(!html.includes("<b>X"));
});

Deno.test("the consumer view shows messages, rows, objects, commits and dead letters", () => {
  const bundle = consumeView({
    messages: 2000,
    deadLettered: 1,
    elapsedMs: 2000,
    rowsWritten: 1999,
    objectsWritten: 3,
    bytesWritten: 10_240,
    commits: 3,
    bufferedRows: 0,
    bufferedBytes: 0,
    rejoins: 0,
    fenced: 0,
    refused: 0,
  });
  const text = bundle["text/plain"] as string;
  assert.match(text, /^Consuming\n/, "no percentage without a limit");
  for (
    const part of [
      "messages 2,000",
      "rate 1,000/s",
      "rows written 1,999",
      "objects 3",
      "commits 3",
      "dead letters 1",
    ]
  ) {
    assert.ok(text.includes(part), `${part} in ${text}`);
  }
  assert.ok(!(bundle["text/html"] as string).includes("<progress"));
  assert.equal(escapeHtml(`a&b<"'>`), "a&#38;b&#60;&#34;&#39;&#62;");
});

// ----------------------------------------------------------------------------- charts

/** The spec as plain JSON, as Jupyter receives it. */
function specOf(chart: ChartBundle) {
  return JSON.parse(JSON.stringify(chart[VEGA_LITE_MIME]));
}

const closes = [
  { symbol: "NYA", ts: new Date("2021-01-05T00:00:00Z"), close: 110 },
  { symbol: "NYA", ts: new Date("2021-01-04T00:00:00Z"), close: 100 },
  { symbol: "HSI", ts: new Date("2021-01-04T00:00:00Z"), close: 20 },
  { symbol: "HSI", ts: new Date("2021-01-05T00:00:00Z"), close: 30 },
  { symbol: "HSI", ts: new Date("2021-01-06T00:00:00Z"), close: null },
];

Deno.test("price lines rebase each symbol to 100 at its first bar, in time order", () => {
  const chart = priceLinesChart(closes);
  const spec = specOf(chart);
  assert.equal(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
  assert.equal(spec.encoding.y.field, "rebased");
  assert.equal(spec.encoding.color.field, "symbol");
  assert.deepEqual(spec.data.values, [
    { symbol: "HSI", ts: "2021-01-04T00:00:00.000Z", close: 20, rebased: 100 },
    { symbol: "HSI", ts: "2021-01-05T00:00:00.000Z", close: 30, rebased: 150 },
    { symbol: "NYA", ts: "2021-01-04T00:00:00.000Z", close: 100, rebased: 100 },
    { symbol: "NYA", ts: "2021-01-05T00:00:00.000Z", close: 110, rebased: 110.00000000000001 },
  ]);
  assert.match(chart["text/plain"], /2 symbols \(HSI, NYA\), 4 points/);
  const plain = specOf(priceLinesChart(closes, { rebase: false, title: "t" }));
  assert.equal(plain.encoding.y.field, "close");
  assert.equal(plain.title, "t");
});

Deno.test("a chart is a MIME bundle that the kernel displays and JSON keeps without extras", () => {
  const chart = priceLinesChart(closes);
  const json = JSON.parse(JSON.stringify(chart));
  assert.deepEqual(Object.keys(json).sort(), [VEGA_LITE_MIME, "text/plain"].sort());
  const render = (chart as unknown as Record<symbol, () => DisplayBundle>)[
    Symbol.for("Jupyter.display")
  ];
  assert.equal(typeof render, "function");
  assert.deepEqual(Object.keys(render()).sort(), [VEGA_LITE_MIME, "text/plain"].sort());
});

Deno.test("charts refuse empty rows and rows without the columns they draw, saying which", () => {
  assert.throws(() => priceLinesChart([]), (e: Error) => {
    assert.ok(e instanceof ChartError);
    assert.match(e.message, /no rows.*kafka_producer\.ipynb/);
    return true;
  });
  assert.throws(
    () => priceLinesChart([{ symbol: "A", ts: 1 }]),
    /no "close" column \(they have symbol, ts\)/,
  );
  assert.throws(
    () => candlestickChart([{ symbol: "A", period: "2021-01-01", close: 1 }]),
    /no "open", "high", "low" column.*ohlc analysis/,
  );
  assert.throws(() => volumeChart([{ symbol: "A", period: "2021-01-01" }]), /no "volume" column/);
});

const ohlc = [
  { symbol: "NYA", period: "2021-01-01", open: 10, high: 12, low: 9, close: 11, volume: 5 },
  { symbol: "NYA", period: "2021-02-01", open: 11, high: 11, low: 8, close: 9, volume: 6 },
  { symbol: "HSI", period: "2021-01-01", open: 1, high: 2, low: 1, close: 2, volume: 7 },
];

Deno.test("candlesticks draw one symbol: a low-high rule and an open-close bar coloured by direction", () => {
  const chart = candlestickChart(ohlc, { symbol: "NYA" });
  const spec = specOf(chart);
  assert.equal(spec.data.values.length, 2);
  assert.ok(spec.data.values.every((v: { symbol: string }) => v.symbol === "NYA"));
  assert.deepEqual(
    spec.layer.map((
      l: { encoding: { y: { field: string }; y2: { field: string } } },
    ) => [l.encoding.y.field, l.encoding.y2.field]),
    [
      ["low", "high"],
      ["open", "close"],
    ],
  );
  assert.equal(spec.encoding.color.condition.test, "datum.open <= datum.close");
  assert.match(chart["text/plain"], /NYA, 2 bars/);
  assert.match(candlestickChart(ohlc)["text/plain"], /HSI/, "defaults to the first symbol");
  assert.throws(
    () => candlestickChart(ohlc, { symbol: "DAX" }),
    /"DAX": the rows have only HSI, NYA/,
  );
});

Deno.test("volume bars stack the summed volume of each symbol per period", () => {
  const spec = specOf(volumeChart(ohlc));
  assert.equal(spec.mark, "bar");
  assert.deepEqual([spec.encoding.y.field, spec.encoding.y.aggregate, spec.encoding.y.stack], [
    "volume",
    "sum",
    "zero",
  ]);
  assert.deepEqual(spec.data.values[2], { symbol: "HSI", period: "2021-01-01", volume: 7 });
});

// ----------------------------------------------------------------------------- notebook checks

function notebook(cells: NotebookDocument["cells"]): NotebookDocument {
  return { cells, metadata: { kernelspec: { name: "deno" } }, nbformat: 4, nbformat_minor: 5 };
}

Deno.test("notebook problems are error outputs, stderr errors and cells that did not run", () => {
  const nb = notebook([
    { cell_type: "markdown", source: "# Title" },
    {
      cell_type: "code",
      source: "1",
      execution_count: 1,
      outputs: [{ output_type: "execute_result", data: {} }],
    },
    {
      cell_type: "code",
      source: ["boom", "()"],
      execution_count: 2,
      outputs: [{ output_type: "error", ename: "ReferenceError", evalue: "boom is not defined" }],
    },
    {
      cell_type: "code",
      source: "log()",
      execution_count: 3,
      outputs: [{
        output_type: "stream",
        name: "stderr",
        text: ["warning: ok\n", "Error: broker down\n"],
      }],
    },
    {
      cell_type: "code",
      source: "warn()",
      execution_count: 4,
      outputs: [{ output_type: "stream", name: "stderr", text: "warning: slow\n" }],
    },
    { cell_type: "code", source: "later()", execution_count: null, outputs: [] },
    { cell_type: "code", source: "", execution_count: null, outputs: [] },
  ]);
  assert.deepEqual(notebookProblems(nb), [
    { cell: 2, message: "ReferenceError: boom is not defined" },
    { cell: 3, message: "stderr: warning: ok | Error: broker down" },
    { cell: 5, message: "did not run" },
  ]);
  assert.deepEqual(notebookProblems(notebook([])), []);
});

Deno.test("charts are counted from Vega-Lite, SVG and PNG outputs", () => {
  const nb = notebook([
    {
      cell_type: "code",
      source: "a",
      execution_count: 1,
      outputs: [{ output_type: "execute_result", data: { [VEGA_LITE_MIME]: {} } }],
    },
    {
      cell_type: "code",
      source: "b",
      execution_count: 2,
      outputs: [{ output_type: "display_data", data: { "image/svg+xml": "<svg/>" } }],
    },
    {
      cell_type: "code",
      source: "c",
      execution_count: 3,
      outputs: [{ output_type: "display_data", data: { "text/html": "<table/>" } }],
    },
  ]);
  assert.equal(countCharts(nb), 2);
});

Deno.test("stripping removes outputs, counts and run metadata, and says when it changed nothing", () => {
  const nb = notebook([
    { cell_type: "markdown", source: "x", metadata: {} },
    {
      cell_type: "code",
      source: "1",
      execution_count: 7,
      metadata: { execution: { start: "t" }, tags: ["keep"] },
      outputs: [{ output_type: "stream", name: "stdout", text: "1" }],
    },
  ]);
  const { notebook: stripped, changed } = stripNotebook(nb);
  assert.equal(changed, true);
  assert.deepEqual(stripped.cells[1], {
    cell_type: "code",
    source: "1",
    execution_count: null,
    metadata: { tags: ["keep"] },
    outputs: [],
  });
  assert.equal(nb.cells[1].execution_count, 7, "the input is not modified");
  assert.equal(stripNotebook(stripped).changed, false);
});

Deno.test("notebooks are written like Jupyter writes them: sorted keys, one-space indent", () => {
  const text = notebookJson({ metadata: { b: 1, a: 2 }, cells: [], nbformat: 4 });
  assert.equal(
    text,
    '{\n "cells": [],\n "metadata": {\n  "a": 2,\n  "b": 1\n },\n "nbformat": 4\n}\n',
  );
});

Deno.test("the committed notebooks run on the Deno kernel and hold no outputs", async () => {
  for (const name of ["kafka_producer.ipynb", "kafka_consumer.ipynb", "analysis.ipynb"]) {
    const text = await Deno.readTextFile(new URL(`../notebooks/${name}`, import.meta.url));
    const nb = JSON.parse(text) as NotebookDocument;
    assert.equal((nb.metadata.kernelspec as { name: string }).name, "deno", name);
    assert.equal(stripNotebook(nb).changed, false, `${name} has outputs: strip it`);
    assert.equal(notebookJson(nb), text, `${name} is not in Jupyter's layout`);
  }
});

// ----------------------------------------------------------------------------- catalog + query

async function writeTicks(store: Store, ticks: Tick[]): Promise<void> {
  const key = objectKey({
    dt: "2021-01-01",
    topic: "t",
    partition: 0,
    startOffset: "0",
    format: "parquet",
  });
  await store.put(key, encodeTicks(ticks, { format: "parquet" }));
}

Deno.test("the local analysis catalogs the lake and runs SQL and named analyses on it", async () => {
  await using lake = await tempLake();
  const ticks = [...simulateTicks({ symbols: 3, count: 30, start: Date.parse("2021-01-01") })];
  await writeTicks(lake.store, ticks);
  const analysis = openLakeAnalysis(notebookSettings({ env: { LAKE_URI: lake.dir }, root: "/" }));
  assert.equal(analysis.engine, "local");
  const { discovery, where } = await analysis.catalog();
  assert.equal(discovery.objects, 1);
  assert.equal(where, `${lake.dir}/_catalog/stock_market/ticks.json`);
  assert.ok(await lake.store.get("_catalog/stock_market/ticks.json"));
  const count = await analysis.sql("SELECT COUNT(*) AS n FROM ticks");
  assert.equal(count.rows[0].n, 90);
  const latest = await analysis.named("latest");
  assert.equal(latest.rows.length, 3);
  const monthly = await analysis.named("ohlc", { interval: "month" });
  assert.ok(candlestickChart(monthly.rows)[VEGA_LITE_MIME]);
});

Deno.test("the local analysis says to fill the lake when it is empty", async () => {
  await using lake = await tempLake();
  const analysis = openLakeAnalysis(notebookSettings({ env: { LAKE_URI: lake.dir }, root: "/" }));
  await assert.rejects(analysis.catalog(), /No lake objects under .*deno task consume/);
  await assert.rejects(analysis.sql("SELECT 1"), /deno task consume/);
});

Deno.test("with NOTEBOOK_TARGET=aws the catalog is a Glue table on the S3 lake (moto)", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "moto, e.g. http://127.0.0.1:5000");
  await using s3 = await s3TestStore();
  await writeTicks(s3, [...simulateTicks({ symbols: 2, count: 5 })]);
  const database = `nb_test_${Date.now()}`;
  const analysis = openLakeAnalysis(notebookSettings({
    env: {
      NOTEBOOK_TARGET: "aws",
      LAKE_URI: `s3://${s3.bucket}`,
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: "us-east-1",
      GLUE_DATABASE: database,
    },
    root: "/",
  }));
  assert.equal(analysis.engine, "athena");
  const glue = new GlueClient({ region: "us-east-1", endpoint });
  try {
    const { where } = await analysis.catalog();
    assert.equal(where, `glue://${database}.ticks`);
    const table = await glue.send(new GetTableCommand({ DatabaseName: database, Name: "ticks" }));
    assert.equal(table.Table?.StorageDescriptor?.Location, `s3://${s3.bucket}/ticks/`);
  } finally {
    await glue.send(new DeleteDatabaseCommand({ Name: database })).catch(() => {});
    glue.destroy();
  }
});
