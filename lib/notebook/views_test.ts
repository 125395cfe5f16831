import assert from "node:assert/strict";
import pl from "nodejs-polars";
import type { QueryResult } from "../query/result.ts";
import type { Tick } from "../tick.ts";
import { type DisplayBundle, escapeHtml } from "./display.ts";
import {
  consumeView,
  formatCell,
  formatInstant,
  keyValues,
  LastPrices,
  produceView,
  table,
} from "./views.ts";

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

Deno.test("a table shows instants as ISO text and numbers rounded for reading", () => {
  const view = table([
    {
      symbol: "NYA",
      ts: new Date("2021-06-24T00:00:00Z"),
      close: 2211.6333910000003,
      volume: 3_012_345_678,
      change_pct: -3.14159,
    },
    {
      symbol: "KS11",
      ts: new Date("2021-06-24T13:45:07Z"),
      close: 0.0123456,
      volume: null,
      change_pct: 12,
    },
  ]);
  const text = view["text/plain"];
  assert.match(text, /^symbol +ts +close +volume +change_pct$/m);
  assert.match(text, /NYA +2021-06-24 +2,211\.63 +3,012,345,678 +-3\.14%/);
  assert.match(text, /KS11 +2021-06-24T13:45:07Z +0\.01 +12\.00%/);
  const small = table([{ usd: 0.0123456 }, { usd: 0.5 }])["text/plain"];
  assert.match(small, /0\.01235\n +0\.5$/, "a column below 1 keeps 4 significant digits");
  const mixed = table([{ close: 10_100 }, { close: 10_332.425902 }])["text/plain"];
  assert.match(mixed, /10,100\.00\n10,332\.43$/, "a column's numbers line up on 2 decimals");
  assert.ok(!text.includes("GMT"), "no Date.toString() in a table");
  const html = view["text/html"];
  assert.match(html, /<th style="text-align: right">close<\/th>/);
  assert.match(html, /<td style="text-align: left">2021-06-24<\/td>/);
  assert.match(html, /<td style="text-align: right">2,211\.63<\/td>/);
  const render = (view as unknown as Record<symbol, () => DisplayBundle>)[
    Symbol.for("Jupyter.display")
  ];
  assert.deepEqual(Object.keys(render()).sort(), ["text/html", "text/plain"]);
});

Deno.test("a table takes query results and DataFrames, keeps the columns asked for, and counts the rows it leaves out", () => {
  const result: QueryResult = {
    engine: "local",
    sql: "SELECT …",
    columns: [{ name: "symbol", type: "string" }, { name: "bars", type: "bigint" }],
    rows: Array.from({ length: 25 }, (_, i) => ({ symbol: `S${i}`, bars: 1000 + i })),
    stats: { elapsedMs: 1 },
  };
  const view = table(result, { maxRows: 3, title: "bars per symbol" });
  assert.equal(
    view["text/plain"],
    "bars per symbol\nsymbol   bars\n──────  ─────\nS0      1,000\nS1      1,001\nS2      1,002\n" +
      "… and 22 more rows (25 in all)",
  );
  const frame = pl.DataFrame({ symbol: ["A"], partition: [2], offset: ["12"] });
  assert.match(table(frame)["text/plain"], /A +2 +12/);
  assert.equal(table([], { columns: ["a"] })["text/plain"], "a\n─\n(no rows)");
  assert.equal(table([], { title: "t" })["text/plain"], "t\n(no rows)");
  assert.match(table([{ a: 1, b: 2 }], { columns: ["b"] })["text/plain"], /^b\n─\n2$/);
});

Deno.test("key/value tables list settings one per line, lists joined", () => {
  const view = keyValues({ brokers: ["a:9092", "b:9092"], rows: 5000, missing: undefined });
  assert.equal(view["text/plain"], "brokers  a:9092, b:9092\nrows     5,000");
  assert.match(view["text/html"], /<th style="text-align: left">brokers<\/th>/);
  assert.equal(formatInstant(Date.UTC(2021, 5, 24, 1, 2, 3, 4)), "2021-06-24T01:02:03.004Z");
  assert.equal(formatCell("partition", 2), "2");
  assert.equal(formatCell("n", 1234567), "1,234,567");
  assert.equal(formatCell("n", 12345678901234567890n), "12,345,678,901,234,567,890");
});
