import assert from "node:assert/strict";
import { decodeObject } from "./encode.ts";
import { MemoryStore } from "./memory_store.ts";
import { LakeSink, type LakeSinkOptions, type SinkBatch, type SinkRecord } from "./sink.ts";
import type { Tick } from "../tick.ts";

const DAY = 86_400_000;

function tick(i: number, day = 0): Tick {
  return {
    symbol: `S${i % 3}`,
    ts: Date.UTC(2021, 0, 4) + day * DAY + i * 1000,
    open: 10 + i,
    high: 11 + i,
    low: 9 + i,
    close: 10.5 + i,
    adj_close: 10.5 + i,
    volume: i,
    close_usd: null,
  };
}

function batch(partition: number, first: number, count: number, day = 0): SinkBatch {
  const records: SinkRecord[] = [];
  for (let i = 0; i < count; i++) {
    records.push({
      offset: BigInt(first + i),
      tick: tick(first + i, day),
      timestamp: 0,
      size: 100,
    });
  }
  return {
    partition,
    firstOffset: BigInt(first),
    lastOffset: BigInt(first + count - 1),
    records,
  };
}

function setup(options: Partial<LakeSinkOptions> = {}) {
  const store = (options.store as MemoryStore) ?? new MemoryStore();
  const commits: [number, bigint][] = [];
  let now = 0;
  const sink = new LakeSink({
    store,
    topic: "t",
    group: "g",
    flushRows: 10,
    maxRetryDelayMs: 5,
    clock: { now: () => now },
    commit: (partition, next) => {
      commits.push([partition, next]);
      return Promise.resolve();
    },
    ...options,
  });
  return { store, sink, commits, advance: (ms: number) => now += ms };
}

async function lakeRows(store: MemoryStore): Promise<Tick[]> {
  const rows: Tick[] = [];
  for (const key of store.keys().filter((k) => k.startsWith("ticks/"))) {
    rows.push(...decodeObject(key, (await store.get(key))!));
  }
  return rows.sort((a, b) => a.ts - b.ts);
}

Deno.test("sink writes a range once it holds flushRows rows, then commits the next offset", async () => {
  const { store, sink, commits } = setup();
  await sink.add(batch(0, 0, 6));
  assert.deepEqual(commits, []);
  assert.deepEqual(store.keys(), []);
  await sink.add(batch(0, 6, 6));
  assert.deepEqual(commits, [[0, 12n]]);
  assert.deepEqual(store.keys(), [
    "_sink/g/t+0.json",
    "ticks/dt=2021-01-04/t+0+00000000000000000000.parquet",
  ]);
  assert.equal((await lakeRows(store)).length, 12);
  assert.equal(sink.stats.rowsWritten, 12);
});

Deno.test("sink splits a range by event date into one object per dt, all named by its start", async () => {
  const { store, sink } = setup({ flushRows: 4 });
  const b = batch(1, 100, 4);
  b.records[2].tick = tick(102, 1);
  b.records[3].tick = tick(103, 1);
  await sink.add(b);
  assert.deepEqual(store.keys().filter((k) => k.startsWith("ticks/")), [
    "ticks/dt=2021-01-04/t+1+00000000000000000100.parquet",
    "ticks/dt=2021-01-05/t+1+00000000000000000100.parquet",
  ]);
});

Deno.test("sink flushes an old partial range when no new data arrives (no stuck tail)", async () => {
  const { sink, commits, advance } = setup({ flushSeconds: 5 });
  await sink.add(batch(0, 0, 3));
  await sink.flushDue();
  assert.deepEqual(commits, []);
  advance(5000);
  await sink.flushDue();
  assert.deepEqual(commits, [[0, 3n]]);
});

