import assert from "node:assert/strict";
import {
  DeleteDatabaseCommand,
  GetPartitionsCommand,
  GetTableCommand,
  GlueClient,
} from "@aws-sdk/client-glue";
import { readLocalCatalog } from "../catalog/local.ts";
import { encodeTicks } from "../lake/encode.ts";
import { objectKey } from "../lake/layout.ts";
import { requireTestEnv, s3TestStore, tempLake } from "../testing/lake.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import { utcDate } from "../tick.ts";
import { BARS_DAILY, BARS_DAILY_COLUMNS } from "./bars_daily.ts";
import { catalogCurated } from "./catalog.ts";
import { SYMBOLS, SYMBOLS_COLUMNS } from "./symbols.ts";
import { transformLake } from "./transform.ts";

const TICKS = sampleTicks({ symbols: ["HSI", "NYA"], days: 12 });
const DAYS = [...new Set(TICKS.map((t) => utcDate(t.ts)))].sort();

Deno.test("a lake without curated tables catalogs none of them", async () => {
  await using lake = await tempLake();
  await writeTestLake(lake.store, TICKS);
  assert.deepEqual(await catalogCurated({ store: lake.store, target: "local" }), []);
});

Deno.test("the local catalog describes bars_daily (dt partitions) and symbols (none)", async () => {
  await using lake = await tempLake();
  await writeTestLake(lake.store, TICKS);
  await transformLake({ store: lake.store });
  const entries = await catalogCurated({ store: lake.store, target: "local" });
  assert.deepEqual(entries.map((e) => e.discovery.table), [BARS_DAILY, SYMBOLS]);

  const bars = (await readLocalCatalog(lake.store, "stock_market", BARS_DAILY))!;
  assert.deepEqual(
    bars.TableInput.StorageDescriptor!.Columns!.map((c) => `${c.Name} ${c.Type}`),
    BARS_DAILY_COLUMNS.map((c) => `${c.name} ${c.type}`),
  );
  assert.equal(bars.TableInput.StorageDescriptor!.Columns![1].Comment, "UTC day of the bar");
  assert.deepEqual(bars.TableInput.PartitionKeys!.map((k) => k.Name), ["dt"]);
  assert.deepEqual(bars.Partitions.map((p) => p.Values[0]), DAYS);
  assert.match(bars.TableInput.Description!, /^Daily bars/);

  const symbols = (await readLocalCatalog(lake.store, "stock_market", SYMBOLS))!;
  assert.deepEqual(
    symbols.TableInput.StorageDescriptor!.Columns!.map((c) => `${c.Name} ${c.Type}`),
    SYMBOLS_COLUMNS.map((c) => `${c.name} ${c.type}`),
  );
  assert.deepEqual([symbols.TableInput.PartitionKeys, symbols.Partitions], [[], []]);
});

Deno.test("Glue learns bars_daily with projection, symbols unpartitioned; a rebuilt day gets its partition registered (moto)", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "moto, e.g. http://127.0.0.1:5000");
  await using s3 = await s3TestStore();
  const glue = new GlueClient({ endpoint, region: Deno.env.get("AWS_REGION") ?? "us-east-1" });
  const database = `curated_${crypto.randomUUID().slice(0, 8)}`;
  try {
    await writeTestLake(s3, TICKS);
    await transformLake({ store: s3 });
    const entries = await catalogCurated({ store: s3, target: "aws", database, client: glue });
    assert.deepEqual(entries.map((e) => e.where), [
      `glue://${database}.${BARS_DAILY}`,
      `glue://${database}.${SYMBOLS}`,
    ]);
    const table = async (name: string) =>
      (await glue.send(new GetTableCommand({ DatabaseName: database, Name: name }))).Table!;
    const bars = await table(BARS_DAILY);
    assert.equal(bars.StorageDescriptor!.Location, `s3://${s3.bucket}/${BARS_DAILY}/`);
    assert.equal(bars.Parameters!["projection.enabled"], "true");
    assert.equal(bars.Parameters!["projection.dt.range"], `${DAYS[0]},NOW`);
    assert.equal(
      bars.Parameters!["storage.location.template"],
      `s3://${s3.bucket}/${BARS_DAILY}/dt=\${dt}/`,
    );
    assert.deepEqual(bars.PartitionKeys!.map((k) => k.Name), ["dt"]);
    assert.match(bars.Description!, /^Daily bars/);
    const symbols = await table(SYMBOLS);
    assert.equal(symbols.StorageDescriptor!.Location, `s3://${s3.bucket}/${SYMBOLS}/`);
    assert.deepEqual(symbols.PartitionKeys ?? [], []);
    assert.equal(symbols.Parameters!["projection.enabled"], undefined);

    // A changed day is rebuilt into a generation folder, which projection cannot follow.
    const day = DAYS[3];
    await s3.put(
      objectKey({
        dt: day,
        topic: "stock_market",
        partition: 5,
        startOffset: 0,
        format: "parquet",
      }),
      encodeTicks([{ ...TICKS[0], ts: Date.parse(`${day}T12:00:00Z`) }], { format: "parquet" }),
    );
    assert.deepEqual((await transformLake({ store: s3 })).written, [day]);
    await catalogCurated({ store: s3, target: "aws", database, client: glue });
    assert.notEqual((await table(BARS_DAILY)).Parameters!["projection.enabled"], "true");
    const partitions = (await glue.send(
      new GetPartitionsCommand({ DatabaseName: database, TableName: BARS_DAILY }),
    )).Partitions!;
    const located = new Map(partitions.map((p) => [p.Values![0], p.StorageDescriptor!.Location]));
    assert.equal(located.size, DAYS.length);
    assert.match(located.get(day)!, new RegExp(`/${BARS_DAILY}/dt=${day}/_g000001-[a-z0-9]+/$`));
    assert.equal(located.get(DAYS[0]), `s3://${s3.bucket}/${BARS_DAILY}/dt=${DAYS[0]}/`);
  } finally {
    await glue.send(new DeleteDatabaseCommand({ Name: database })).catch(() => {});
    glue.destroy();
  }
});
