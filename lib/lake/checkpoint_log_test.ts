import assert from "node:assert/strict";
import { CheckpointLog, FencedError } from "./checkpoint_log.ts";
import { MemoryStore } from "./memory_store.ts";
import type { Store } from "./store.ts";
import { s3TestStore, tempLake } from "../testing/lake.ts";

const range = (start: number, end: number) => ({
  start: String(start),
  end: String(end),
  keys: [`ticks/dt=2021-01-04/t+0+${String(start).padStart(20, "0")}.parquet`],
});

function log(store: Store, writer: string): CheckpointLog {
  return new CheckpointLog({ store, group: "g", topic: "t", partition: 0, writer });
}

/** Six members claim at once; then only the one that claimed last may append. */
async function racingClaims(store: Store): Promise<void> {
  const first = log(store, "first");
  await first.claim();
  await first.append(range(0, 9));
  const members = Array.from({ length: 6 }, (_, i) => log(store, `m${i}`));
  const seen = await Promise.all(members.map((m) => m.claim()));
  for (const last of seen) assert.deepEqual(last, range(0, 9), "every claim copies the last range");
  const seqs = members.map((m) => m.seq);
  assert.equal(new Set(seqs).size, 6, `each claim won its own number: ${seqs}`);
  const owner = members[seqs.indexOf(Math.max(...seqs))];
  const results = await Promise.allSettled(
    [first, ...members].map((m) => m.append(range(10, 19))),
  );
  const won = results.filter((r) => r.status === "fulfilled");
  assert.equal(won.length, 1, "exactly one writer may append");
  assert.equal(results[[first, ...members].indexOf(owner)].status, "fulfilled");
  for (const r of results) {
    if (r.status === "rejected") assert.ok(r.reason instanceof FencedError, String(r.reason));
  }
  assert.deepEqual(await log(store, "next").claim(), range(10, 19));
}

Deno.test("checkpoint log: of racing claims the last one owns the partition (memory)", () =>
  racingClaims(new MemoryStore()));

Deno.test("checkpoint log: of racing claims the last one owns the partition (folder)", async () => {
  await using lake = await tempLake();
  await racingClaims(lake.store);
});

Deno.test("checkpoint log: of racing claims the last one owns the partition (S3 emulator)", async () => {
  await using store = await s3TestStore();
  await racingClaims(store);
});

Deno.test("checkpoint log keeps two entries and a fresh log claims with nothing to replay", async () => {
  const store = new MemoryStore();
  const owner = log(store, "a");
  assert.equal(await owner.claim(), undefined);
  for (let i = 0; i < 5; i++) await owner.append(range(i * 10, i * 10 + 9));
  assert.deepEqual(store.keys(), [
    "_sink/g/t+0/000000000005.json",
    "_sink/g/t+0/000000000006.json",
  ]);
  await assert.rejects(log(store, "b").append(range(0, 1)), /needs a claim first/);
});

Deno.test("checkpoint log: a create whose answer was lost counts as written", async () => {
  const store = new MemoryStore();
  let lostOnce = false;
  const flaky: Store = {
    uri: store.uri,
    put: (k, b) => store.put(k, b),
    putIfAbsent: async (k, b) => {
      const won = await store.putIfAbsent(k, b);
      if (!lostOnce && k.endsWith("2.json")) {
        lostOnce = true; // the write landed, its answer did not
        throw Object.assign(new Error("socket hang up"), { retriable: true });
      }
      return won;
    },
    get: (k) => store.get(k),
    list: (p) => store.list(p),
    delete: (k) => store.delete(k),
  };
  const owner = new CheckpointLog({
    store: flaky,
    group: "g",
    topic: "t",
    partition: 0,
    writer: "a",
    retry: async (operation) => {
      for (;;) {
        try {
          return await operation();
        } catch (error) {
          if (!(error as { retriable?: boolean }).retriable) throw error;
        }
      }
    },
  });
  await owner.claim();
  await owner.append(range(0, 9));
  assert.equal(owner.seq, 2);
});

Deno.test("checkpoint log migrates the single checkpoint of older versions", async () => {
  const store = new MemoryStore();
  await store.put("_sink/g/t+0.json", new TextEncoder().encode(JSON.stringify(range(5, 9))));
  assert.deepEqual(await log(store, "a").claim(), range(5, 9));
});