Deno.test("sink replays an uncommitted range with the boundaries in its checkpoint", async () => {
  // Offsets 0..4 fall on one day, 5..9 on the next, so a range writes two objects.
  const twoDays = (first: number, count: number) => {
    const b = batch(0, first, count);
    for (const r of b.records) r.tick = tick(Number(r.offset), r.offset >= 5n ? 1 : 0);
    return b;
  };
  // First run: a time-based flush wrote offsets 0..9, then the process died before committing.
  const store = new MemoryStore();
  const crashed = setup({
    store,
    flushRows: 100,
    flushSeconds: 1,
    commit: () => Promise.reject(new Error("killed before the commit")),
  });
  await crashed.sink.add(twoDays(0, 10));
  crashed.advance(1000);
  await assert.rejects(crashed.sink.flushDue(), /killed before the commit/);
  assert.equal((await lakeRows(store)).length, 10);

  // Second run: smaller flushes, and Kafka re-delivers from offset 0 in other chunks. Without the
  // checkpoint it would flush 0..2 and leave the old dt=2021-01-05 object beside a new one.
  const second = setup({ store, flushRows: 3 });
  await second.sink.add(twoDays(0, 3));
  await second.sink.add(twoDays(3, 9)); // offsets 3..11: crosses the recorded end (9)
  assert.deepEqual(second.commits, [[0, 10n]]);
  await second.sink.flushAll();
  assert.deepEqual(second.commits, [[0, 10n], [0, 12n]]);
  const rows = await lakeRows(store);
  assert.equal(rows.length, 12, "offsets 0..11 written exactly once");
  assert.equal(new Set(rows.map((r) => r.ts)).size, 12);
});

Deno.test("sink retries a store that fails for a while and commits only after the write", async () => {
  const store = new MemoryStore();
  const { sink, commits } = setup({ store, flushRows: 2 });
  store.failNext(3, ["put"]);
  await sink.add(batch(0, 0, 2));
  assert.deepEqual(commits, [[0, 2n]]);
  assert.equal((await lakeRows(store)).length, 2);
});

Deno.test("sink commits nothing when the store fails for good", async () => {
  const store = new MemoryStore();
  const { sink, commits } = setup({ store, flushRows: 2 });
  store.put = () => Promise.reject(new Error("Access denied"));
  await assert.rejects(sink.add(batch(0, 0, 2)), /Access denied/);
  assert.deepEqual(commits, []);
});

Deno.test("sink commits a range of only poison messages without writing objects", async () => {
  const { store, sink, commits, advance } = setup({ flushSeconds: 1 });
  await sink.add({ partition: 2, firstOffset: 5n, lastOffset: 9n, records: [] });
  advance(1000);
  await sink.flushDue();
  assert.deepEqual(commits, [[2, 10n]]);
  assert.deepEqual(store.keys(), []);
});

Deno.test("sink drops its uncommitted buffer when Kafka re-delivers from an earlier offset", async () => {
  const { store, sink, commits } = setup({ flushRows: 10 });
  await sink.add(batch(0, 0, 5));
  await sink.add(batch(0, 0, 10)); // rebalance: re-delivery from the committed offset 0
  assert.deepEqual(commits, [[0, 10n]]);
  assert.equal((await lakeRows(store)).length, 10);
});

Deno.test("sink rejects flush settings that are not positive", () => {
  assert.throws(() => setup({ flushRows: 0 }), /flushRows must be a positive number/);
});

Deno.test("sink widens dt to the first day of the month or year when asked", async () => {
  const { store, sink } = setup({ flushRows: 3, dtGranularity: "month" });
  const b = batch(0, 0, 3);
  b.records[1].tick = tick(1, 20); // 2021-01-24
  b.records[2].tick = tick(2, 40); // 2021-02-13
  await sink.add(b);
  assert.deepEqual(store.keys().filter((k) => k.startsWith("ticks/")), [
    "ticks/dt=2021-01-01/t+0+00000000000000000000.parquet",
    "ticks/dt=2021-02-01/t+0+00000000000000000000.parquet",
  ]);
});
