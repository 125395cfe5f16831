import assert from "node:assert/strict";
import { FsStore } from "../lake/fs_store.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import type { Tick } from "../tick.ts";
import { ANALYSES, AnalysisError, analysisSql, type Interval, INTERVALS } from "./analyses.ts";
import { type LocalEngine, openLocalEngine } from "./local.ts";
import { curatedTables } from "../transform/frames.ts";
import { transformLake } from "../transform/transform.ts";
import type { Value } from "./result.ts";

// Expected results are computed here with plain loops over the ticks (no Polars, no SQL).

const TICKS = sampleTicks();

function periodStart(ts: number, interval: Interval): string {
  const day = new Date(Math.floor(ts / 86_400_000) * 86_400_000);
  if (interval === "month") return `${day.toISOString().slice(0, 7)}-01`;
  if (interval === "week") day.setUTCDate(day.getUTCDate() - (day.getUTCDay() + 6) % 7);
  return day.toISOString().slice(0, 10);
}

function bySymbol(ticks: Tick[]): Map<string, Tick[]> {
  const groups = new Map<string, Tick[]>();
  for (const tick of [...ticks].sort((a, b) => a.ts - b.ts)) {
    if (!groups.has(tick.symbol)) groups.set(tick.symbol, []);
    groups.get(tick.symbol)!.push(tick);
  }
  return new Map([...groups].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function sum(values: (number | null)[]): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length ? present.reduce((a, b) => a + b, 0) : null;
}

function expectedOhlc(ticks: Tick[], interval: Interval) {
  const rows = [];
  for (const [symbol, series] of bySymbol(ticks)) {
    const periods = new Map<string, Tick[]>();
    for (const tick of series) {
      const period = periodStart(tick.ts, interval);
      if (!periods.has(period)) periods.set(period, []);
      periods.get(period)!.push(tick);
    }
    for (const [period, bars] of [...periods].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const highs = bars.map((b) => b.high).filter((v): v is number => v !== null);
      const lows = bars.map((b) => b.low).filter((v): v is number => v !== null);
      rows.push({
        symbol,
        period,
        open: bars.find((b) => b.open !== null)?.open ?? null,
        high: highs.length ? Math.max(...highs) : null,
        low: lows.length ? Math.min(...lows) : null,
        close: bars.at(-1)!.close,
        volume: sum(bars.map((b) => b.volume)),
        bars: bars.length,
      });
    }
  }
  return rows;
}

function expectedVwap(ticks: Tick[], interval: Interval) {
  return expectedOhlc(ticks, interval).map(({ symbol, period, volume, bars }) => {
    const inPeriod = ticks.filter((t) =>
      t.symbol === symbol && periodStart(t.ts, interval) === period
    );
    const weighted = sum(inPeriod.map((t) => {
      const typical = t.high !== null && t.low !== null
        ? (t.high + t.low + t.close!) / 3
        : t.close!;
      return t.volume === null ? null : typical * t.volume;
    }));
    return { symbol, period, vwap: volume ? weighted! / volume : null, volume, bars };
  });
}

function expectedLatest(ticks: Tick[]) {
  return [...bySymbol(ticks)].map(([, series]) => {
    const { symbol, ts, ...prices } = series.at(-1)!;
    return { symbol, ts: new Date(ts), ...prices };
  });
}

function expectedMovers(ticks: Tick[], limit: number) {
  return [...bySymbol(ticks)].map(([symbol, series]) => {
    const first = series[0].close!;
    const last = series.at(-1)!.close!;
    return {
      symbol,
      first_ts: new Date(series[0].ts),
      last_ts: new Date(series.at(-1)!.ts),
      first_close: first,
      last_close: last,
      change: last - first,
      change_pct: (last - first) / first * 100,
    };
  }).sort((a, b) =>
    Math.abs(b.change_pct) - Math.abs(a.change_pct) || (a.symbol < b.symbol ? -1 : 1)
  ).slice(0, limit);
}

function expectedSma(ticks: Tick[], window: number) {
  const rows: Record<string, unknown>[] = [];
  for (const [symbol, series] of bySymbol(ticks)) {
    series.forEach((tick, i) => {
      let total = 0;
      for (let k = 0; k < window && i - k >= 0; k++) total += series[i - k].close!;
      rows.push({
        symbol,
        ts: new Date(tick.ts),
        close: tick.close,
        sma: i + 1 >= window ? total / window : null,
      });
    });
  }
  return rows;
}

/** Asserts rows are equal, numbers to 1e-9 relative. */
function assertRows(actual: Record<string, Value>[], expected: Record<string, unknown>[]) {
  assert.equal(actual.length, expected.length, "row count");
  expected.forEach((row, i) => {
    for (const [key, want] of Object.entries(row)) {
      const got = actual[i][key];
      const where = `row ${i} (${JSON.stringify(row.symbol)}) column ${key}`;
      if (typeof want === "number" && typeof got === "number") {
        assert.ok(
          Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)),
          `${where}: ${got} != ${want}`,
        );
      } else assert.deepEqual(got, want, where);
    }
  });
}

