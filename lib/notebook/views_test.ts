import assert from "node:assert/strict";
import type { Tick } from "../tick.ts";
import { escapeHtml } from "./display.ts";
import { consumeView, LastPrices, produceView } from "./views.ts";

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
