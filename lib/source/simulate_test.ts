import assert from "node:assert/strict";
import {
  KAGGLE_SYMBOLS,
  levelBounds,
  liveTicks,
  mulberry32,
  SimulateOptionError,
  simulateTicks,
  trendLevel,
} from "./simulate.ts";
import { isTradingDay } from "./calendar.ts";
import { type Tick, tickProblem, utcDate } from "../tick.ts";
import { ManualClock } from "../time.ts";

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
  const start = Date.UTC(2007, 9, 1);
  assert.equal(
    hsi.open,
    Math.round(trendLevel(KAGGLE_SYMBOLS[2], start)! * 1e6) / 1e6,
    "the first open is the index's trend level at the start",
  );
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

/** Daily bars of every Kaggle index from `start`, with calendar and quirks. */
function history(seed: number, start = Date.UTC(1995, 0, 2), count = 7_000): Tick[] {
  return [...simulateTicks({ start, count, seed, calendar: true, quirks: true })];
}

Deno.test("every index stays inside its band around its real trend, whatever the seed", () => {
  for (const seed of [1, 2, 3, 42]) {
    for (const t of history(seed)) {
      const profile = KAGGLE_SYMBOLS.find((p) => p.symbol === t.symbol)!;
      const { low, high } = levelBounds(profile, t.ts + 86_400_000)!;
      const floor = Math.min(low, levelBounds(profile, t.ts)!.low) * (1 - 1e-9);
      const ceiling = Math.max(high, levelBounds(profile, t.ts)!.high) * (1 + 1e-9);
      assert.ok(
        t.low! >= floor && t.high! <= ceiling,
        `${t.symbol} ${
          utcDate(t.ts)
        }: ${t.low}..${t.high} outside ${floor}..${ceiling} (seed ${seed})`,
      );
      assert.equal(tickProblem(t), undefined);
    }
  }
});

Deno.test("levels look like the real indices: the Nasdaq stays above 1,000 and Shanghai below 10,000 from 2007 to 2021", () => {
  for (const seed of [1, 2, 3, 42]) {
    const ticks = history(seed, Date.UTC(2007, 9, 1), 3_600);
    const range = (symbol: string) => {
      const closes = ticks.filter((t) => t.symbol === symbol).map((t) => t.close!);
      return [Math.min(...closes), Math.max(...closes)];
    };
    const [ixicLow] = range("IXIC");
    const [, sseHigh] = range("000001.SS");
    const [n100Low, n100High] = range("N100");
    assert.ok(ixicLow > 1_000, `IXIC fell to ${ixicLow} (seed ${seed})`);
    assert.ok(sseHigh < 10_000, `000001.SS rose to ${sseHigh} (seed ${seed})`);
    assert.ok(n100Low > 400 && n100High < 2_500, `N100 ${n100Low}..${n100High} (seed ${seed})`);
  }
  const ixic = KAGGLE_SYMBOLS.find((p) => p.symbol === "IXIC")!;
  assert.equal(Math.round(trendLevel(ixic, Date.UTC(2021, 5, 1))!), 13_750);
  assert.equal(
    trendLevel({ symbol: "X", price: 1, currency: "USD", usd: 1, volume: 1 }, 0),
    undefined,
  );
});

Deno.test("with calendar, each index skips weekends and its own exchange's holidays", () => {
  const ticks = history(42, Date.UTC(2020, 11, 1), 300);
  const days = (symbol: string) =>
    new Set(ticks.filter((t) => t.symbol === symbol).map((t) => utcDate(t.ts)));
  for (const t of ticks) {
    const day = new Date(t.ts).getUTCDay();
    assert.ok(day !== 0 && day !== 6, `${t.symbol} traded on a weekend: ${utcDate(t.ts)}`);
    assert.equal(t.ts % 86_400_000, 0, "daily bars at 00:00 UTC");
  }
  const nya = days("NYA");
  for (
    const closed of [
      "2020-12-25",
      "2021-01-01",
      "2021-01-18",
      "2021-04-02",
      "2021-07-05",
      "2021-11-25",
    ]
  ) {
    assert.ok(!nya.has(closed), `NYA traded on ${closed}`);
  }
  assert.ok(nya.has("2021-04-05"), "Easter Monday is a trading day in New York");
  assert.ok(!days("GDAXI").has("2021-04-05"), "but not in Frankfurt");
  assert.ok(!days("GDAXI").has("2020-12-24"));
  assert.ok(!days("000001.SS").has("2021-02-12"), "Spring Festival in Shanghai");
  assert.ok(!days("000001.SS").has("2021-10-04"), "National Day week in Shanghai");
  assert.ok(!days("HSI").has("2021-02-12") && days("HSI").has("2021-02-17"));
  assert.ok(!days("N225").has("2021-01-01") && !days("N225").has("2021-05-05"));
  assert.ok(!days("NSEI").has("2021-11-04"), "Diwali in Mumbai");
  assert.ok(!days("KS11").has("2021-09-21"), "Chuseok in Seoul");
  assert.ok(!days("J203.JO").has("2021-03-22"), "Human Rights Day (a Sunday) moves to Monday");
  // Over a year each index trades on 235 to 258 days, as real exchanges do (NYSE 252, Euronext 258).
  const year = history(42, Date.UTC(2021, 0, 1), 400).filter((t) => t.ts < Date.UTC(2022, 0, 1));
  for (const profile of KAGGLE_SYMBOLS) {
    const n = year.filter((t) => t.symbol === profile.symbol).length;
    assert.ok(n >= 235 && n <= 258, `${profile.symbol} traded ${n} days in 2021`);
    for (const t of year.filter((t) => t.symbol === profile.symbol)) {
      assert.ok(isTradingDay(profile.exchange!, t.ts));
    }
  }
});

