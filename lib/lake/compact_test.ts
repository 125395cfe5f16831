import assert from "node:assert/strict";
import { compactLake, partitionEnd } from "./compact.ts";
import { decodeObject } from "./encode.ts";
import { readTable } from "./generations.ts";
import { formatFor } from "./layout.ts";
import type { Store } from "./store.ts";
import { discoverLake, schemaOf } from "../catalog/discover.ts";
import { writeLocalCatalog } from "../catalog/local.ts";
import { openLocalEngine } from "../query/local.ts";
import { collect, readLakeTicks, s3TestStore, tempLake } from "../testing/lake.ts";
import { assertExactlyOnce, runScript, startScript } from "../testing/kafka.ts";
import { spreadTicks, writeSinkLake } from "../testing/compaction.ts";
import { sleep } from "../time.ts";
import type { Tick } from "../tick.ts";

const GROUP = "compact_test";

/** Runs the real local query path and checks that it sees each tick exactly once. */
async function assertQueryExactlyOnce(store: Store, expected: number): Promise<void> {
  const engine = await openLocalEngine({ store });
  const { rows } = await engine.query("SELECT symbol, ts FROM ticks");
  const distinct = new Set(rows.map((r) => `${r.symbol}|${String(r.ts)}`));
  assert.equal(rows.length, expected, "rows seen by the local query");
  assert.equal(distinct.size, expected, "distinct (symbol, ts) seen by the local query");
}

function isSorted(ticks: Tick[]): boolean {
  return ticks.every((t, i) =>
    i === 0 || ticks[i - 1].symbol < t.symbol ||
    (ticks[i - 1].symbol === t.symbol && ticks[i - 1].ts <= t.ts)
  );
}

Deno.test("compaction merges closed partitions into sorted objects of the same format and schema", async () => {
  await using lake = await tempLake();
  const store = lake.store;
  const ticks = spreadTicks({ days: 4 });
  const { keys, replayable } = await writeSinkLake(store, ticks, { group: GROUP });
  const sinkSchema = await schemaOf(store, keys[0]);
  let now = Date.UTC(2021, 6, 1);
  const report = await compactLake({ store, group: GROUP, now: () => now });
  // Default: every partition but the newest, which the sink may still be writing.
  assert.equal(report.partitions, 4);
  assert.equal(report.compacted, 3);
  assert.equal(report.objectsOut, 3);
  assert.equal(report.pendingCleanup, 3);
  assertExactlyOnce(await readLakeTicks(store), ticks);
  await assertQueryExactlyOnce(store, ticks.length);
  const views = await readTable(store, "ticks/");
  for (const view of views.slice(0, 3)) {
    assert.equal(view.objects.length, 1);
    const [object] = view.objects;
    assert.match(object.key, /\/_g000001-[a-z0-9]+\/part-00000\.parquet$/);
    assert.ok(isSorted(decodeObject(object.key, (await store.get(object.key))!)));
    assert.deepEqual(await schemaOf(store, object.key), sinkSchema);
  }
  // The replaced objects stay for the grace period, then the next run deletes them.
  assert.ok(await store.get(keys[0]));
  now += 16 * 60_000;
  const second = await compactLake({ store, group: GROUP, now: () => now, olderThanMs: 0 });
  assert.ok(second.cleaned.objects > 0);
  assert.equal(await store.get(keys[0]), undefined);
  // The newest day is closed now, but the sink's latest ranges stay as they are.
  assert.equal(second.compacted, 1);
  const last = (await readTable(store, "ticks/")).at(-1)!;
  for (const key of replayable) assert.ok(last.objects.some((o) => o.key === key), key);
  const kept = second.plans.at(-1)!.kept.map((k) => k.reason);
  assert.ok(kept.every((reason) => reason === "the sink may still replay its range"));
  assertExactlyOnce(await readLakeTicks(store), ticks);
  // Nothing left to do: a third run merges nothing.
  const third = await compactLake({ store, group: GROUP, now: () => now, olderThanMs: 0 });
  assert.equal(third.compacted, 0);
  assert.deepEqual(
    [...new Set(third.plans.map((p) => p.skip))],
    ["nothing new to merge"],
  );
});

