import assert from "node:assert/strict";
import { columnsToTicks, fetchedRows, TickRows, ticksToColumns } from "./tick_rows.ts";
import { decodeParquet, encodeColumns, encodeParquet, encodeTicks } from "./encode.ts";
import type { Tick } from "../tick.ts";

function tick(i: number, nulls = false): Tick {
  return {
    symbol: `S${i % 7}`,
    ts: Date.UTC(2021, 0, 1) + i * 60_000,
    open: nulls && i % 3 === 0 ? null : i + 0.25,
    high: i + 1.5,
    low: nulls && i % 5 === 0 ? null : i === 3 ? -0 : i,
    close: i + 1,
    adj_close: nulls ? null : i + 1,
    volume: i % 2 === 0 ? 0 : null,
    close_usd: (i + 1) * 0.1,
  };
}

Deno.test("TickRows gives back every row it took, nulls and -0 included, past its growth steps", () => {
  const ticks = Array.from({ length: 5000 }, (_, i) => tick(i, true));
  const rows = new TickRows();
  ticks.forEach((t, i) => rows.push(t, 1_000 + i));
  assert.equal(rows.length, 5000);
  assert.deepEqual(Array.from({ length: rows.length }, (_, i) => rows.tick(i)), ticks);
  assert.ok(Object.is(rows.tick(3).low, -0));
  assert.equal(rows.ingest[4999], 5999);
  assert.deepEqual(columnsToTicks(rows.columns()), ticks);
  assert.deepEqual(columnsToTicks(ticksToColumns(ticks)), ticks);
});

Deno.test("TickRows.select picks rows in the order asked, as columns of their own", () => {
  const rows = new TickRows();
  for (let i = 0; i < 10; i++) rows.push(tick(i, true), i);
  const picked = rows.select([7, 2, 9]);
  assert.equal(picked.length, 3);
  assert.deepEqual(columnsToTicks(picked), [tick(7, true), tick(2, true), tick(9, true)]);
  // Its own arrays: later rows of the table do not reach it.
  rows.push(tick(10), 10);
  assert.equal(picked.times.length, 3);
});

Deno.test("columns encode to the same Parquet and JSON Lines bytes as the ticks do", () => {
  const ticks = Array.from({ length: 300 }, (_, i) => tick(i, true));
  const rows = new TickRows();
  for (const t of ticks) rows.push(t, 0);
  const parquet = encodeColumns(rows.columns(), { format: "parquet" });
  assert.deepEqual(parquet, encodeParquet(ticks));
  assert.deepEqual(decodeParquet(parquet), ticks);
  assert.deepEqual(
    encodeColumns(rows.columns(), { format: "jsonl", gzip: true }),
    encodeTicks(ticks, { format: "jsonl", gzip: true }),
  );
  assert.throws(() => encodeColumns(rows.columns(), { format: "parquet", gzip: true }), /gzip/i);
});

Deno.test("fetched rows append to a table in ranges, growing it as needed", () => {
  const ticks = Array.from({ length: 3000 }, (_, i) => tick(i, true)); // past the first capacity
  const fetched = fetchedRows(ticks.map((tick, i) => ({ offset: i, tick, timestamp: 100 + i })));
  const rows = new TickRows();
  rows.append(fetched, 0, 10);
  rows.append(fetched, 10, 10); // nothing
  rows.append(fetched, 10, ticks.length);
  assert.equal(rows.length, ticks.length);
  assert.deepEqual(columnsToTicks(rows.columns()), ticks);
  assert.deepEqual([...rows.ingest.subarray(0, 3)], [100, 101, 102]);
  assert.deepEqual(fetched.offsets.subarray(0, 3), Float64Array.of(0, 1, 2));
});
