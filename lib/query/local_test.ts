import assert from "node:assert/strict";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { FsStore } from "../lake/fs_store.ts";
import { S3Store } from "../lake/s3_store.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import { LocalQueryError, openLocalEngine, s3CloudOptions } from "./local.ts";

const TICKS = sampleTicks({ days: 30 });
const COUNT_SQL =
  "SELECT dt, COUNT(*) AS n, SUM(close) AS total FROM ticks GROUP BY dt ORDER BY dt";

function expectedCounts() {
  const byDay = new Map<string, { n: number; total: number }>();
  for (const tick of TICKS) {
    const dt = new Date(tick.ts).toISOString().slice(0, 10);
    const entry = byDay.get(dt) ?? { n: 0, total: 0 };
    entry.n++;
    entry.total += tick.close!;
    byDay.set(dt, entry);
  }
  return [...byDay].sort(([a], [b]) => (a < b ? -1 : 1));
}

function assertCounts(rows: Record<string, unknown>[]) {
  const expected = expectedCounts();
  assert.deepEqual(rows.map((r) => [r.dt, r.n]), expected.map(([dt, e]) => [dt, e.n]));
  rows.forEach((row, i) =>
    assert.ok(Math.abs((row.total as number) - expected[i][1].total) < 1e-6)
  );
}

Deno.test("local SQL sees every tick with the dt partition column, for Parquet and JSON Lines", async () => {
  for (const format of ["parquet", "jsonl", "jsonl.gz"] as const) {
    const dir = await Deno.makeTempDir({ prefix: "local_test_" });
    const store = new FsStore(dir, { fsync: false });
    await writeTestLake(store, TICKS, { format });
    const engine = await openLocalEngine({ store });
    const result = await engine.query(COUNT_SQL);
    assert.deepEqual(result.columns.map((c) => `${c.name}:${c.type}`), [
      "dt:string",
      "n:bigint",
      "total:double",
    ]);
    assertCounts(result.rows);
    const types = await engine.query("SELECT ts FROM ticks LIMIT 1");
    assert.equal(types.columns[0].type, "timestamp");
    assert.ok(types.rows[0].ts instanceof Date);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("local SQL reads an S3 lake through Polars cloud options (moto)", async () => {
  const endpoint = Deno.env.get("AWS_ENDPOINT_URL");
  if (!endpoint) {
    throw new Error("Set AWS_ENDPOINT_URL to a moto server, e.g. http://127.0.0.1:5000");
  }
  const bucket = `local-query-${crypto.randomUUID().slice(0, 8)}`;
  const s3 = new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = new S3Store({ bucket, prefix: "lake", endpoint, region: "us-east-1" });
  await writeTestLake(store, TICKS);
  const engine = await openLocalEngine({
    store,
    cloudOptions: s3CloudOptions({ region: "us-east-1", endpoint }),
  });
  assertCounts((await engine.query(COUNT_SQL)).rows);
});

Deno.test("a bad SQL statement comes back with Polars' reason and the SQL, not collectSync", async () => {
  const dir = await Deno.makeTempDir({ prefix: "local_test_" });
  const store = new FsStore(dir, { fsync: false });
  await writeTestLake(store, TICKS.slice(0, 20));
  const engine = await openLocalEngine({ store });
  for (
    const [sql, reason] of [
      ["SELECT nope FROM ticks", /unable to find column "nope"/],
      ["SELECT date_trunc('month', ts) FROM ticks", /date_trunc/],
      ["SELEC 1", /SQL/],
    ] as const
  ) {
    await assert.rejects(engine.query(sql), (error: unknown) => {
      assert.ok(error instanceof LocalQueryError);
      assert.match(error.message, reason);
      assert.doesNotMatch(error.message, /collectSync/);
      assert.equal(error.sql, sql);
      return true;
    });
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an empty lake is refused with how to fill it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "local_test_" });
  await assert.rejects(
    openLocalEngine({ store: new FsStore(dir) }),
    /has no data under .*deno task consume/,
  );
  await Deno.remove(dir, { recursive: true });
});
