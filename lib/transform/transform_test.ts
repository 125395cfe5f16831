import assert from "node:assert/strict";
import { encodeTicks } from "../lake/encode.ts";
import { objectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { collect, tempLake } from "../testing/lake.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import { type Tick, utcDate } from "../tick.ts";
import { BARS_DAILY, decodeCurated } from "./bars_daily.ts";
import { curatedTableKey, tablePartitions } from "./publish.ts";
import { readState } from "./state.ts";
import { SYMBOLS } from "./symbols.ts";
import { transformLake } from "./transform.ts";

// Expected values are computed here with plain loops over the ticks (no Polars).

const TICKS = sampleTicks({ symbols: ["HSI", "B.X", "000001.SS"], days: 30 });

interface Bar {
  symbol: string;
  day: string;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number | null;
  close_usd: number | null;
  volume: number | null;
  vwap: number | null;
  ticks: number;
  first_ts: number;
  last_ts: number;
}

function expectedBars(ticks: readonly Tick[]): Bar[] {
  const groups = new Map<string, Tick[]>();
  for (const tick of [...ticks].sort((a, b) => a.ts - b.ts)) {
    const key = `${tick.symbol}|${utcDate(tick.ts)}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(tick);
  }
  const bars: Bar[] = [];
  for (const [key, day] of groups) {
    const [symbol, date] = key.split("|");
    let open = null, high = null, low = null, close = null, closeUsd = null;
    let volume: number | null = null, weighted = 0;
    for (const t of day) {
      if (open === null && t.open !== null) open = t.open;
      if (t.high !== null && (high === null || t.high > high)) high = t.high;
      if (t.low !== null && (low === null || t.low < low)) low = t.low;
      if (t.close !== null) [close, closeUsd] = [t.close, t.close_usd];
      if (t.volume !== null) {
        volume = (volume ?? 0) + t.volume;
        const typical = t.high !== null && t.low !== null && t.close !== null
          ? (t.high + t.low + t.close) / 3
          : t.close;
        if (typical !== null) weighted += typical * t.volume;
      }
    }
    bars.push({
      symbol,
      day: date,
      open,
      high,
      low,
      close,
      close_usd: closeUsd,
      volume,
      vwap: volume ? weighted / volume : null,
      ticks: day.length,
      first_ts: day[0].ts,
      last_ts: day.at(-1)!.ts,
    });
  }
  return bars.sort((a, b) =>
    a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.day < b.day ? -1 : 1
  );
}

/** Every bars_daily row the readers see, with its partition, sorted like expectedBars. */
async function readBars(store: Store): Promise<(Bar & { dt: string })[]> {
  const rows: (Bar & { dt: string })[] = [];
  for (const [dt, objects] of await tablePartitions(store, BARS_DAILY)) {
    assert.equal(objects.length, 1, `bars_daily dt=${dt} has one live object`);
    const frame = decodeCurated((await store.get(objects[0].key))!);
    for (const r of frame.toRecords()) {
      rows.push({
        ...(r as unknown as Bar),
        day: (r.day as unknown as Date).toISOString().slice(0, 10),
        ticks: Number(r.ticks),
        first_ts: (r.first_ts as unknown as Date).getTime(),
        last_ts: (r.last_ts as unknown as Date).getTime(),
        dt,
      });
    }
  }
  return rows.sort((a, b) =>
    a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.day < b.day ? -1 : 1
  );
}

function assertClose(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === "number" && typeof actual === "number") {
    assert.ok(
      Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)),
      `${where}: ${actual} != ${expected}`,
    );
  } else assert.deepEqual(actual, expected, where);
}

function assertBars(actual: Bar[], expected: Bar[]): void {
  assert.equal(actual.length, expected.length, "bar count");
  expected.forEach((bar, i) => {
    for (const [column, value] of Object.entries(bar)) {
      assertClose(
        actual[i][column as keyof Bar],
        value,
        `${bar.symbol} ${bar.day} ${column}`,
      );
    }
  });
}

/** Every object of the lake with its bytes, to compare lakes and runs. */
async function snapshot(store: Store): Promise<Map<string, string>> {
  const objects = new Map<string, string>();
  for (const { key } of await collect(store.list(""))) {
    objects.set(key, new TextDecoder("latin1").decode(await store.get(key)));
  }
  return objects;
}

Deno.test("bars_daily and symbols match plain loops over the ticks", async () => {
  await using lake = await tempLake();
  await writeTestLake(lake.store, TICKS, { objectsPerPartition: 3 });
  const report = await transformLake({ store: lake.store });
  const days = new Set(TICKS.map((t) => utcDate(t.ts)));
  assert.equal(report.partitions, days.size);
  assert.equal(report.rebuilt.length, days.size);
  assert.equal(report.symbols, "written");

  const bars = await readBars(lake.store);
  assertBars(bars, expectedBars(TICKS));
  for (const bar of bars) assert.equal(bar.dt, bar.day, "a bar lies in the dt of its day");
  assert.ok(bars.some((b) => b.open === null || b.volume === 0), "the sample has gaps to handle");

  const symbols = decodeCurated((await lake.store.get(curatedTableKey(SYMBOLS)))!).toRecords();
  assert.deepEqual(
    symbols.map((s) => s.symbol),
    ["000001.SS", "B.X", "HSI", ...[
      "GDAXI",
      "GSPTSE",
      "IXIC",
      "J203.JO",
      "KS11",
      "N100",
      "N225",
      "NSEI",
      "NYA",
      "SSMI",
      "TWII",
      "399001.SZ",
    ]].sort(),
  );
  for (const row of symbols) {
    const seen = expectedBars(TICKS).filter((b) => b.symbol === row.symbol && b.close !== null);
    const last = seen.at(-1);
    assertClose(row.last_close ?? null, last?.close ?? null, `${row.symbol} last_close`);
    assertClose(
      row.last_close_usd ?? null,
      last?.close_usd ?? null,
      `${row.symbol} last_close_usd`,
    );
    assert.equal(row.days === null ? 0 : Number(row.days), seen.length, `${row.symbol} days`);
  }
  const hsi = symbols.find((s) => s.symbol === "HSI")!;
  assert.deepEqual([hsi.name, hsi.exchange, hsi.country, hsi.currency], [
    "Hang Seng Index",
    "Hong Kong Stock Exchange",
    "Hong Kong",
    "HKD",
  ]);
  assert.equal(symbols.find((s) => s.symbol === "B.X")!.name, null, "unknown symbols still listed");
  assert.ok(symbols.find((s) => s.symbol === "000001.SS")!.last_close_usd, "close_usd carried");
  assert.equal(symbols.find((s) => s.symbol === "NYA")!.last_close, null, "never seen: no close");
});

Deno.test("daily source bars are copied: same prices, one tick, first = last = the bar's time", async () => {
  await using lake = await tempLake();
  const daily = TICKS.map((t) => ({ ...t, ts: Date.parse(`${utcDate(t.ts)}T00:00:00Z`) }))
    .filter((t, i, all) => all.findIndex((u) => u.symbol === t.symbol && u.ts === t.ts) === i);
  await writeTestLake(lake.store, daily, { format: "jsonl" });
  await transformLake({ store: lake.store });
  const bars = await readBars(lake.store);
  assert.equal(bars.length, daily.length);
  for (const bar of bars) {
    const tick = daily.find((t) => t.symbol === bar.symbol && utcDate(t.ts) === bar.day)!;
    for (const column of ["open", "high", "low", "close", "close_usd", "volume"] as const) {
      assert.equal(bar[column], tick[column], `${bar.symbol} ${bar.day} ${column}`);
    }
    assert.deepEqual([bar.ticks, bar.first_ts, bar.last_ts], [1, tick.ts, tick.ts]);
  }
});

Deno.test("changing one day's ticks rebuilds only that day; other objects stay byte for byte", async () => {
  await using lake = await tempLake();
  await writeTestLake(lake.store, TICKS);
  await transformLake({ store: lake.store });
  const before = await snapshot(lake.store);

  const day = utcDate(TICKS[0].ts);
  const late = { ...TICKS[0], ts: Date.parse(`${day}T23:59:59.999Z`), close: 1234.5, high: 9999 };
  const key = objectKey({
    dt: day,
    topic: "stock_market",
    partition: 7,
    startOffset: 0,
    format: "parquet",
  });
  await lake.store.put(key, encodeTicks([late], { format: "parquet" }));

  const report = await transformLake({ store: lake.store });
  assert.deepEqual(report.rebuilt, [day]);
  assert.deepEqual(report.written, [day]);
  assertBars(await readBars(lake.store), expectedBars([...TICKS, late]));

  const after = await snapshot(lake.store);
  for (const [object, bytes] of before) {
    if (object.startsWith(`${BARS_DAILY}/dt=${day}/`) || object.startsWith("_transform/")) continue;
    if (object.startsWith(`${SYMBOLS}/`)) continue;
    assert.equal(after.get(object), bytes, `${object} unchanged`);
  }
  const state = await readState(lake.store, BARS_DAILY);
  assert.equal(Object.keys(state.partitions).length, new Set(TICKS.map((t) => utcDate(t.ts))).size);

  // The replaced object stays for the grace period, then a later run deletes it.
  const replaced = `${BARS_DAILY}/dt=${day}/${BARS_DAILY}.parquet`;
  assert.ok(after.has(replaced), "kept while queries that listed before the switch may read it");
  assert.deepEqual((await transformLake({ store: lake.store })).collected, []);
  const later = await transformLake({ store: lake.store, graceMs: 0 });
  assert.deepEqual([later.collected, later.rebuilt], [[replaced], []]);
  assert.equal(await lake.store.get(replaced), undefined);
  assertBars(await readBars(lake.store), expectedBars([...TICKS, late]));
});

Deno.test("a second run writes nothing, --full rewrites nothing, a fresh lake gets the same bytes", async () => {
  await using first = await tempLake();
  await using second = await tempLake();
  for (const lake of [first, second]) await writeTestLake(lake.store, TICKS);
  await transformLake({ store: first.store });
  const once = await snapshot(first.store);

  const again = await transformLake({ store: first.store });
  assert.deepEqual([again.rebuilt, again.written, again.symbols], [[], [], "unchanged"]);
  assert.deepEqual(await snapshot(first.store), once);

  const full = await transformLake({ store: first.store, full: true });
  assert.equal(full.rebuilt.length, again.partitions);
  assert.deepEqual([full.written, full.symbols], [[], "unchanged"]);
  assert.deepEqual(await snapshot(first.store), once);

  await transformLake({ store: second.store, concurrency: 1 });
  assert.deepEqual(await snapshot(second.store), once, "same ticks, same objects and bytes");
});

Deno.test("--from/--to limit the rebuild; a day whose ticks are gone loses its bars", async () => {
  await using lake = await tempLake();
  const keys = await writeTestLake(lake.store, TICKS);
  const days = [...new Set(TICKS.map((t) => utcDate(t.ts)))].sort();
  const some = await transformLake({ store: lake.store, from: days[2], to: days[4] });
  assert.deepEqual(some.rebuilt, days.slice(2, 5));
  const rest = await transformLake({ store: lake.store });
  assert.equal(rest.rebuilt.length, days.length - 3);

  for (const key of keys.filter((k) => k.includes(`dt=${days[1]}/`))) await lake.store.delete(key);
  const report = await transformLake({ store: lake.store });
  assert.deepEqual([report.rebuilt, report.removed], [[], [days[1]]]);
  const left = await readBars(lake.store);
  assert.ok(!left.some((b) => b.dt === days[1]));
  assertBars(left, expectedBars(TICKS.filter((t) => utcDate(t.ts) !== days[1])));
});

Deno.test("bad ranges and a lake without ticks are refused with what to do", async () => {
  await using lake = await tempLake();
  await assert.rejects(transformLake({ store: lake.store }), /no ticks .*deno task consume/);
  await writeTestLake(lake.store, TICKS.slice(0, 5));
  await assert.rejects(
    transformLake({ store: lake.store, from: "2021-02-01", to: "2021-01-01" }),
    /--from 2021-02-01 is after --to 2021-01-01/,
  );
  await assert.rejects(transformLake({ store: lake.store, to: "31/01/2021" }), /use YYYY-MM-DD/);
});
