import assert from "node:assert/strict";
import { GetPartitionsCommand, GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import { compactLake } from "./compact.ts";
import { GluePartitionCatalog } from "./compact_glue.ts";
import { readTable } from "./generations.ts";
import { discoverLake } from "../catalog/discover.ts";
import { ensureGlueTable } from "../catalog/glue.ts";
import { tableInput } from "../catalog/table_input.ts";
import { requireTestEnv, s3TestStore } from "../testing/lake.ts";
import { spreadTicks, writeSinkLake } from "../testing/compaction.ts";
import { runScript } from "../testing/kafka.ts";

const GROUP = "compact_glue_test";

Deno.test("compaction switches Glue partitions to the current generation; cleanup waits for the switch (moto)", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "moto, e.g. http://127.0.0.1:5000");
  await using store = await s3TestStore({ prefix: "lake" });
  const ticks = spreadTicks({ days: 4 });
  const { keys } = await writeSinkLake(store, ticks, { group: GROUP });
  const database = `compact_${crypto.randomUUID().slice(0, 8)}`;
  const client = new GlueClient({ region: "us-east-1", endpoint });
  const location = `${store.uri}/ticks/`;
  await ensureGlueTable({
    client,
    database,
    table: tableInput(await discoverLake(store), { location }),
  });
  const catalog = new GluePartitionCatalog({
    client,
    database,
    table: "ticks",
    lakeUri: store.uri,
  });
  const locations = async () =>
    Object.fromEntries(
      ((await client.send(new GetPartitionsCommand({ DatabaseName: database, TableName: "ticks" })))
        .Partitions ?? []).map((p) => [p.Values![0], p.StorageDescriptor!.Location]),
    );

  // Nothing compacted yet: projection stays, Glue is left alone.
  assert.deepEqual(await catalog.sync(await readTable(store, "ticks/")), []);

  // A compactor that died between the manifest switch and the Glue switch (no catalog here).
  let now = Date.UTC(2021, 6, 1);
  await compactLake({ store, group: GROUP, now: () => now, graceMs: 60_000 });
  now += 120_000;
  const runWithGlue = () =>
    compactLake({ store, group: GROUP, now: () => now, graceMs: 60_000, catalog });
  const rerun = await runWithGlue();
  // The rerun switches Glue first and keeps the replaced objects: Athena may have planned a
  // query on the old location a moment ago.
  assert.equal(rerun.cleaned.objects, 0);
  assert.equal(rerun.pendingCleanup, 3);
  assert.ok(await store.get(keys[0]));
  const table = (await client.send(new GetTableCommand({ DatabaseName: database, Name: "ticks" })))
    .Table!;
  assert.equal(table.Parameters?.["projection.enabled"], "false");
  const views = await readTable(store, "ticks/");
  const expected = Object.fromEntries(views.map((v) => [
    v.partition.match(/dt=([\d-]+)\//)![1],
    `${store.uri}/${v.manifest?.folder ?? v.partition}`,
  ]));
  assert.deepEqual(await locations(), expected);
  assert.match(expected["2021-06-01"], /\/ticks\/dt=2021-06-01\/_g000001-[a-z0-9]+\/$/);
  assert.equal(expected["2021-06-04"], `${location}dt=2021-06-04/`);

  // The next run after the grace period deletes them; Glue already points at the generations.
  now += 120_000;
  const later = await runWithGlue();
  assert.ok(later.cleaned.objects > 0);
  assert.equal(await store.get(keys[0]), undefined);
  assert.deepEqual(await locations(), expected);
  const partitions = await client.send(
    new GetPartitionsCommand({ DatabaseName: database, TableName: "ticks" }),
  );
  assert.equal(partitions.Partitions?.[0].StorageDescriptor?.Columns?.length, 9);
});

Deno.test("crawl, compact --glue, crawl again: Glue keeps each partition at its current objects (moto)", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "moto, e.g. http://127.0.0.1:5000");
  await using store = await s3TestStore({ prefix: "lake" });
  await writeSinkLake(store, spreadTicks({ days: 3 }), { group: GROUP });
  const database = `crawl_${crypto.randomUUID().slice(0, 8)}`;
  const crawl = ["--target", "aws", "--lake", store.uri, "--database", database];
  assert.match((await runScript("crawl", crawl)).stdout, /with partition projection/);
  const compacted = await runScript("compact", [
    "--lake",
    store.uri,
    "--group",
    GROUP,
    "--database",
    database,
    "--glue",
    "--grace",
    "0s",
  ]);
  assert.match(compacted.stdout, /Compacted 2 of 3 partitions/);
  const client = new GlueClient({ region: "us-east-1", endpoint });
  const check = async () => {
    const table =
      (await client.send(new GetTableCommand({ DatabaseName: database, Name: "ticks" })))
        .Table!;
    assert.notEqual(table.Parameters?.["projection.enabled"], "true");
    const partitions = (await client.send(
      new GetPartitionsCommand({ DatabaseName: database, TableName: "ticks" }),
    )).Partitions!;
    const views = await readTable(store, "ticks/");
    assert.equal(views.filter((v) => v.manifest).length, 2);
    assert.deepEqual(
      partitions.map((p) => p.StorageDescriptor!.Location).sort(),
      views.map((v) => `${store.uri}/${v.manifest?.folder ?? v.partition}`).sort(),
    );
  };
  await check();
  // Crawling the compacted lake again must not bring projection (and empty days) back.
  assert.match((await runScript("crawl", crawl)).stdout, /3 registered partitions/);
  await check();
});
