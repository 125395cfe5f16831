import assert from "node:assert/strict";
import { decodeObject } from "./encode.ts";
import { MemoryStore } from "./memory_store.ts";
import { withPut } from "../testing/lake.ts";
import {
  FencedError,
  fetchedRows,
  LakeSink,
  type LakeSinkOptions,
  type SinkBatch,
} from "./sink.ts";
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

/** Offsets `first` to `first + count - 1` of `partition`, the tick of each from `tickOf`. */
function batch(
  partition: number,
  first: number,
  count: number,
  day = 0,
  tickOf = (offset: number) => tick(offset, day),
): SinkBatch {
  const offsets = Array.from({ length: count }, (_, i) => first + i);
  return {
    partition,
    firstOffset: BigInt(first),
    lastOffset: BigInt(first + count - 1),
    rows: fetchedRows(offsets.map((offset) => ({ offset, tick: tickOf(offset), size: 100 }))),
  };
}

/** A batch of partition 0 whose offsets 0..4 fall on one day and 5 and up on the next. */
function twoDayBatch(first: number, count: number): SinkBatch {
  return batch(0, first, count, 0, (offset) => tick(offset, offset >= 5 ? 1 : 0));
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
  assert.deepEqual(store.keys(), ["_sink/g/t+0/000000000001.json"], "only the claim");
  await sink.add(batch(0, 6, 6));
  assert.deepEqual(commits, [[0, 12n]]);
  assert.deepEqual(store.keys(), [
    "_sink/g/t+0/000000000001.json", // the claim
    "_sink/g/t+0/000000000002.json", // the range 0..11, written before its object
    "ticks/dt=2021-01-04/t+0+00000000000000000000.parquet",
  ]);
  assert.equal((await lakeRows(store)).length, 12);
  assert.equal(sink.stats.rowsWritten, 12);
});

Deno.test("sink splits a range by event date into one object per dt, all named by its start", async () => {
  const { store, sink } = setup({ flushRows: 4 });
  await sink.add(batch(1, 100, 4, 0, (offset) => tick(offset, offset >= 102 ? 1 : 0)));
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
  // First run: a time-based flush wrote offsets 0..9, then the process died before committing.
  const store = new MemoryStore();
  const crashed = setup({
    store,
    flushRows: 100,
    flushSeconds: 1,
    commit: () => Promise.reject(new Error("killed before the commit")),
  });
  await crashed.sink.add(twoDayBatch(0, 10));
  crashed.advance(1000);
  await assert.rejects(crashed.sink.flushDue(), /killed before the commit/);
  assert.equal((await lakeRows(store)).length, 10);

  // Second run: smaller flushes, and Kafka re-delivers from offset 0 in other chunks. Without the
  // checkpoint it would flush 0..2 and leave the old dt=2021-01-05 object beside a new one.
  const second = setup({ store, flushRows: 3 });
  await second.sink.add(twoDayBatch(0, 3));
  await second.sink.add(twoDayBatch(3, 9)); // offsets 3..11: crosses the recorded end (9)
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
  await sink.add({ partition: 2, firstOffset: 5n, lastOffset: 9n, rows: fetchedRows([]) });
  advance(1000);
  await sink.flushDue();
  assert.deepEqual(commits, [[2, 10n]]);
  assert.deepEqual(store.keys(), ["_sink/g/t+2/000000000001.json"], "only the claim");
});

Deno.test("sink refuses a run that does not continue its buffer and names where it continues", async () => {
  // kafkajs retries a failed batch from the offset it resolved, not from what is durable; the
  // old sink dropped its buffer on such a re-delivery and a later commit skipped those rows.
  const { store, sink, commits } = setup({ flushRows: 10 });
  assert.equal(await sink.add(batch(0, 0, 5)), true);
  assert.equal(await sink.add(batch(0, 2, 8)), false, "a re-delivery from inside the buffer");
  assert.equal(await sink.add(batch(0, 8, 5)), false, "a fetch that skips offsets 5..7");
  assert.equal(await sink.expect(0, 8n), 5n, "the caller seeks back to 5");
  assert.deepEqual(commits, []);
  assert.equal(await sink.add(batch(0, 5, 5)), true);
  assert.deepEqual(commits, [[0, 10n]]);
  const rows = await lakeRows(store);
  assert.deepEqual(rows.map((r) => r.ts), Array.from({ length: 10 }, (_, i) => tick(i).ts));
  assert.equal(sink.stats.refused, 3);
});

