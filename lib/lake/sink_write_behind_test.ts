/**
 * The sink with `writeBehind` (the ingest job's setting): `add` returns once a due range's flush
 * started, and every promise of the plain sink still holds: offsets are committed only once their
 * range is durable, a failed write is retried as exactly that range, a revoke stops a write in
 * flight and nothing of it is committed.
 */
import assert from "node:assert/strict";
import { decodeObject } from "./encode.ts";
import { MemoryStore } from "./memory_store.ts";
import { fetchedRows, LakeSink, type LakeSinkOptions, type SinkBatch } from "./sink.ts";
import type { Tick } from "../tick.ts";

function batch(partition: number, first: number, count: number): SinkBatch {
  const records = Array.from({ length: count }, (_, i) => {
    const offset = first + i;
    const tick: Tick = {
      symbol: `S${offset % 3}`,
      ts: Date.UTC(2021, 0, 4) + partition * 3_600_000 + offset * 1000,
      open: 10,
      high: 11,
      low: 9,
      close: 10.5,
      adj_close: 10.5,
      volume: offset,
      close_usd: null,
    };
    return { offset, tick, size: 100 };
  });
  return {
    partition,
    firstOffset: BigInt(first),
    lastOffset: BigInt(first + count - 1),
    rows: fetchedRows(records),
  };
}

/** A store whose object writes wait until `open()` (checkpoint writes go through). */
class GatedStore extends MemoryStore {
  #gate = Promise.withResolvers<void>();
  /** Object writes that started and wait at the gate. */
  waiting = 0;
  /** Fail the next object writes with this error once the gate opens. */
  failWith?: Error;

  override async put(key: string, body: Uint8Array): Promise<void> {
    if (key.startsWith("ticks/")) {
      this.waiting++;
      await this.#gate.promise;
      this.waiting--;
      const failure = this.failWith;
      this.failWith = undefined;
      if (failure) throw failure;
    }
    return super.put(key, body);
  }

  open(): void {
    this.#gate.resolve();
  }

  close(): void {
    this.#gate = Promise.withResolvers<void>();
  }
}

function setup(options: Partial<LakeSinkOptions> = {}) {
  const store = new GatedStore();
  const commits: [number, bigint][] = [];
  const committed = new Map<number, bigint>();
  const sink = new LakeSink({
    store,
    topic: "t",
    group: "g",
    flushRows: 10,
    maxRetryDelayMs: 5,
    writeBehind: true,
    committed: (partition) => Promise.resolve(committed.get(partition) ?? 0n),
    commit: (partition, next) => {
      commits.push([partition, next]);
      committed.set(partition, next);
      return Promise.resolve();
    },
    ...options,
  });
  return { store, sink, commits };
}

async function lakeOffsets(store: MemoryStore): Promise<number[]> {
  const volumes: number[] = [];
  for (const key of store.keys().filter((k) => k.startsWith("ticks/"))) {
    volumes.push(...decodeObject(key, (await store.get(key))!).map((t) => t.volume!));
  }
  return volumes.sort((a, b) => a - b);
}

/** Lets the sink's background work run up to its next wait. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("write-behind: add returns while its range is written; the commit waits for the write", async () => {
  const { store, sink, commits } = setup();
  assert.equal(await sink.add(batch(0, 0, 10)), true, "returns with the write in flight");
  await tick();
  assert.equal(store.waiting, 1);
  assert.deepEqual(commits, [], "nothing committed before the object is durable");
  assert.equal(await sink.add(batch(0, 10, 5)), true, "the next rows are taken meanwhile");
  store.open();
  await sink.flushAll();
  assert.deepEqual(commits, [[0, 10n], [0, 15n]]);
  assert.deepEqual(await lakeOffsets(store), Array.from({ length: 15 }, (_, i) => i));
});

Deno.test("write-behind: one flush in flight at a time, the next due range waits for it", async () => {
  const { store, sink, commits } = setup();
  await sink.add(batch(0, 0, 10));
  let second = false;
  const adding = sink.add(batch(1, 0, 10)).then(() => second = true);
  await tick();
  assert.equal(second, false, "partition 1's full range waits for partition 0's write");
  assert.equal(store.waiting, 1);
  store.open();
  await adding;
  await sink.flushAll();
  assert.deepEqual(commits.sort(), [[0, 10n], [1, 10n]]);
});

Deno.test("write-behind: a failed write is thrown by the next call and rewritten as exactly its range", async () => {
  const { store, sink, commits } = setup();
  store.failWith = new Error("Access denied");
  await sink.add(batch(0, 0, 10));
  assert.equal(await sink.add(batch(0, 10, 5)), true, "taken while 0..9 is written");
  store.open();
  await tick();
  await assert.rejects(sink.add(batch(0, 15, 5)), /Access denied/, "the next call hears of it");
  assert.deepEqual(commits, []);
  // The rows added since are dropped: the consumer is sent back to offset 10.
  assert.equal(await sink.expect(0, 20n), 10n);
  assert.equal(await sink.add(batch(0, 10, 10)), true, "0..9 is written alone, then 10..19");
  await sink.flushAll();
  assert.deepEqual(commits, [[0, 10n], [0, 20n]]);
  assert.deepEqual(await lakeOffsets(store), Array.from({ length: 20 }, (_, i) => i));
  assert.deepEqual(store.keys().filter((k) => k.startsWith("ticks/")), [
    "ticks/dt=2021-01-04/t+0+00000000000000000000.parquet",
    "ticks/dt=2021-01-04/t+0+00000000000000000010.parquet",
  ]);
});

Deno.test("write-behind: a revoke stops a write in flight, commits nothing and the next owner waits for it", async () => {
  const { store, sink, commits } = setup();
  await sink.add(batch(0, 0, 10));
  await tick();
  sink.revoke(); // a rebalance while offsets 0..9 are written
  let claimed = false;
  const expecting = sink.expect(0, 10n).then((at) => {
    claimed = true;
    return at;
  });
  await tick();
  assert.equal(claimed, false, "the claim waits for the revoked writer's write");
  store.open();
  assert.equal(await expecting, 0n, "resumes at the committed offset, nothing of 0..9 committed");
  assert.deepEqual(commits, []);
  assert.equal(await sink.add(batch(0, 0, 10)), true, "no error of the old write is reported");
  await sink.flushAll();
  assert.deepEqual(commits, [[0, 10n]]);
  assert.deepEqual(await lakeOffsets(store), Array.from({ length: 10 }, (_, i) => i));
});

Deno.test("write-behind: an age-based flush queued right behind add does not write the range twice", async () => {
  let now = 0;
  const { store, sink, commits } = setup({ flushSeconds: 1, clock: { now: () => now += 1000 } });
  store.open();
  await sink.add(batch(0, 0, 10));
  await sink.flushAll();
  // The consumer's add heartbeats while it waits for the partition's last flush, which gives the
  // timer room to cut in before the next range's write took its buffer.
  const adding = sink.add(batch(0, 10, 10), { heartbeat: () => Promise.resolve() });
  const aged = sink.flushDue();
  await adding;
  await aged;
  await sink.flushAll();
  assert.deepEqual(commits, [[0, 10n], [0, 20n]]);
  assert.deepEqual(await lakeOffsets(store), Array.from({ length: 20 }, (_, i) => i));
});