Deno.test("with quirks, some days have volume 0 and some bars are flat, as in the real file", () => {
  const ticks = history(42, Date.UTC(2007, 9, 1), 3_600);
  const of = (symbol: string) => ticks.filter((t) => t.symbol === symbol);
  assert.ok(of("J203.JO").every((t) => t.volume === 0), "the real file has no J203.JO volume");
  const zero = of("NSEI").filter((t) => t.volume === 0).length;
  assert.ok(zero > 30 && zero < 200, `NSEI has ${zero} days of volume 0`);
  const flat = of("HSI").filter((t) => t.open === t.high && t.high === t.low && t.low === t.close);
  assert.ok(flat.length > 2 && flat.length < 40, `HSI has ${flat.length} flat bars`);
  assert.ok(flat.every((t) => t.volume === 0));
  const plain = [...simulateTicks({ start: Date.UTC(2007, 9, 1), count: 500, calendar: true })];
  assert.ok(plain.every((t) => t.volume! > 0 && t.high! > t.low!), "no quirks unless asked");
  const prices = (list: Tick[]) => list.map((t) => t.close);
  assert.deepEqual(
    prices(of("IXIC").slice(0, 500)),
    prices(plain.filter((t) => t.symbol === "IXIC")),
    "quirks do not change the path",
  );
});

Deno.test("simulateTicks stops before its end time", () => {
  const end = Date.UTC(2007, 9, 10);
  const ticks = [...simulateTicks({ symbols: ["NYA"], end, calendar: true })];
  assert.deepEqual(ticks.map((t) => utcDate(t.ts)), [
    "2007-10-01",
    "2007-10-02",
    "2007-10-03",
    "2007-10-04",
    "2007-10-05",
    "2007-10-08",
    "2007-10-09",
  ]);
});

Deno.test("live ticks: one round per interval, stamped with the current time, in today's dt", async () => {
  const now = Date.UTC(2026, 10, 30, 9, 30, 0, 250);
  const clock = new ManualClock({ start: now });
  const ticks: Tick[] = [];
  for await (const t of liveTicks({ count: 3, intervalMs: 1000, clock })) ticks.push(t);
  assert.equal(ticks.length, 3 * 14);
  assert.deepEqual([...new Set(ticks.map((t) => t.ts))], [now, now + 1000, now + 2000]);
  assert.ok(ticks.every((t) => utcDate(t.ts) === "2026-11-30"));
  for (const t of ticks) {
    const profile = KAGGLE_SYMBOLS.find((p) => p.symbol === t.symbol)!;
    const { low, high } = levelBounds(profile, t.ts)!;
    assert.ok(t.low! >= low && t.high! <= high, `${t.symbol} ${t.close} outside ${low}..${high}`);
    assert.ok(t.high! >= Math.max(t.open!, t.close!) && Math.min(t.open!, t.close!) >= t.low!);
    assert.equal(tickProblem(t), undefined);
  }
  // A second of trading moves an index by a few basis points, not percent.
  const nya = ticks.filter((t) => t.symbol === "NYA").map((t) => t.close!);
  assert.ok(Math.abs(nya[2] / nya[0] - 1) < 0.005, `NYA moved ${nya}`);
  assert.ok(ticks.filter((t) => t.symbol === "J203.JO").every((t) => t.volume === 0));
  const keys = new Set(ticks.map((t) => `${t.symbol}|${t.ts}`));
  assert.equal(keys.size, ticks.length, "no (symbol, ts) twice");
});

Deno.test("live ticks stop quietly on their signal", async () => {
  const controller = new AbortController();
  let n = 0;
  for await (
    const _ of liveTicks({ symbols: 2, clock: new ManualClock(), signal: controller.signal })
  ) {
    if (++n === 10) controller.abort();
  }
  assert.equal(n, 10);
  assert.throws(() => liveTicks({ intervalMs: 0 }), /option intervalMs must be a positive number/);
});
