import assert from "node:assert/strict";
import { GetTableCommand, GlueClient, UpdateCrawlerCommand } from "@aws-sdk/client-glue";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { FsStore } from "../lake/fs_store.ts";
import { S3Store } from "../lake/s3_store.ts";
import { MemoryLogger } from "../log.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import { discoverLake, DiscoveryError } from "./discover.ts";
import { crawlerConfiguration, ensureGlueTable, GlueCrawlerError, runGlueCrawler } from "./glue.ts";
import { readLocalCatalog, writeLocalCatalog } from "./local.ts";
import { tableInput } from "./table_input.ts";

const TICKS = sampleTicks({ days: 20 });
const DAYS = [...new Set(TICKS.map((t) => new Date(t.ts).toISOString().slice(0, 10)))].sort();

function endpoint(): string {
  const url = Deno.env.get("AWS_ENDPOINT_URL");
  if (!url) throw new Error("Set AWS_ENDPOINT_URL to a moto server, e.g. http://127.0.0.1:5000");
  return url;
}

async function tempStore(): Promise<FsStore> {
  return new FsStore(await Deno.makeTempDir({ prefix: "catalog_test_" }), { fsync: false });
}

Deno.test("discovery reads the columns from Parquet and the partitions from the keys", async () => {
  const store = await tempStore();
  const keys = await writeTestLake(store, TICKS);
  await store.put("ticks/_SUCCESS", new Uint8Array());
  const logger = new MemoryLogger();
  const found = await discoverLake(store, { logger });
  assert.deepEqual(found.columns.map((c) => `${c.name} ${c.type}`), [
    "symbol string",
    "ts timestamp",
    "open double",
    "high double",
    "low double",
    "close double",
    "adj_close double",
    "volume double",
    "close_usd double",
  ]);
  assert.deepEqual(found.partitions, DAYS);
  assert.equal(found.objects, keys.length);
  assert.equal(found.format, "parquet");
  assert.match(logger.lines.join("\n"), /Skipping "ticks\/_SUCCESS"/);
  await Deno.remove(store.uri, { recursive: true });
});

Deno.test("discovery reads gzipped JSON Lines with the same columns", async () => {
  const store = await tempStore();
  await writeTestLake(store, TICKS, { format: "jsonl.gz" });
  const found = await discoverLake(store);
  assert.equal(found.format, "jsonl");
  assert.equal(found.gzip, true);
  assert.equal(found.columns[1].type, "timestamp");
  const input = tableInput(found, { location: "s3://b/ticks" });
  assert.equal(
    input.StorageDescriptor?.SerdeInfo?.SerializationLibrary,
    "org.openx.data.jsonserde.JsonSerDe",
  );
  await Deno.remove(store.uri, { recursive: true });
});

Deno.test("discovery refuses an empty lake and mixed formats, saying what to do", async () => {
  const store = await tempStore();
  await assert.rejects(discoverLake(store), /No lake objects under .*deno task consume/);
  await writeTestLake(store, TICKS.slice(0, 5));
  await writeTestLake(store, TICKS.slice(5, 10), { format: "jsonl" });
  await assert.rejects(discoverLake(store), DiscoveryError);
  await assert.rejects(discoverLake(store), /mixes formats/);
  await Deno.remove(store.uri, { recursive: true });
});

Deno.test("the local catalog holds Glue's TableInput and one partition per day, and rewrites cleanly", async () => {
  const store = await tempStore();
  await writeTestLake(store, TICKS);
  const found = await discoverLake(store);
  const { key } = await writeLocalCatalog(store, found, { now: () => 0 });
  assert.equal(key, "_catalog/stock_market/ticks.json");
  await writeLocalCatalog(store, found, { now: () => 0 });
  const entry = await readLocalCatalog(store, "stock_market", "ticks");
  assert.equal(entry?.TableInput.Name, "ticks");
  assert.deepEqual(entry?.TableInput.PartitionKeys?.map((k) => k.Name), ["dt"]);
  assert.deepEqual(entry?.Partitions.map((p) => p.Values[0]), DAYS);
  assert.equal(
    entry?.Partitions[0].StorageDescriptor.Location,
    `${store.uri}/ticks/dt=${DAYS[0]}/`,
  );
  // The catalog lives outside ticks/, so it is not mistaken for data.
  assert.equal((await discoverLake(store)).objects, found.objects);
  await Deno.remove(store.uri, { recursive: true });
});