Deno.test("compaction keeps gzipped JSON Lines, splits by target size, and a dry run changes nothing", async () => {
  await using lake = await tempLake();
  const store = lake.store;
  const ticks = spreadTicks({ days: 2, perDay: 60 });
  await writeSinkLake(store, ticks, { group: GROUP, format: "jsonl", gzip: true });
  const before = await collect(store.list(""));
  const dry = await compactLake({
    store,
    group: GROUP,
    olderThanMs: 0,
    dryRun: true,
    targetBytes: 2048,
  });
  assert.ok(dry.compacted > 0);
  assert.deepEqual(await collect(store.list("")), before);
  const report = await compactLake({
    store,
    group: GROUP,
    olderThanMs: 0,
    targetBytes: 2048,
    graceMs: 0,
  });
  assert.ok(report.objectsOut > report.compacted, "several objects per partition");
  const views = await readTable(store, "ticks/");
  for (const view of views) {
    const compacted = view.objects.filter((o) => o.key.includes("/_g"));
    assert.ok(compacted.length > 1);
    for (const o of compacted) assert.deepEqual(formatFor(o.key), { format: "jsonl", gzip: true });
    const rows = compacted.flatMap((o) => o.key).length;
    assert.ok(rows > 0);
  }
  assertExactlyOnce(await readLakeTicks(store), ticks);
  await assertQueryExactlyOnce(store, ticks.length);
});

Deno.test("objects of a Kafka partition without a checkpoint log of the group are left alone", async () => {
  await using lake = await tempLake();
  const store = lake.store;
  const ticks = spreadTicks({ days: 2 });
  await writeSinkLake(store, ticks, { group: "another_group" });
  const report = await compactLake({ store, group: GROUP, olderThanMs: 0 });
  assert.equal(report.compacted, 0);
  assert.match(report.plans[0].kept[0].reason, /no checkpoint log of this group/);
  assert.equal(partitionEnd("2021-06-30", "day"), Date.UTC(2021, 6, 1));
  assert.equal(partitionEnd("2021-12-01", "month"), Date.UTC(2022, 0, 1));
});

Deno.test("the local catalog and discovery describe the compacted objects, not the replaced ones", async () => {
  await using lake = await tempLake();
  const store = lake.store;
  const ticks = spreadTicks({ days: 3 });
  await writeSinkLake(store, ticks, { group: GROUP });
  await compactLake({ store, group: GROUP, graceMs: 60_000 });
  const found = await discoverLake(store);
  const views = await readTable(store, "ticks/");
  assert.equal(found.objects, views.reduce((n, v) => n + v.objects.length, 0));
  assert.deepEqual(found.partitions, ["2021-06-01", "2021-06-02", "2021-06-03"]);
  assert.deepEqual(Object.keys(found.generations), ["2021-06-01", "2021-06-02"]);
  const { entry } = await writeLocalCatalog(store, found);
  assert.equal(
    entry.Partitions[0].StorageDescriptor.Location,
    `${store.uri}/${views[0].manifest!.folder}`,
  );
  assert.equal(entry.Partitions[2].StorageDescriptor.Location, `${store.uri}/ticks/dt=2021-06-03/`);
});

/** Queries in a loop through the real local path until `running` settles; returns the count. */
async function queryUntil(
  store: Store,
  expected: number,
  running: Promise<unknown>,
): Promise<number> {
  let settled = false;
  running.finally(() => settled = true).catch(() => {});
  let queries = 0;
  while (!settled || queries < 3) {
    await assertQueryExactlyOnce(store, expected);
    queries++;
  }
  return queries;
}

async function concurrentReads(store: Store, uri: string): Promise<void> {
  const ticks = spreadTicks({ days: 4, perDay: 30 });
  await writeSinkLake(store, ticks, { group: GROUP, rowsPerObject: 6 });
  const args = ["--lake", uri, "--group", GROUP, "--older-than", "0s", "--grace", "4s"];
  // First run switches every partition; the second, after the grace period, deletes the inputs.
  const first = runScript("compact", args);
  let queries = await queryUntil(store, ticks.length, first);
  const output = (await first).stdout;
  assert.match(output, /Compacted 4 of 4 partitions/);
  const second = sleep(4500).then(() => runScript("compact", args));
  queries += await queryUntil(store, ticks.length, second);
  assert.match((await second).stdout, /Deleted [1-9]\d* replaced objects/);
  assertExactlyOnce(await readLakeTicks(store), ticks);
  assert.ok(queries >= 6, `${queries} queries ran during compaction`);
}

Deno.test("queries running during compaction see every row exactly once (folder)", async () => {
  await using lake = await tempLake();
  await concurrentReads(lake.store, lake.dir);
});

