import assert from "node:assert/strict";
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from "@aws-sdk/client-iam";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { join } from "node:path";
import { tcpProbe } from "../ops/tcp_probe.ts";
import { freePort } from "../testing/faults.ts";
import { REPO_ROOT } from "../testing/kafka.ts";
import { sleep } from "../time.ts";
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

/** Starts a moto of our own that enforces IAM after `freeActions` unauthenticated requests. */
async function startIamMoto(freeActions: number) {
  const port = freePort();
  const child = new Deno.Command(join(REPO_ROOT, ".cache/venv/bin/moto_server"), {
    args: ["-H", "127.0.0.1", "-p", String(port)],
    env: { INITIAL_NO_AUTH_ACTION_COUNT: String(freeActions) },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  for (let waited = 0; await tcpProbe("127.0.0.1", port, 1_000); waited += 200) {
    if (waited > 30_000) throw new Error(`moto on port ${port} did not start in 30 s`);
    await sleep(200);
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: async () => {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

Deno.test({
  name:
    "deno task query reads an S3 lake with credentials from an AWS profile alone, none in the environment (moto enforcing IAM)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // The first 3 requests (the IAM set-up below) go unchecked; every later one needs the user's keys.
    await using moto = await startIamMoto(3);
    const { endpoint } = moto;
    const region = "us-east-1";
    const iam = new IAMClient({
      region,
      endpoint,
      credentials: { accessKeyId: "bootstrap", secretAccessKey: "bootstrap" },
    });
    const user = "lake-reader";
    await iam.send(new CreateUserCommand({ UserName: user }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: user,
        PolicyName: "lake",
        PolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "s3:*", Resource: "*" }],
        }),
      }),
    );
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    const credentials = { accessKeyId: key.AccessKeyId!, secretAccessKey: key.SecretAccessKey! };
    const bucket = "profile-lake";
    await new S3Client({ region, endpoint, forcePathStyle: true, credentials })
      .send(new CreateBucketCommand({ Bucket: bucket }));
    await writeTestLake(
      new S3Store({ bucket, prefix: "lake", endpoint, region, credentials }),
      TICKS,
    );

    const dir = await Deno.makeTempDir({ prefix: "profile_test_" });
    try {
      await Deno.writeTextFile(
        join(dir, "credentials"),
        `[lake-reader]\naws_access_key_id = ${credentials.accessKeyId}\n` +
          `aws_secret_access_key = ${credentials.secretAccessKey}\n\n` +
          `[wrong]\naws_access_key_id = ${credentials.accessKeyId}\naws_secret_access_key = nope\n`,
      );
      await Deno.writeTextFile(join(dir, "config"), "[profile lake-reader]\nregion = us-east-1\n");
      const query = (profile: string) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "scripts/query.ts",
            "--lake",
            `s3://${bucket}/lake`,
            "--endpoint",
            endpoint,
            "--output",
            "json",
            "SELECT COUNT(*) AS n, SUM(close) AS total FROM ticks",
          ],
          cwd: REPO_ROOT,
          // Only a profile: no AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY, no instance role.
          clearEnv: true,
          env: {
            PATH: Deno.env.get("PATH") ?? "",
            HOME: Deno.env.get("HOME") ?? dir,
            ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
            AWS_SHARED_CREDENTIALS_FILE: join(dir, "credentials"),
            AWS_CONFIG_FILE: join(dir, "config"),
            AWS_PROFILE: profile,
            AWS_EC2_METADATA_DISABLED: "true",
            NO_COLOR: "1",
          },
          stdout: "piped",
          stderr: "piped",
        }).output();
      const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
      const good = await query("lake-reader");
      assert.equal(good.code, 0, decode(good.stderr));
      const rows = JSON.parse(decode(good.stdout));
      assert.equal(rows[0].n, TICKS.length);
      const total = TICKS.reduce((sum, t) => sum + t.close!, 0);
      assert.ok(Math.abs(rows[0].total - total) < 1e-6);
      // The same keys with a wrong secret are refused: the server really checks them.
      const wrong = await query("wrong");
      assert.notEqual(wrong.code, 0);
      assert.match(
        decode(wrong.stderr),
        /SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId|signature/i,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
