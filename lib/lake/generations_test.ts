import assert from "node:assert/strict";
import {
  beginGeneration,
  collectGarbage,
  GenerationConflictError,
  isDataKey,
  ManifestError,
  manifestKey,
  partitionOf,
  publishGeneration,
  readPartition,
  readTable,
} from "./generations.ts";
import { MemoryStore } from "./memory_store.ts";
import type { Store, StoredObject } from "./store.ts";
import { collect, s3TestStore, tempLake } from "../testing/lake.ts";

const P = "ticks/dt=2021-06-01/";
const bytes = (text: string) => new TextEncoder().encode(text);

async function put(store: Store, key: string, text = key): Promise<StoredObject> {
  await store.put(key, bytes(text));
  return { key, size: bytes(text).length };
}

const keysOf = (objects: StoredObject[]) => objects.map((o) => o.key);

Deno.test("reader rule without a manifest: data objects directly in the partition", async () => {
  const store = new MemoryStore();
  await put(store, `${P}t+0+00000000000000000000.parquet`);
  await put(store, `${P}t+0+00000000000000000010.jsonl.gz`);
  await put(store, `${P}_SUCCESS`);
  await put(store, `${P}_hidden.parquet`);
  await put(store, `${P}.tmp.parquet`);
  await put(store, `${P}notes.txt`);
  await put(store, `${P}_g000001-abc/part-00000.parquet`); // an unpublished generation
  const view = await readPartition(store, P);
  assert.equal(view.manifest, undefined);
  assert.deepEqual(keysOf(view.objects), [
    `${P}t+0+00000000000000000000.parquet`,
    `${P}t+0+00000000000000000010.jsonl.gz`,
  ]);
});

Deno.test("publishing switches readers from the replaced objects to the new generation", async () => {
  const store = new MemoryStore();
  const a = await put(store, `${P}t+0+00000000000000000000.parquet`);
  const b = await put(store, `${P}t+0+00000000000000000010.parquet`);
  const draft = await beginGeneration(store, P, { runId: "r1" });
  assert.equal(draft.generation, 1);
  assert.equal(draft.folder, `${P}_g000001-r1/`);
  assert.deepEqual(draft.live, [a, b]);
  const merged = await put(store, `${draft.folder}part-00000.parquet`, "ab");
  // Written but not published: readers still see the inputs only.
  assert.deepEqual(keysOf((await readPartition(store, P)).objects), [a.key, b.key]);
  const late = await put(store, `${P}t+0+00000000000000000020.parquet`);
  const manifest = await publishGeneration(store, draft, {
    objects: [merged],
    replace: [a.key, b.key],
    now: () => Date.UTC(2021, 5, 2),
  });
  assert.equal(manifest.publishedAt, "2021-06-02T00:00:00.000Z");
  const view = await readPartition(store, P);
  assert.equal(view.manifest?.generation, 1);
  assert.deepEqual(view.objects, [merged, late]);
  // A writer that replays an already replaced key does not bring its rows back.
  await put(store, a.key);
  assert.deepEqual(keysOf((await readPartition(store, P)).objects), [merged.key, late.key]);
});

Deno.test("replace is cumulative and older generations stop counting", async () => {
  const store = new MemoryStore();
  const a = await put(store, `${P}a.parquet`);
  const first = await beginGeneration(store, P, { runId: "one" });
  const g1 = await put(store, `${first.folder}part-00000.parquet`);
  await publishGeneration(store, first, { objects: [g1], replace: [a.key] });
  const b = await put(store, `${P}b.parquet`);
  const second = await beginGeneration(store, P, { runId: "two" });
  assert.deepEqual(second.live, [g1, b]);
  const g2 = await put(store, `${second.folder}part-00000.parquet`);
  const manifest = await publishGeneration(store, second, { objects: [g2], replace: [b.key] });
  assert.deepEqual(manifest.replace, [a.key, b.key]);
  await put(store, a.key);
  assert.deepEqual((await readPartition(store, P)).objects, [g2]);
});

Deno.test("of two writers building on one generation exactly one publishes", async () => {
  const store = new MemoryStore();
  const a = await put(store, `${P}a.parquet`);
  const one = await beginGeneration(store, P, { runId: "one" });
  const two = await beginGeneration(store, P, { runId: "two" });
  assert.notEqual(one.folder, two.folder);
  const o1 = await put(store, `${one.folder}part-00000.parquet`);
  const o2 = await put(store, `${two.folder}part-00000.parquet`);
  const results = await Promise.allSettled([
    publishGeneration(store, one, { objects: [o1], replace: [a.key] }),
    publishGeneration(store, two, { objects: [o2], replace: [a.key] }),
  ]);
  assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
  assert.ok(lost.reason instanceof GenerationConflictError);
  assert.equal((await readPartition(store, P)).objects.length, 1);
});