Deno.test("after a revoke the sink drops the buffer and resumes from the committed offset", async () => {
  let committed: bigint | undefined = undefined;
  const { store, sink, commits } = setup({
    flushRows: 10,
    committed: () => Promise.resolve(committed),
    commit: (partition, next) => {
      commits.push([partition, next]);
      committed = next;
      return Promise.resolve();
    },
  });
  await sink.add(batch(0, 0, 10));
  await sink.add(batch(0, 10, 5));
  sink.revoke(); // rebalance: rows 10..14 were never durable
  assert.equal(sink.stats.bufferedRows, 0);
  assert.equal(await sink.expect(0, 15n), 10n, "a fetch from the old position is sent back");
  assert.equal(await sink.add(batch(0, 10, 10)), true);
  assert.deepEqual(commits, [[0, 10n], [0, 20n]]);
  assert.equal(new Set((await lakeRows(store)).map((r) => r.ts)).size, 20);
});

Deno.test("sink rejects flush settings that are not positive", () => {
  assert.throws(() => setup({ flushRows: 0 }), /flushRows must be a positive number/);
});

Deno.test("sink widens dt to the first day of the month or year when asked", async () => {
  const { store, sink } = setup({ flushRows: 3, dtGranularity: "month" });
  // Offset 1 on 2021-01-24, offset 2 on 2021-02-13.
  await sink.add(batch(0, 0, 3, 0, (offset) => tick(offset, [0, 20, 40][offset])));
  assert.deepEqual(store.keys().filter((k) => k.startsWith("ticks/")), [
    "ticks/dt=2021-01-01/t+0+00000000000000000000.parquet",
    "ticks/dt=2021-02-01/t+0+00000000000000000000.parquet",
  ]);
});

Deno.test("a zombie's age-based flush after another member claimed its partition writes and commits nothing", async () => {
  // Member A buffers offsets 0..4, then freezes (SIGSTOP) past its session timeout. Member B is
  // given the partition, resumes at the committed offset 0 and writes 0..9. A wakes up and its
  // timer fires: the old sink wrote 0..4 under B's key t+0+0 and lost B's rows 5..9.
  const store = new MemoryStore();
  const a = setup({ store, flushRows: 100, flushSeconds: 1, writer: "A" });
  await a.sink.add(batch(0, 0, 5));
  const b = setup({ store, flushRows: 10, writer: "B" });
  await b.sink.add(batch(0, 0, 10));
  assert.deepEqual(b.commits, [[0, 10n]]);

  a.advance(1000);
  await assert.rejects(a.sink.flushDue(), FencedError);
  assert.deepEqual(a.commits, [], "the zombie commits nothing");
  assert.equal(a.sink.stats.fenced, 1);
  assert.equal(a.sink.stats.objectsWritten, 0);
  assert.equal(await a.sink.expect(0, 5n), "fenced");
  assert.equal(a.sink.position(0), "fenced");
  const rows = await lakeRows(store);
  assert.equal(rows.length, 10);
  assert.equal(new Set(rows.map((r) => r.ts)).size, 10);
});

Deno.test("a zombie that re-creates a pruned checkpoint number still finds the newer one and stops", async () => {
  const store = new MemoryStore();
  const a = setup({ store, flushRows: 100, flushSeconds: 1, writer: "A" });
  await a.sink.add(batch(0, 0, 5)); // A's claim is checkpoint 1
  const b = setup({ store, flushRows: 5, writer: "B" });
  for (let first = 0; first < 20; first += 5) await b.sink.add(batch(0, first, 5));
  // B claimed (2) and wrote four ranges (3..6), pruning everything below 5: number 2 is free.
  assert.deepEqual(store.keys().filter((k) => k.startsWith("_sink/")), [
    "_sink/g/t+0/000000000005.json",
    "_sink/g/t+0/000000000006.json",
  ]);
  a.advance(1000);
  await assert.rejects(a.sink.flushDue(), /checkpoint 6 is newer than ours \(2\)/);
  assert.deepEqual(a.commits, []);
  assert.equal(a.sink.stats.objectsWritten, 0);
  assert.equal(new Set((await lakeRows(store)).map((r) => r.ts)).size, 20);
});