Deno.test("queries running during compaction see every row exactly once (S3 emulator)", async () => {
  await using store = await s3TestStore({ prefix: "lake" });
  await concurrentReads(store, store.uri);
});

/** Keys added or removed since `before`. */
async function changesSince(store: Store, before: Set<string>): Promise<number> {
  const now = new Set((await collect(store.list(""))).map((o) => o.key));
  let changes = 0;
  for (const key of now) if (!before.has(key)) changes++;
  for (const key of before) if (!now.has(key)) changes++;
  return changes;
}

async function killedCompactions(store: Store, uri: string): Promise<void> {
  const ticks = spreadTicks({ days: 6, perDay: 32 });
  const { replayable } = await writeSinkLake(store, ticks, { group: GROUP, rowsPerObject: 4 });
  const args = ["--lake", uri, "--group", GROUP, "--older-than", "0s", "--grace", "0s"];
  // A whole run adds ~10 objects (outputs, manifests) and deletes ~120 inputs: kill after a
  // random number of those changes, so kills land while writing, switching and deleting.
  const kills: number[] = [];
  for (let round = 0; round < 5; round++) {
    const before = new Set((await collect(store.list(""))).map((o) => o.key));
    // Even rounds aim at the first changes (outputs and switches), odd ones at the deletions.
    const target = round % 2 === 0
      ? 1 + Math.floor(Math.random() * 8)
      : 10 + Math.floor(Math.random() * 50);
    const run = startScript("compact", args);
    let exited = false;
    run.done.then(() => exited = true);
    let changes = 0;
    while (!exited && (changes = await changesSince(store, before)) < target) await sleep(5);
    if (!exited) {
      run.child.kill("SIGKILL");
      kills.push(changes);
    }
    await run.done;
    assertExactlyOnce(await readLakeTicks(store), ticks);
    await assertQueryExactlyOnce(store, ticks.length);
  }
  assert.ok(kills.length > 0, "at least one run was killed midway");
  // A rerun finishes the job: every closed partition holds one generation and nothing else.
  await runScript("compact", args);
  assertExactlyOnce(await readLakeTicks(store), ticks);
  for (const view of await readTable(store, "ticks/")) {
    const listed = (await collect(store.list(view.partition))).map((o) => o.key);
    const expected = [
      ...view.objects.map((o) => o.key),
      `${view.partition}_manifest/${String(view.manifest!.generation).padStart(20, "0")}.json`,
    ].sort();
    assert.deepEqual(
      listed,
      expected,
      `${view.partition} is tidy after kills at ${kills.join(", ")} changes`,
    );
    const stray = view.objects.filter((o) => !o.key.includes("/_g") && !replayable.includes(o.key));
    assert.deepEqual(stray, []);
  }
  console.log(`killed after ${kills.join(", ")} changes to the lake`);
}

Deno.test("a compactor killed at random points leaves the lake exactly once; a rerun finishes (folder)", async () => {
  await using lake = await tempLake();
  await killedCompactions(lake.store, lake.dir);
});

Deno.test("a compactor killed at random points leaves the lake exactly once; a rerun finishes (S3 emulator)", async () => {
  await using store = await s3TestStore({ prefix: "lake" });
  await killedCompactions(store, store.uri);
});

Deno.test("a long-lived local engine renews its objects before the replaced ones are deleted", async () => {
  await using lake = await tempLake();
  const store = lake.store;
  const ticks = spreadTicks({ days: 3 });
  await writeSinkLake(store, ticks, { group: GROUP });
  let now = Date.UTC(2021, 6, 1);
  const engine = await openLocalEngine({ store, now: () => now });
  const count = async () => (await engine.query("SELECT COUNT(*) AS n FROM ticks")).rows[0].n;
  assert.equal(await count(), ticks.length);
  // Compaction switches two days; within the grace period the engine's old choice still reads.
  await compactLake({ store, group: GROUP, now: () => now });
  assert.equal(await count(), ticks.length);
  // Six minutes on, the engine chooses again (now the compacted objects); the cleanup after the
  // grace period then deletes what it used to read, and it still counts every row once.
  now += 6 * 60_000;
  assert.equal(await count(), ticks.length);
  now += 10 * 60_000;
  const cleanup = await compactLake({ store, group: GROUP, now: () => now });
  assert.ok(cleanup.cleaned.objects > 0);
  assert.equal(await count(), ticks.length);
});
