import assert from "node:assert/strict";
import { MemoryLogger } from "../log.ts";
import type { Tick } from "../tick.ts";
import { openTickSource } from "./open_source.ts";
import { ManualClock } from "../time.ts";

async function all(ticks: AsyncIterable<Tick>): Promise<Tick[]> {
  const out: Tick[] = [];
  for await (const t of ticks) out.push(t);
  return out;
}

Deno.test("a CSV source streams every good row and keeps bad rows in a rejects file", async () => {
  const dir = await Deno.makeTempDir();
  const file = `${dir}/mixed.csv`;
  await Deno.writeTextFile(
    file,
    "Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD\n" +
      "NYA,2021-05-28,1,2,0.5,1.5,1.5,0,1.5\n" +
      "NYA,2021-02-30,1,2,0.5,1.5,1.5,0,1.5\n" +
      "HSI,2021-05-28,1,2,3,1.5,1.5,0,0.2\n" +
      "HSI,2021-05-31,1,2,0.5,1.5,1.5,0,0.2\n",
  );
  const logger = new MemoryLogger();
  const source = await openTickSource({ file, rejectsPath: `${dir}/rejects.csv`, logger });
  const ticks = await all(source.ticks);
  source.close();
  assert.deepEqual(ticks.map((t) => t.symbol), ["NYA", "HSI"]);
  assert.deepEqual(source.counts(), { rows: 4, rejected: 2 });
  assert.equal(source.rejectsPath, `${dir}/rejects.csv`);
  const rejects = await Deno.readTextFile(`${dir}/rejects.csv`);
  assert.match(rejects, /mixed\.csv,3,.*2021-02-30/);
  assert.match(rejects, /mixed\.csv,4,.*high 2 is below low 3/);
  assert.ok(logger.lines.some((l) => /mixed\.csv:3: /.test(l)));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a clean CSV leaves no rejects file, and --limit stops early", async () => {
  const dir = await Deno.makeTempDir();
  const rejectsPath = `${dir}/r.csv`;
  const source = await openTickSource({ file: "data/stock_data.csv", rejectsPath, limit: 10 });
  assert.equal((await all(source.ticks)).length, 10);
  source.close();
  await assert.rejects(Deno.stat(rejectsPath), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a missing file fails at once with what to do", async () => {
  await assert.rejects(openTickSource({ file: "nope.csv" }), /no such file.*generate-data/);
});

Deno.test("sample mode sends random rows of the source at the interval", async () => {
  const clock = new ManualClock();
  const source = await openTickSource({
    source: "simulate",
    mode: "sample",
    sampleIntervalMs: 1000,
    limit: 5,
    clock,
  });
  const ticks = await all(source.ticks);
  assert.equal(ticks.length, 5);
  assert.ok(clock.now() >= 4000, "five samples one second apart");
  assert.match(source.description, /random rows of the simulator/);
});

Deno.test("the simulator is live by default: ticks stamped with the clock's time, today's date", async () => {
  const now = Date.UTC(2026, 10, 30, 14, 0);
  const clock = new ManualClock({ start: now });
  const source = await openTickSource({ source: "simulate", symbols: 3, limit: 9, clock });
  const ticks = await all(source.ticks);
  assert.equal(ticks.length, 9);
  assert.deepEqual([...new Set(ticks.map((t) => t.ts))], [now, now + 1000, now + 2000]);
  assert.match(source.description, /simulator, live \(3 indices, a tick each every 1 s/);
});

Deno.test("the simulator with a start gives historical daily bars up to today, never repeated", async () => {
  const clock = new ManualClock({ start: Date.UTC(2021, 0, 11, 12) });
  const source = await openTickSource({
    source: "simulate",
    start: Date.UTC(2021, 0, 1),
    clock,
  });
  const ticks = await all(source.ticks);
  const days = [...new Set(ticks.map((t) => new Date(t.ts).toISOString().slice(0, 10)))];
  assert.deepEqual(days, [
    "2021-01-01", // Mumbai trades on New Year's Day
    "2021-01-04",
    "2021-01-05",
    "2021-01-06",
    "2021-01-07",
    "2021-01-08",
    "2021-01-11",
  ]);
  assert.deepEqual(
    ticks.filter((t) => t.ts === Date.UTC(2021, 0, 1)).map((t) => t.symbol),
    ["NSEI"],
  );
  assert.ok(!ticks.some((t) => t.symbol === "N225" && t.ts === Date.UTC(2021, 0, 11)));
  assert.match(source.description, /daily bars from 2021-01-01/);
  const sample = await openTickSource({
    source: "simulate",
    mode: "sample",
    sampleIntervalMs: 0,
    clock: new ManualClock(),
  });
  const sampled = await all(sample.ticks);
  assert.equal(
    new Set(sampled.map((t) => `${t.symbol}|${t.ts}`)).size,
    sampled.length,
    "sample mode sends no (symbol, ts) twice",
  );
  assert.match(sample.description, /each row once/);
});
