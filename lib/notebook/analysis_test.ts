import assert from "node:assert/strict";
import { DeleteDatabaseCommand, GetTableCommand, GlueClient } from "@aws-sdk/client-glue";
import { encodeTicks } from "../lake/encode.ts";
import { objectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { simulateTicks } from "../source/simulate.ts";
import { requireTestEnv, s3TestStore, tempLake } from "../testing/lake.ts";
import type { Tick } from "../tick.ts";
import { openLakeAnalysis } from "./analysis.ts";
import { candlestickChart, VEGA_LITE_MIME } from "./charts.ts";
import { notebookSettings } from "./settings.ts";

async function writeTicks(store: Store, ticks: Tick[]): Promise<void> {
  const key = objectKey({
    dt: "2021-01-01",
    topic: "t",
    partition: 0,
    startOffset: "0",
    format: "parquet",
  });
  await store.put(key, encodeTicks(ticks, { format: "parquet" }));
}

Deno.test("the local analysis catalogs the lake and runs SQL and named analyses on it", async () => {
  await using lake = await tempLake();
  const ticks = [...simulateTicks({ symbols: 3, count: 30, start: Date.parse("2021-01-01") })];
  await writeTicks(lake.store, ticks);
  const analysis = openLakeAnalysis(notebookSettings({ env: { LAKE_URI: lake.dir }, root: "/" }));
  assert.equal(analysis.engine, "local");
  const { discovery, where } = await analysis.catalog();
  assert.equal(discovery.objects, 1);
  assert.equal(where, `${lake.dir}/_catalog/stock_market/ticks.json`);
  assert.ok(await lake.store.get("_catalog/stock_market/ticks.json"));
  const count = await analysis.sql("SELECT COUNT(*) AS n FROM ticks");
  assert.equal(count.rows[0].n, 90);
  const latest = await analysis.named("latest");
  assert.equal(latest.rows.length, 3);
  const monthly = await analysis.named("ohlc", { interval: "month" });
  assert.ok(candlestickChart(monthly.rows)[VEGA_LITE_MIME]);
});

Deno.test("the local analysis says to fill the lake when it is empty", async () => {
  await using lake = await tempLake();
  const analysis = openLakeAnalysis(notebookSettings({ env: { LAKE_URI: lake.dir }, root: "/" }));
  await assert.rejects(analysis.catalog(), /No lake objects under .*deno task consume/);
  await assert.rejects(analysis.sql("SELECT 1"), /deno task consume/);
});

Deno.test("with NOTEBOOK_TARGET=aws the catalog is a Glue table on the S3 lake (moto)", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "moto, e.g. http://127.0.0.1:5000");
  await using s3 = await s3TestStore();
  await writeTicks(s3, [...simulateTicks({ symbols: 2, count: 5 })]);
  const database = `nb_test_${Date.now()}`;
  const analysis = openLakeAnalysis(notebookSettings({
    env: {
      NOTEBOOK_TARGET: "aws",
      LAKE_URI: `s3://${s3.bucket}`,
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: "us-east-1",
      GLUE_DATABASE: database,
    },
    root: "/",
  }));
  assert.equal(analysis.engine, "athena");
  const glue = new GlueClient({ region: "us-east-1", endpoint });
  try {
    const { where } = await analysis.catalog();
    assert.equal(where, `glue://${database}.ticks`);
    const table = await glue.send(new GetTableCommand({ DatabaseName: database, Name: "ticks" }));
    assert.equal(table.Table?.StorageDescriptor?.Location, `s3://${s3.bucket}/ticks/`);
  } finally {
    await glue.send(new DeleteDatabaseCommand({ Name: database })).catch(() => {});
    glue.destroy();
  }
});