Deno.test("publishing refuses objects outside the draft folder and foreign replaced keys", async () => {
  const store = new MemoryStore();
  const draft = await beginGeneration(store, P);
  await assert.rejects(
    publishGeneration(store, draft, { objects: [{ key: `${P}x.parquet`, size: 1 }], replace: [] }),
    ManifestError,
  );
  await assert.rejects(
    publishGeneration(store, draft, { objects: [], replace: ["ticks/dt=2021-06-02/x.parquet"] }),
    /only data objects directly in/,
  );
  await assert.rejects(beginGeneration(store, P, { runId: "Bad Id" }), /Invalid run id/);
  assert.throws(() => manifestKey("ticks/dt=2021-06-01", 1), /ending in \//);
});

Deno.test("garbage waits for the grace period, then removes what is dead and keeps drafts ahead", async () => {
  const store = new MemoryStore();
  const a = await put(store, `${P}a.parquet`);
  const first = await beginGeneration(store, P, { runId: "one" });
  const g1 = await put(store, `${first.folder}part-00000.parquet`);
  await publishGeneration(store, first, { objects: [g1], replace: [a.key], now: () => 0 });
  const second = await beginGeneration(store, P, { runId: "two" });
  const loser = await put(store, `${P}_g000002-lost/part-00000.parquet`); // crashed racer
  const g2 = await put(store, `${second.folder}part-00000.parquet`);
  await publishGeneration(store, second, { objects: [g2], replace: [], now: () => 1000 });
  const ahead = await put(store, `${P}_g000003-busy/part-00000.parquet`); // a writer still at work
  const early = await collectGarbage(store, P, { graceMs: 500, now: () => 1200 });
  assert.deepEqual(early, { deleted: [], bytes: 0, waitMs: 300 });
  const dry = await collectGarbage(store, P, { graceMs: 500, now: () => 1500, dryRun: true });
  assert.equal(dry.deleted.length, 4);
  assert.ok(await store.get(a.key));
  const report = await collectGarbage(store, P, { graceMs: 500, now: () => 1500 });
  assert.deepEqual(report.deleted.sort(), [a.key, loser.key, g1.key, manifestKey(P, 1)].sort());
  assert.deepEqual(
    keysOf(await collect(store.list(P))),
    [ahead.key, second.folder + "part-00000.parquet", manifestKey(P, 2)].sort(),
  );
  assert.deepEqual((await readPartition(store, P)).objects, [g2]);
});

Deno.test("every prefix of a publish and cleanup leaves each row visible exactly once", async () => {
  // Replays the store writes of one compaction step by step; after each, the reader rule must
  // see either all inputs or all outputs, never both and never neither.
  const source = new MemoryStore();
  const inputs = [await put(source, `${P}a.parquet`, "a"), await put(source, `${P}b.parquet`, "b")];
  const draft = await beginGeneration(source, P, { runId: "x" });
  const out = await put(source, `${draft.folder}part-00000.parquet`, "ab");
  await publishGeneration(source, draft, { objects: [out], replace: keysOf(inputs), now: () => 0 });
  await collectGarbage(source, P, { graceMs: 0, now: () => 1 });
  const final = await collect(source.list(P));
  const steps: { key: string; present: boolean }[] = [
    { key: out.key, present: true },
    { key: manifestKey(P, 1), present: true },
    ...inputs.map((o) => ({ key: o.key, present: false })),
  ];
  for (let n = 0; n <= steps.length; n++) {
    const store = new MemoryStore();
    for (const o of inputs) await put(store, o.key, o.key.endsWith("a.parquet") ? "a" : "b");
    for (const step of steps.slice(0, n)) {
      if (step.present) await store.put(step.key, (await source.get(step.key))!);
      else await store.delete(step.key);
    }
    const rows = (await Promise.all(
      (await readPartition(store, P)).objects.map(async (o) =>
        new TextDecoder().decode(await store.get(o.key))
      ),
    )).join("").split("").sort().join("");
    assert.equal(rows, "ab", `after ${n} of ${steps.length} writes`);
  }
  assert.deepEqual(keysOf(final), [manifestKey(P, 1), out.key].sort());
});

Deno.test("readTable applies the rule per partition on a folder store", async () => {
  await using lake = await tempLake();
  {
    const store = lake.store;
    await put(store, "ticks/dt=2021-06-01/a.parquet");
    await put(store, "ticks/dt=2021-06-02/b.parquet");
    await put(store, "ticks/_SUCCESS");
    await put(store, "ticks/loose.parquet");
    const draft = await beginGeneration(store, "ticks/dt=2021-06-02/");
    const g = await put(store, `${draft.folder}part-00000.parquet`);
    await publishGeneration(store, draft, {
      objects: [g],
      replace: ["ticks/dt=2021-06-02/b.parquet"],
    });
    const views = await readTable(store, "ticks");
    assert.deepEqual(views.map((v) => [v.partition, keysOf(v.objects)]), [
      ["ticks/dt=2021-06-01/", ["ticks/dt=2021-06-01/a.parquet"]],
      ["ticks/dt=2021-06-02/", [g.key]],
    ]);
  }
});

Deno.test("publish is one atomic switch on the S3 emulator too", async () => {
  await using store = await s3TestStore({ prefix: "lake" });
  const a = await put(store, `${P}a.parquet`);
  const one = await beginGeneration(store, P, { runId: "one" });
  const two = await beginGeneration(store, P, { runId: "two" });
  const o1 = await put(store, `${one.folder}part-00000.parquet`);
  const o2 = await put(store, `${two.folder}part-00000.parquet`);
  await publishGeneration(store, one, { objects: [o1], replace: [a.key] });
  await assert.rejects(
    publishGeneration(store, two, { objects: [o2], replace: [a.key] }),
    GenerationConflictError,
  );
  assert.deepEqual((await readPartition(store, P)).objects, [o1]);
  const garbage = await collectGarbage(store, P, { graceMs: 0 });
  assert.deepEqual(garbage.deleted.sort(), [a.key, o2.key].sort());
});

Deno.test("partitionOf and isDataKey name the folders and objects the rule counts", () => {
  assert.equal(partitionOf("ticks/", "ticks/dt=2021-06-01/a.parquet"), "ticks/dt=2021-06-01/");
  assert.equal(partitionOf("ticks/", "ticks/_catalog/x.json"), undefined);
  assert.equal(partitionOf("ticks/", "ticks/a.parquet"), undefined);
  assert.equal(isDataKey(P, `${P}a.jsonl`), true);
  assert.equal(isDataKey(P, `${P}_manifest/00000000000000000001.json`), false);
  assert.equal(isDataKey(P, `${P}sub/a.parquet`), false);
});