async function withLake(ticks: Tick[], run: (engine: LocalEngine) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "analyses_test_" });
  try {
    const store = new FsStore(dir, { fsync: false });
    await writeTestLake(store, ticks);
    await run(await openLocalEngine({ store }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ohlc per day, week and month matches a computation by hand", async () => {
  await withLake(TICKS, async (engine) => {
    for (const interval of ["day", "week", "month"] as const) {
      const result = await engine.query(analysisSql("ohlc", "local", { interval }));
      assert.deepEqual(result.columns.map((c) => c.name), [
        "symbol",
        "period",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "bars",
      ]);
      assertRows(result.rows, expectedOhlc(TICKS, interval));
    }
  });
});

Deno.test("ohlc weeks start on Monday even for bars late on Sunday", async () => {
  const sunday = Date.UTC(2021, 0, 3, 23, 59, 59); // Sunday 2021-01-03
  const monday = Date.UTC(2021, 0, 4, 0, 0, 1);
  const bar = (ts: number, close: number): Tick => ({
    symbol: "X",
    ts,
    open: close,
    high: close,
    low: close,
    close,
    adj_close: close,
    volume: 1,
    close_usd: null,
  });
  await withLake([bar(sunday, 1), bar(monday, 2)], async (engine) => {
    const result = await engine.query(analysisSql("ohlc", "local", { interval: "week" }));
    assert.deepEqual(result.rows.map((r) => [r.period, r.close]), [["2020-12-28", 1], [
      "2021-01-04",
      2,
    ]]);
  });
});

Deno.test("ohlc skips missing opens and closes at a period's edges, and keeps a ts tie stable", async () => {
  const bar = (day: number, open: number | null, close: number | null): Tick => ({
    symbol: "X",
    ts: Date.UTC(2021, 2, day, 12),
    open,
    high: 9,
    low: 1,
    close,
    adj_close: close,
    volume: 1,
    close_usd: null,
  });
  const ticks = [
    bar(1, null, 2), // March: the first bar has no open, the last no close
    bar(2, 3, 4),
    bar(3, 5, null),
    { ...bar(3, 5, null), ts: Date.UTC(2021, 3, 1, 12) }, // April: no close at all
    { ...bar(3, null, 6), ts: Date.UTC(2021, 4, 1, 12) }, // May: no open; two bars at one time
    { ...bar(3, null, 7), ts: Date.UTC(2021, 4, 1, 12) },
  ];
  await withLake(ticks, async (engine) => {
    const result = await engine.query(analysisSql("ohlc", "local", { interval: "month" }));
    assert.deepEqual(result.rows.map((r) => [r.period, r.open, r.close, r.bars]), [
      ["2021-03-01", 3, 4, 3],
      ["2021-04-01", 5, null, 1],
      ["2021-05-01", null, 7, 2],
    ]);
  });
});

Deno.test("vwap, latest, movers and sma match a computation by hand", async () => {
  await withLake(TICKS, async (engine) => {
    for (const interval of ["day", "month"] as const) {
      const vwap = await engine.query(analysisSql("vwap", "local", { interval }));
      assertRows(vwap.rows, expectedVwap(TICKS, interval));
    }
    assertRows((await engine.query(analysisSql("latest", "local"))).rows, expectedLatest(TICKS));
    const movers = await engine.query(analysisSql("movers", "local", { limit: 2 }));
    assertRows(movers.rows, expectedMovers(TICKS, 2));
    const sma = await engine.query(analysisSql("sma", "local", { window: 5 }));
    assertRows(sma.rows, expectedSma(TICKS, 5));
  });
});

Deno.test("from, to and symbol filters narrow every analysis to the matching ticks", async () => {
  const filtered = TICKS.filter((t) => {
    const dt = new Date(t.ts).toISOString().slice(0, 10);
    return dt >= "2021-01-10" && dt <= "2021-02-20" && t.symbol === "B.X";
  });
  assert.ok(filtered.length > 10);
  await withLake(TICKS, async (engine) => {
    const options = { from: "2021-01-10", to: "2021-02-20", symbols: ["B.X"] };
    const ohlc = await engine.query(analysisSql("ohlc", "local", { ...options, interval: "week" }));
    assertRows(ohlc.rows, expectedOhlc(filtered, "week"));
    const sma = await engine.query(analysisSql("sma", "local", { ...options, window: 3 }));
    assertRows(sma.rows, expectedSma(filtered, 3));
  });
});

Deno.test("ohlc and vwap from bars_daily give the ticks' numbers, with every interval and filter", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analyses_test_" });
  try {
    const store = new FsStore(dir, { fsync: false });
    await writeTestLake(store, TICKS);
    await transformLake({ store });
    const engine = await openLocalEngine({ store, tables: curatedTables() });
    const filters = [{}, { from: "2021-01-10", to: "2021-02-20", symbols: ["B.X", "AAA"] }];
    for (const filter of filters) {
      for (const interval of INTERVALS) {
        for (const name of ["ohlc", "vwap"] as const) {
          const options = { ...filter, interval };
          const ticks = await engine.query(analysisSql(name, "local", options));
          const bars = await engine.query(
            analysisSql(name, "local", { ...options, source: "bars_daily" }),
          );
          assert.match(bars.sql, /FROM bars_daily/);
          assert.deepEqual(bars.columns, ticks.columns, `${name} ${interval} columns`);
          assert.ok(ticks.rows.length > 0);
          assertRows(bars.rows, ticks.rows);
        }
      }
    }
    // And against the loops: the curated path is not merely consistent with itself.
    const month = await engine.query(
      analysisSql("ohlc", "local", { interval: "month", source: "bars_daily" }),
    );
    assertRows(month.rows, expectedOhlc(TICKS, "month"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("analyses that need every tick refuse the bars_daily source", () => {
  for (const name of ["latest", "movers", "sma"]) {
    assert.throws(
      () => analysisSql(name, "local", { source: "bars_daily" }),
      new RegExp(`--source "bars_daily" is not known for ${name}: use ticks`),
    );
  }
  assert.match(
    analysisSql("ohlc", "athena", { interval: "week", source: "bars_daily" }),
    /date_trunc\('week', first_ts\) AS period[\s\S]*FROM bars_daily[\s\S]*date_format\(period, '%Y-%m-%d'\)/,
  );
});

Deno.test("athena SQL uses Trino's date_trunc and never Polars' STRFTIME", () => {
  for (const interval of ["day", "week", "month"] as const) {
    const sql = analysisSql("ohlc", "athena", { interval, from: "2021-01-01" });
    assert.match(sql, new RegExp(`date_trunc\\('${interval}', ts\\) AS period`));
    assert.match(sql, /date_format\(period, '%Y-%m-%d'\) AS period/);
    assert.doesNotMatch(sql, /STRFTIME|EXTRACT/);
    assert.match(sql, /WHERE dt >= '2021-01-01'/);
  }
  for (const name of Object.keys(ANALYSES)) {
    const athena = analysisSql(name, "athena");
    assert.doesNotMatch(athena, /STRFTIME|ROWS BETWEEN|\bDATE\(/, name);
    assert.match(athena, /\bFROM ticks\b/, name);
  }
});

Deno.test("the two engines' SQL differ only in the period key and its text", () => {
  for (const name of Object.keys(ANALYSES)) {
    const local = analysisSql(name, "local", { interval: "month" });
    const athena = analysisSql(name, "athena", { interval: "month" });
    assert.equal(
      local.replaceAll("CAST(ts AS DATE) - INTERVAL '1 day' * (EXTRACT(day FROM ts) - 1)", "KEY")
        .replaceAll("STRFTIME(period, '%Y-%m-%d')", "TEXT"),
      athena.replaceAll("date_trunc('month', ts)", "KEY")
        .replaceAll("date_format(period, '%Y-%m-%d')", "TEXT"),
      name,
    );
  }
});

Deno.test("symbols are quoted so a quote in a symbol cannot break the SQL", () => {
  const sql = analysisSql("latest", "local", { symbols: ["O'NEIL"] });
  assert.match(sql, /symbol IN \('O''NEIL'\)/);
});

Deno.test("bad analysis names and options are rejected with what is accepted", () => {
  assert.throws(() => analysisSql("nope", "local"), /Unknown analysis "nope": use one of latest/);
  assert.throws(
    () => analysisSql("ohlc", "local", { interval: "year" as Interval }),
    /--interval "year" is not known: use day, week, month/,
  );
  assert.throws(() => analysisSql("ohlc", "local", { from: "2021-13-45" }), AnalysisError);
  assert.throws(() => analysisSql("ohlc", "local", { from: "31/05/2021" }), /use YYYY-MM-DD/);
  assert.throws(
    () => analysisSql("ohlc", "local", { from: "2021-02-01", to: "2021-01-01" }),
    /is after --to/,
  );
  assert.throws(() => analysisSql("sma", "local", { window: 0 }), /whole number 1-200/);
  assert.throws(() => analysisSql("movers", "local", { limit: 1.5 }), /whole number/);
  assert.throws(() => analysisSql("latest", "local", { symbols: [""] }), /non-empty symbol/);
  assert.throws(() => analysisSql("latest", "local", { table: "Ticks;" }), /not valid/);
});
