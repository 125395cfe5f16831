import assert from "node:assert/strict";
import { DeleteBucketCommand } from "@aws-sdk/client-s3";
import { S3Store, S3StoreError } from "./s3_store.ts";
import { StoreUnavailableError } from "./store.ts";
import {
  checkStoreContract,
  collect,
  requireTestEnv,
  s3TestStore,
  uniqueBucketName,
} from "../testing/lake.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
/** Fixed credentials for stores pointed at local fake endpoints (never the SDK's default chain). */
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

/** Counts the S3 commands a store's client sends, by command name. */
function countCommands(store: S3Store): Map<string, number> {
  const counts = new Map<string, number>();
  store.client.middlewareStack.add(
    (next, context) => (args) => {
      const name = String(context.commandName);
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countCommands" },
  );
  return counts;
}

Deno.test("s3 store keeps the store contract against the S3 emulator", async (t) => {
  await using store = await s3TestStore({ prefix: "lake/test" });
  await checkStoreContract(t, store);
});

Deno.test("s3 store keeps objects under its prefix and strips it from listed keys", async () => {
  await using store = await s3TestStore({ prefix: "/lake/" });
  assert.equal(store.uri, `s3://${store.bucket}/lake`);
  await store.put("ticks/a.parquet", bytes("abc"));
  const root = new S3Store({ bucket: store.bucket, endpoint: store.endpoint });
  try {
    assert.deepEqual(await collect(root.list("")), [{ key: "lake/ticks/a.parquet", size: 3 }]);
    assert.deepEqual(await collect(store.list("")), [{ key: "ticks/a.parquet", size: 3 }]);
  } finally {
    root.close();
  }
});

Deno.test("s3 store list follows continuation tokens across pages", async () => {
  await using store = await s3TestStore({ pageSize: 2 });
  const keys = ["a/1", "a/2", "a/3", "a/4", "a/5", "b/1"];
  for (const key of keys) await store.put(key, bytes(key));
  const counts = countCommands(store);
  assert.deepEqual((await collect(store.list("a/"))).map((o) => o.key), keys.slice(0, 5));
  assert.equal(counts.get("ListObjectsV2Command"), 3);
});

Deno.test("s3 store uploads bodies above the threshold in 5 MiB parts and reads them back whole", async () => {
  await using store = await s3TestStore({
    multipartThreshold: 1024 * 1024,
    partSize: 5 * 1024 * 1024,
  });
  const body = new Uint8Array(11 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 65536) crypto.getRandomValues(body.subarray(i, i + 65536));
  const counts = countCommands(store);
  await store.put("big/object.parquet", body);
  assert.equal(counts.get("CreateMultipartUploadCommand"), 1);
  assert.equal(counts.get("UploadPartCommand"), 3);
  assert.equal(counts.get("CompleteMultipartUploadCommand"), 1);
  assert.equal(counts.get("PutObjectCommand"), undefined);
  const back = await store.get("big/object.parquet");
  assert.equal(back?.byteLength, body.byteLength);
  assert.ok(back!.every((b, i) => b === body[i]));
  await store.put("big/small.jsonl", bytes("{}\n"));
  assert.equal(counts.get("PutObjectCommand"), 1);
});

Deno.test("s3 store ensureBucket creates a missing bucket once", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "the S3 emulator");
  const store = new S3Store({ bucket: uniqueBucketName(), endpoint });
  try {
    assert.equal(await store.ensureBucket(), true);
    assert.equal(await store.ensureBucket(), false);
    assert.deepEqual(await collect(store.list("")), []);
  } finally {
    await store.client.send(new DeleteBucketCommand({ Bucket: store.bucket })).catch(() => {});
    store.close();
  }
});

Deno.test("s3 store reports a missing bucket as a non-retriable error that says to create it", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "the S3 emulator");
  const bucket = uniqueBucketName("no-such");
  const store = new S3Store({ bucket, endpoint });
  try {
    for (
      const call of [
        () => store.put("a/b.parquet", bytes("x")),
        () => store.get("a/b.parquet"),
        () => collect(store.list("a/")),
      ]
    ) {
      const error = await call().catch((e) => e);
      assert.ok(error instanceof S3StoreError, String(error));
      assert.equal(error.retriable, false);
      assert.equal(error.kind, "missing-bucket");
      assert.match(error.message, new RegExp(`bucket "${bucket}" does not exist.*Create it`));
    }
  } finally {
    store.close();
  }
});

Deno.test("s3 store reports an unreachable endpoint as StoreUnavailableError", async () => {
  const store = new S3Store({
    bucket: "lake",
    endpoint: "http://127.0.0.1:1",
    maxAttempts: 1,
    credentials,
  });
  try {
    for (
      const call of [
        () => store.put("a", bytes("x")),
        () => store.get("a"),
        () => collect(store.list("")),
        () => store.delete("a"),
      ]
    ) {
      const error = await call().catch((e) => e);
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.equal(error.retriable, true);
      assert.match(error.message, /S3 is unavailable.*127\.0\.0\.1:1.*ECONNREFUSED/);
    }
  } finally {
    store.close();
  }
});

