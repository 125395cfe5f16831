import assert from "node:assert/strict";
import { KAGGLE_SYMBOLS, mulberry32, SimulateOptionError, simulateTicks } from "./simulate.ts";
import { tickProblem } from "../tick.ts";

Deno.test("simulateTicks gives the same ticks for the same seed and different ones for another", () => {
  const a = [...simulateTicks({ count: 50, seed: 7 })];
  const b = [...simulateTicks({ count: 50, seed: 7 })];
  const c = [...simulateTicks({ count: 50, seed: 8 })];
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((t) => t.close), c.map((t) => t.close));
});

Deno.test("simulateTicks defaults to the 14 Kaggle index symbols ordered by time across symbols", () => {
  const ticks = [...simulateTicks({ count: 3 })];
  const names = KAGGLE_SYMBOLS.map((p) => p.symbol);
  assert.deepEqual(names, [
    "NYA",
    "IXIC",
    "HSI",
    "000001.SS",
    "GSPTSE",
    "399001.SZ",
    "NSEI",
    "GDAXI",
    "KS11",
    "SSMI",
    "TWII",
    "J203.JO",
    "N225",
    "N100",
  ]);
  assert.equal(ticks.length, 42);
  assert.deepEqual(ticks.slice(0, 14).map((t) => t.symbol), names);
  assert.deepEqual(ticks.slice(14, 28).map((t) => t.symbol), names);
  const start = Date.UTC(2007, 9, 1);
  assert.ok(ticks.slice(0, 14).every((t) => t.ts === start));
  assert.ok(ticks.slice(14, 28).every((t) => t.ts === start + 86_400_000));
});

Deno.test("simulateTicks bars are valid ticks with high ≥ open, close ≥ low and volume > 0", () => {
  let count = 0;
  for (const t of simulateTicks({ count: 2000, seed: 3, intervalMs: 1000, volatility: 0.9 })) {
    count++;
    assert.equal(tickProblem(t), undefined);
    assert.ok(t.high! >= Math.max(t.open!, t.close!), `${t.symbol} high ${t.high}`);
    assert.ok(Math.min(t.open!, t.close!) >= t.low!, `${t.symbol} low ${t.low}`);
    assert.ok(t.volume! > 0);
    assert.equal(t.adj_close, t.close);
  }
  assert.equal(count, 2000 * 14);
});

Deno.test("simulateTicks converts close to USD with each index's currency factor", () => {
  const [hsi, nya] = [...simulateTicks({ symbols: ["HSI", "NYA"], count: 1 })];
  assert.ok(Math.abs(hsi.close_usd! - hsi.close! * 0.128) < 1e-5);
  assert.equal(nya.close_usd, nya.close);
  assert.equal(hsi.open, 27_000, "the first open is the profile's start price");
});

Deno.test("simulateTicks gives a symbol the same path whatever symbols run with it", () => {
  const alone = [...simulateTicks({ symbols: ["HSI"], count: 20, seed: 5 })];
  const together = [...simulateTicks({ count: 20, seed: 5 })].filter((t) => t.symbol === "HSI");
  assert.deepEqual(alone, together);
});

Deno.test("simulateTicks skips weekends when weekdaysOnly is set", () => {
  // 2007-10-05 is a Friday.
  const ticks = [
    ...simulateTicks({ symbols: 1, start: new Date("2007-10-05"), count: 6, weekdaysOnly: true }),
  ];
  assert.deepEqual(ticks.map((t) => new Date(t.ts).toISOString().slice(0, 10)), [
    "2007-10-05",
    "2007-10-08",
    "2007-10-09",
    "2007-10-10",
    "2007-10-11",
    "2007-10-12",
  ]);
  const hourly = [
    ...simulateTicks({
      symbols: 1,
      start: Date.UTC(2007, 9, 5, 22),
      intervalMs: 3_600_000,
      count: 3,
      weekdaysOnly: true,
    }),
  ];
  assert.deepEqual(hourly.map((t) => new Date(t.ts).toISOString()), [
    "2007-10-05T22:00:00.000Z",
    "2007-10-05T23:00:00.000Z",
    "2007-10-08T00:00:00.000Z",
  ]);
});

Deno.test("simulateTicks accepts names, profiles and counts beyond the Kaggle list", () => {
  const named = [...simulateTicks({ symbols: ["ACME"], count: 1 })][0];
  assert.deepEqual([named.symbol, named.open, named.close_usd], ["ACME", 100, named.close]);
  const custom = [
    ...simulateTicks({
      symbols: [{ symbol: "X", price: 5, currency: "EUR", usd: 2, volume: 10 }],
      count: 1,
    }),
  ][0];
  assert.equal(custom.open, 5);
  const many = new Set([...simulateTicks({ symbols: 16, count: 1 })].map((t) => t.symbol));
  assert.ok(many.has("N100") && many.has("SIM15") && many.has("SIM16"));
  assert.equal(many.size, 16);
});

Deno.test("simulateTicks is endless by default and lazy", () => {
  const ticks = simulateTicks({ symbols: ["A"] });
  for (let i = 0; i < 10_000; i++) assert.equal(ticks.next().done, false);
});

Deno.test("simulateTicks rejects bad options at once with the option's name", () => {
  const bad: [Parameters<typeof simulateTicks>[0], RegExp][] = [
    [{ intervalMs: 0 }, /option intervalMs must be a positive number/],
    [{ count: -1 }, /option count must be a whole number/],
    [{ count: 1.5 }, /option count/],
    [{ volatility: -0.1 }, /option volatility must be a number ≥ 0/],
    [{ start: new Date("nope") }, /option start must be a valid date/],
    [{ symbols: [] }, /option symbols must name at least one symbol/],
    [{ symbols: ["A", "A"] }, /must not repeat a name/],
    [{ symbols: [""] }, /must not hold an empty name/],
    [{ symbols: 0 }, /option symbols must be a whole number ≥ 1/],
    [{ seed: NaN }, /option seed/],
    [
      { weekdaysOnly: true, intervalMs: 7 * 86_400_000 },
      /weekdaysOnly needs intervalMs of one day/,
    ],
    [
      { symbols: [{ symbol: "Z", price: 0, currency: "USD", usd: 1, volume: 1 }] },
      /entry Z needs a price > 0/,
    ],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => simulateTicks(options), (e: unknown) => {
      assert.ok(e instanceof SimulateOptionError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("mulberry32 is deterministic, seed-sensitive and uniform in [0, 1)", () => {
  const a = mulberry32(1), b = mulberry32(1), c = mulberry32(2);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(xs.slice(0, 5), Array.from({ length: 5 }, () => b()));
  assert.notEqual(xs[0], c());
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
});