Deno.test("glue table with partition projection is created, then updated on a second run (moto)", async () => {
  const suffix = crypto.randomUUID().slice(0, 8);
  const bucket = `catalog-test-${suffix}`;
  const s3 = new S3Client({ region: "us-east-1", endpoint: endpoint(), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = new S3Store({ bucket, prefix: "lake", endpoint: endpoint(), region: "us-east-1" });
  await writeTestLake(store, TICKS);
  const found = await discoverLake(store);
  assert.deepEqual(found.partitions, DAYS);
  const database = `catalog_test_${suffix.replaceAll("-", "_")}`;
  const glue = new GlueClient({ region: "us-east-1", endpoint: endpoint() });
  const table = tableInput(found, { location: `s3://${bucket}/lake/ticks/` });
  const first = await ensureGlueTable({ client: glue, database, table });
  assert.deepEqual(first, { databaseCreated: true, tableCreated: true });
  const second = await ensureGlueTable({ client: glue, database, table });
  assert.deepEqual(second, { databaseCreated: false, tableCreated: false });
  const stored = (await glue.send(new GetTableCommand({ DatabaseName: database, Name: "ticks" })))
    .Table!;
  assert.equal(stored.Parameters?.["projection.enabled"], "true");
  assert.equal(stored.Parameters?.["projection.dt.range"], `${DAYS[0]},NOW`);
  assert.equal(
    stored.Parameters?.["storage.location.template"],
    `s3://${bucket}/lake/ticks/dt=\${dt}/`,
  );
  assert.equal(stored.StorageDescriptor?.Columns?.length, 9);
  assert.equal(
    stored.StorageDescriptor?.SerdeInfo?.SerializationLibrary,
    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
  );
  assert.deepEqual(stored.PartitionKeys?.map((k) => `${k.Name} ${k.Type}`), ["dt string"]);
});

Deno.test("glue crawler is created with one table per path, polled until done, and updated on rerun (moto)", async () => {
  const suffix = crypto.randomUUID().slice(0, 8).replaceAll("-", "_");
  const glue = new GlueClient({ region: "us-east-1", endpoint: endpoint() });
  const logger = new MemoryLogger();
  const options = {
    client: glue,
    name: `crawler_test_${suffix}`,
    role: "arn:aws:iam::123456789012:role/glue-crawler",
    database: `crawler_test_${suffix}`,
    path: "s3://some-lake/prefix/ticks/",
    pollMs: 0,
    logger,
  };
  const report = await runGlueCrawler(options);
  assert.equal(report.created, true);
  assert.match(report.status, /^(SUCCEEDED|COMPLETED)$/);
  assert.match(logger.lines.join("\n"), /Crawler crawler_test_\w+: READY/);
  // moto has no UpdateCrawler: answer that one call here, send the rest to moto.
  const sent: string[] = [];
  const again = await runGlueCrawler({
    ...options,
    client: {
      send: ((command: { constructor: { name: string } }) => {
        sent.push(command.constructor.name);
        return command instanceof UpdateCrawlerCommand
          ? Promise.resolve({})
          : glue.send(command as never);
      }) as GlueClient["send"],
    },
  });
  assert.equal(again.created, false);
  assert.deepEqual(sent.slice(0, 4), [
    "CreateDatabaseCommand",
    "CreateCrawlerCommand",
    "UpdateCrawlerCommand",
    "StartCrawlerCommand",
  ]);
});

Deno.test("the crawler configuration combines compatible schemas at the table folder's level", () => {
  assert.deepEqual(JSON.parse(crawlerConfiguration("s3://bucket/prefix/ticks/")).Grouping, {
    TableGroupingPolicy: "CombineCompatibleSchemas",
    TableLevelConfiguration: 3,
  });
  assert.equal(
    JSON.parse(crawlerConfiguration("s3://bucket/ticks")).Grouping.TableLevelConfiguration,
    2,
  );
});

Deno.test("a crawler on a folder lake is refused with what to use instead", async () => {
  await assert.rejects(
    runGlueCrawler({
      name: "x",
      role: "r",
      database: "d",
      path: "./lake/ticks/",
      client: { send: () => Promise.reject(new Error("no call expected")) },
    }),
    (error: unknown) =>
      error instanceof GlueCrawlerError && /use an s3:\/\/ lake/.test(error.message),
  );
});

Deno.test("partition projection steps by the lake's dt granularity: day, month and year lakes (moto)", async () => {
  const suffix = crypto.randomUUID().slice(0, 8);
  const bucket = `catalog-dt-${suffix}`;
  const s3 = new S3Client({ region: "us-east-1", endpoint: endpoint(), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const glue = new GlueClient({ region: "us-east-1", endpoint: endpoint() });
  const database = `catalog_dt_${suffix.replaceAll("-", "_")}`;
  // Three weeks across a new year: two months and two years, so each width shows in the values.
  const ticks = sampleTicks({ from: "2020-12-20", days: 21 });
  const firstDay = ticks.map((t) => new Date(t.ts).toISOString().slice(0, 10)).sort()[0];
  assert.match(firstDay, /^2020-12-/);
  const want = {
    day: { unit: "DAYS", from: firstDay, comment: "UTC date YYYY-MM-DD of ts" },
    month: {
      unit: "MONTHS",
      from: "2020-12-01",
      comment: "first day YYYY-MM-DD of the UTC month of ts",
    },
    year: {
      unit: "YEARS",
      from: "2020-01-01",
      comment: "first day YYYY-MM-DD of the UTC year of ts",
    },
  } as const;
  for (const granularity of ["day", "month", "year"] as const) {
    const prefix = `lake-${granularity}`;
    const store = new S3Store({ bucket, prefix, endpoint: endpoint(), region: "us-east-1" });
    await writeTestLake(store, ticks, { dtGranularity: granularity, objectsPerPartition: 1 });
    const found = await discoverLake(store);
    assert.equal(found.partitions[0], want[granularity].from);
    // Inferred from the dt values, as `deno task crawl` does without --dt-granularity.
    const table = { ...tableInput(found, { location: `s3://${bucket}/${prefix}/ticks/` }) };
    table.Name = `ticks_${granularity}`;
    await ensureGlueTable({ client: glue, database, table });
    const stored =
      (await glue.send(new GetTableCommand({ DatabaseName: database, Name: table.Name })))
        .Table!;
    const p = stored.Parameters!;
    assert.deepEqual(
      [
        p["projection.dt.type"],
        p["projection.dt.format"],
        p["projection.dt.interval"],
        p["projection.dt.interval.unit"],
        p["projection.dt.range"],
        p["storage.location.template"],
      ],
      [
        "date",
        "yyyy-MM-dd",
        "1",
        want[granularity].unit,
        `${want[granularity].from},NOW`,
        `s3://${bucket}/${prefix}/ticks/dt=\${dt}/`,
      ],
      granularity,
    );
    assert.equal(stored.PartitionKeys?.[0].Comment, want[granularity].comment);
    // The same step when the granularity is passed, as --dt-granularity does.
    assert.equal(
      tableInput(found, { location: "s3://b/t/", dtGranularity: granularity }).Parameters?.[
        "projection.dt.interval.unit"
      ],
      want[granularity].unit,
    );
  }
  // A day lake called a month lake would hide its days: refused, naming a dt that does not fit.
  const days = await discoverLake(
    new S3Store({ bucket, prefix: "lake-day", endpoint: endpoint(), region: "us-east-1" }),
  );
  assert.throws(
    () => tableInput(days, { location: "s3://b/t/", dtGranularity: "month" }),
    (error: unknown) =>
      error instanceof DiscoveryError &&
      new RegExp(`dt=${firstDay}, which a month lake cannot hold.*pass the --dt-granularity`).test(
        error.message,
      ),
  );
});