/** Runs a local HTTP server answering like S3 would, for responses the emulator cannot give. */
async function withFakeS3(
  handler: (request: Request) => Response | Promise<Response>,
  body: (endpoint: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
  try {
    await body(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

function s3Error(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>1</RequestId></Error>`,
    { status, headers: { "content-type": "application/xml" } },
  );
}

Deno.test("s3 store classifies S3 error responses as retriable or as fixes to make", async () => {
  const cases: [number, string, (e: unknown) => boolean][] = [
    [503, "SlowDown", (e) => e instanceof StoreUnavailableError],
    [500, "InternalError", (e) => e instanceof StoreUnavailableError],
    [
      403,
      "AccessDenied",
      (e) =>
        e instanceof S3StoreError && e.kind === "access-denied" && /IAM policy/.test(e.message),
    ],
    [
      403,
      "InvalidAccessKeyId",
      (e) =>
        e instanceof S3StoreError && e.kind === "credentials" &&
        /AWS_ACCESS_KEY_ID/.test(e.message),
    ],
    [
      301,
      "PermanentRedirect",
      (e) =>
        e instanceof S3StoreError && e.kind === "wrong-region" && /Set AWS_REGION/.test(e.message),
    ],
    [400, "InvalidArgument", (e) => e instanceof S3StoreError && e.kind === "rejected"],
  ];
  for (const [status, code, check] of cases) {
    await withFakeS3(() => s3Error(status, code, "nope"), async (endpoint) => {
      const store = new S3Store({ bucket: "lake", endpoint, maxAttempts: 1, credentials });
      try {
        const error = await store.put("a/b.parquet", bytes("x")).catch((e) => e);
        assert.ok(check(error), `${status} ${code}: ${error}`);
        assert.match(error.message, /s3:\/\/lake\/a\/b\.parquet/);
      } finally {
        store.close();
      }
    });
  }
});

Deno.test("s3 store turns a request that gets no answer into StoreUnavailableError", async () => {
  let release!: () => void;
  const never = new Promise<void>((resolve) => release = resolve);
  await withFakeS3(async () => {
    await never;
    return new Response("late");
  }, async (endpoint) => {
    const store = new S3Store({
      bucket: "lake",
      endpoint,
      maxAttempts: 1,
      requestTimeoutMs: 300,
      credentials,
    });
    try {
      const error = await store.get("a").catch((e) => e);
      assert.ok(error instanceof StoreUnavailableError, String(error));
      assert.match(error.message, /TimeoutError|ETIMEDOUT/);
    } finally {
      release();
      store.close();
    }
  });
});

Deno.test("s3 store aborts a multipart upload when a part fails", async () => {
  const seen: string[] = [];
  await withFakeS3((request) => {
    const url = new URL(request.url);
    const params = [...url.searchParams.keys()].filter((k) => k !== "x-id").sort();
    seen.push(`${request.method} ${params.join(",")}`);
    if (request.method === "POST" && url.searchParams.has("uploads")) {
      return new Response(
        `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>lake</Bucket><Key>big</Key><UploadId>u1</UploadId></InitiateMultipartUploadResult>`,
        { headers: { "content-type": "application/xml" } },
      );
    }
    if (request.method === "DELETE") return new Response(null, { status: 204 });
    return s3Error(503, "ServiceUnavailable", "down");
  }, async (endpoint) => {
    const store = new S3Store({
      bucket: "lake",
      endpoint,
      maxAttempts: 1,
      multipartThreshold: 10,
      partSize: 5 * 1024 * 1024,
      credentials,
    });
    try {
      // Two parts: lib-storage's Upload sends a body of one part or less as a single PutObject.
      const body = new Uint8Array(5 * 1024 * 1024 + 100);
      await assert.rejects(store.put("big", body), StoreUnavailableError);
    } finally {
      store.close();
    }
  });
  // The parts go up concurrently, so both may be tried before the upload is aborted.
  assert.equal(seen[0], "POST uploads");
  assert.equal(seen.at(-1), "DELETE uploadId");
  const parts = seen.slice(1, -1);
  assert.ok(parts.length >= 1 && parts.length <= 2, seen.join("; "));
  assert.ok(parts.every((request) => request === "PUT partNumber,uploadId"), seen.join("; "));
});

Deno.test("s3 store rejects invalid names and sizes with clear errors", () => {
  assert.throws(() => new S3Store({ bucket: "My_Bucket" }), /Invalid S3 bucket name "My_Bucket"/);
  assert.throws(() => new S3Store({ bucket: "lake", prefix: "a/../b" }), /Invalid S3 prefix/);
  assert.throws(
    () => new S3Store({ bucket: "lake", partSize: 1024 }),
    /partSize must be an integer of at least 5242880/,
  );
  assert.throws(() => new S3Store({ bucket: "lake", pageSize: 5000 }), /pageSize must be 1-1000/);
});