Deno.test("a member frozen after its checkpoint writes late the same bytes the new owner wrote", async () => {
  // A records range 0..9 and freezes before its object write completes. B takes over at the
  // committed offset 0, finds that range in the log and writes exactly it. A's late write then
  // lands on the same key with the same bytes, and the broker refuses A's stale commit.
  const store = new MemoryStore();
  let release!: () => void;
  const frozen = new Promise<void>((resolve) => release = resolve);
  const slowStore = withPut(store, async (key, body) => {
    if (key.startsWith("ticks/")) await frozen;
    return store.put(key, body);
  });
  const a = setup({
    store: slowStore,
    flushRows: 10,
    writer: "A",
    commit: () => Promise.reject(new FencedError(0, "stale generation")),
  });
  const aAdding = a.sink.add(batch(0, 0, 10));
  await new Promise((resolve) => setTimeout(resolve, 20));
  const b = setup({ store, flushRows: 3, writer: "B" });
  for (let first = 0; first < 12; first += 4) await b.sink.add(batch(0, first, 4));
  await b.sink.flushAll();
  assert.deepEqual(b.commits, [[0, 10n], [0, 12n]], "B replays 0..9 whole, then goes on");
  const key = "ticks/dt=2021-01-04/t+0+00000000000000000000.parquet";
  const before = await store.get(key);
  release();
  await assert.rejects(aAdding, FencedError);
  assert.deepEqual(await store.get(key), before, "A's late write put the same bytes");
  assert.equal(a.sink.stats.fenced, 1);
  const rows = await lakeRows(store);
  assert.equal(rows.length, 12);
  assert.equal(new Set(rows.map((r) => r.ts)).size, 12);
});

Deno.test("a replay after changed settings writes the recorded range with its recorded settings", async () => {
  // Offsets 0..4 on 2021-01-04, 5..9 on 2021-01-05. Run 1 (Parquet, month partitions) records
  // 0..9 and dies before its commit. Run 2 comes back with JSON Lines, gzip and day partitions.
  const store = new MemoryStore();
  const crashed = setup({
    store,
    flushRows: 10,
    dtGranularity: "month",
    commit: () => Promise.reject(new Error("killed before the commit")),
  });
  await assert.rejects(crashed.sink.add(twoDayBatch(0, 10)), /killed/);

  const messages: string[] = [];
  const logger = { info: (m: string) => messages.push(m), warn: (m: string) => messages.push(m) };
  const second = setup({
    store,
    flushRows: 10,
    format: "jsonl",
    gzip: true,
    dtGranularity: "day",
    logger: logger as unknown as LakeSinkOptions["logger"],
  });
  await second.sink.add(twoDayBatch(0, 10));
  await second.sink.add(twoDayBatch(10, 10));
  assert.deepEqual(second.commits, [[0, 10n], [0, 20n]]);
  assert.deepEqual(store.keys().filter((k) => k.startsWith("ticks/")), [
    "ticks/dt=2021-01-01/t+0+00000000000000000000.parquet",
    "ticks/dt=2021-01-05/t+0+00000000000000000010.jsonl.gz",
  ]);
  const rows = await lakeRows(store);
  assert.equal(rows.length, 20);
  assert.equal(new Set(rows.map((r) => r.ts)).size, 20);
  assert.ok(
    messages.some((m) => /replaying .* 0\.\.9 .*format=parquet.*dtGranularity=month/.test(m)),
    messages.join("\n"),
  );
});

Deno.test("after a flush fails midway the same offsets are written again as exactly that range", async () => {
  // Offsets 0..9 are recorded and their write fails once for good (e.g. a heartbeat error while
  // the write hung). Rows 10..14 arrive before the retry: the next flush must still write 0..9
  // alone, so a late landing of the first attempt's write puts the same bytes.
  const store = new MemoryStore();
  const { sink, commits } = setup({ store, flushRows: 10 });
  let failures = 1;
  const put = store.put.bind(store);
  store.put = (key, body) =>
    failures-- > 0 ? Promise.reject(new Error("heartbeat lost")) : put(key, body);
  await assert.rejects(sink.add(batch(0, 0, 10)), /heartbeat lost/);
  assert.equal(await sink.add(batch(0, 10, 5)), true);
  assert.deepEqual(commits, [[0, 10n]], "0..9 written alone, 10..14 buffered");
  assert.deepEqual(store.keys().filter((k) => k.startsWith("ticks/")), [
    "ticks/dt=2021-01-04/t+0+00000000000000000000.parquet",
  ]);
  await sink.flushAll();
  assert.deepEqual(commits, [[0, 10n], [0, 15n]]);
  assert.equal(new Set((await lakeRows(store)).map((r) => r.ts)).size, 15);
});

Deno.test("sink tells where an owned partition continues without claiming one it does not own", async () => {
  const { store, sink } = setup({ flushRows: 100 });
  assert.equal(sink.position(0), undefined);
  await sink.add(batch(0, 0, 5));
  assert.equal(sink.position(0), 5n);
  assert.equal(sink.position(1), undefined);
  assert.deepEqual(store.keys(), ["_sink/g/t+0/000000000001.json"], "no claim of partition 1");
  sink.revoke([0]);
  assert.equal(sink.position(0), undefined);
});
