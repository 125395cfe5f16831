import assert from "node:assert/strict";
import { encodeTicks } from "../lake/encode.ts";
import { objectKey } from "../lake/layout.ts";
import { openLocalEngine } from "../query/local.ts";
import { tempLake } from "../testing/lake.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import { utcDate } from "../tick.ts";
import { chooseSource, curatedTables } from "./frames.ts";
import { transformLake } from "./transform.ts";

const TICKS = sampleTicks({ symbols: ["HSI", "ZZZ"], days: 10 });

Deno.test("SQL joins bars_daily with symbols beside ticks once the transform ran", async () => {
  await using lake = await tempLake();
  await writeTestLake(lake.store, TICKS);
  const before = await openLocalEngine({ store: lake.store, tables: curatedTables() });
  await assert.rejects(before.query("SELECT * FROM bars_daily"), /bars_daily/);

  await transformLake({ store: lake.store });
  const engine = await openLocalEngine({ store: lake.store, tables: curatedTables() });
  const result = await engine.query(`
    SELECT b.symbol, s.name, s.currency, COUNT(*) AS days, SUM(b.ticks) AS ticks
    FROM bars_daily b LEFT JOIN symbols s ON b.symbol = s.symbol
    GROUP BY b.symbol, s.name, s.currency ORDER BY b.symbol`);
  const days = (symbol: string) =>
    new Set(TICKS.filter((t) => t.symbol === symbol).map((t) => utcDate(t.ts))).size;
  assert.deepEqual(result.rows, [
    {
      symbol: "HSI",
      name: "Hang Seng Index",
      currency: "HKD",
      days: days("HSI"),
      ticks: TICKS.filter((t) => t.symbol === "HSI").length,
    },
    {
      symbol: "ZZZ",
      name: null,
      currency: null,
      days: days("ZZZ"),
      ticks: TICKS.filter((t) => t.symbol === "ZZZ").length,
    },
  ]);
  const ticks = await engine.query("SELECT COUNT(*) AS n FROM ticks");
  assert.equal(ticks.rows[0].n, TICKS.length, "ticks is still the main table");
});

Deno.test("auto reads bars_daily only while it is up to date with ticks, and only where it can", async () => {
  await using lake = await tempLake();
  await writeTestLake(lake.store, TICKS);
  assert.deepEqual(await chooseSource(lake.store, "ohlc"), {
    source: "ticks",
    reason: `bars_daily is behind ticks in ${
      new Set(TICKS.map((t) => utcDate(t.ts))).size
    } partition(s); run \`deno task transform\``,
  });
  await transformLake({ store: lake.store });
  assert.equal((await chooseSource(lake.store, "ohlc")).source, "bars_daily");
  assert.equal((await chooseSource(lake.store, "vwap")).source, "bars_daily");
  assert.equal((await chooseSource(lake.store, "sma")).source, "ticks");
  assert.equal((await chooseSource(lake.store, "ohlc", { requested: "ticks" })).source, "ticks");

  const day = utcDate(TICKS[0].ts);
  await lake.store.put(
    objectKey({ dt: day, topic: "stock_market", partition: 4, startOffset: 0, format: "parquet" }),
    encodeTicks([TICKS[0]], { format: "parquet" }),
  );
  const stale = await chooseSource(lake.store, "ohlc");
  assert.deepEqual(stale.source, "ticks");
  assert.match(stale.reason, /behind ticks in 1 partition/);
  const other = day < "2021-01-05" ? { from: "2021-01-06" } : { to: "2021-01-02" };
  assert.equal((await chooseSource(lake.store, "ohlc", other)).source, "bars_daily", "in range");
  const forced = await chooseSource(lake.store, "ohlc", { requested: "bars_daily" });
  assert.equal(forced.source, "bars_daily");
  assert.match(forced.reason, /although bars_daily is behind/);
});
