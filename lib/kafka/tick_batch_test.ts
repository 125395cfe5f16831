import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { simulateTicks } from "../source/simulate.ts";
import { encodeTick, type Tick } from "../tick.ts";
import { encodeTicks, tickJson, tickMessages } from "./tick_batch.ts";

const base: Tick = {
  symbol: "NYA",
  ts: Date.UTC(2007, 9, 1),
  open: 9740.75,
  high: 9751.5,
  low: 9722.25,
  close: 9741,
  adj_close: 9741,
  volume: 0,
  close_usd: 9741,
};

const odd: Tick[] = [
  base,
  { ...base, open: null, high: null, low: null, adj_close: null, volume: null, close_usd: null },
  { ...base, open: NaN, high: Infinity, low: -Infinity, volume: -0, close: 1e21, close_usd: 5e-7 },
  { ...base, symbol: 'A"B\\C\n\u0001', ts: -1 },
  { ...base, symbol: "DAX€", ts: 1.5 },
  { ...base, symbol: "\ud800 lone" },
  { ...base, open: undefined as unknown as number, volume: "7" as unknown as number },
  { ...base, symbol: "NYA", ts: Date.UTC(2199, 11, 31, 23, 59, 59, 999) },
];

Deno.test("tickJson writes exactly what encodeTick writes", () => {
  const ticks = [
    ...simulateTicks({ symbols: 14, count: 5000, intervalMs: 60_000, seed: 9 }),
    ...odd,
  ];
  for (const tick of ticks) assert.equal(tickJson(tick), encodeTick(tick));
  // The cached ISO time is per value, not per call order.
  for (const tick of [...ticks].reverse()) assert.equal(tickJson(tick), encodeTick(tick));
});

Deno.test("tickJson refuses an impossible time as encodeTick does", () => {
  assert.throws(() => encodeTick({ ...base, ts: NaN }), RangeError);
  assert.throws(() => tickJson({ ...base, ts: NaN }), RangeError);
});

Deno.test("encoded ticks become kafkajs messages of their key and wire form, as UTF-8", () => {
  const ticks = [...simulateTicks({ symbols: 3, count: 50, intervalMs: 60_000, seed: 1 }), ...odd];
  for (const batch of [ticks, ticks.slice(0, 3), []]) {
    const encoded = encodeTicks(batch);
    assert.equal(encoded.ends.length, 2 * batch.length + 1);
    assert.equal(encoded.ends.at(-1), encoded.bytes.length);
    const messages = tickMessages(encoded, 2);
    assert.equal(messages.length, batch.length);
    messages.forEach((message, i) => {
      assert.ok(Buffer.isBuffer(message.key) && Buffer.isBuffer(message.value));
      // The bytes kafkajs writes for the strings (a lone surrogate becomes U+FFFD in both).
      assert.ok(message.key.equals(Buffer.from(batch[i].symbol, "utf8")));
      assert.ok((message.value as Buffer).equals(Buffer.from(encodeTick(batch[i]), "utf8")));
      assert.equal(message.partition, 2);
    });
  }
  const [unmarked] = tickMessages(encodeTicks([base]));
  assert.equal("partition" in unmarked, false);
});
