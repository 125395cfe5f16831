import assert from "node:assert/strict";
import { resolve } from "node:path";
import { LakeUriError, openStore, parseLakeUri } from "./open_store.ts";
import { FsStore } from "./fs_store.ts";
import { S3Store } from "./s3_store.ts";

Deno.test("parseLakeUri reads folders, file URLs and s3 URIs", () => {
  assert.deepEqual(parseLakeUri("./lake"), { kind: "fs", path: "./lake" });
  assert.deepEqual(parseLakeUri("lake"), { kind: "fs", path: "lake" });
  assert.deepEqual(parseLakeUri("/var/lake"), { kind: "fs", path: "/var/lake" });
  assert.deepEqual(parseLakeUri("file:///var/my%20lake"), { kind: "fs", path: "/var/my lake" });
  assert.deepEqual(parseLakeUri("s3://my-lake"), { kind: "s3", bucket: "my-lake", prefix: "" });
  assert.deepEqual(parseLakeUri("s3://my-lake/"), { kind: "s3", bucket: "my-lake", prefix: "" });
  assert.deepEqual(parseLakeUri(" s3://my.lake/stock_market/raw/ "), {
    kind: "s3",
    bucket: "my.lake",
    prefix: "stock_market/raw",
  });
});

Deno.test("parseLakeUri rejects other schemes and bad buckets, listing what it accepts", () => {
  const accepted =
    /folder \(\.\/lake, \/abs\/path, file:\/\/\/abs\/path\) or s3:\/\/bucket\[\/prefix\]/;
  for (
    const [uri, reason] of [
      ["", /empty/],
      ["   ", /empty/],
      ["gs://bucket/x", /unsupported scheme "gs:"/],
      ["s3a://bucket/x", /unsupported scheme "s3a:"/],
      ["https://bucket.s3.amazonaws.com/x", /unsupported scheme "https:"/],
      ["s3://", /invalid bucket name ""/],
      ["s3://My_Bucket/x", /invalid bucket name "My_Bucket"/],
      ["s3://ok-bucket/a/../b", /invalid prefix/],
      ["file://host/x", /not a valid file URL/],
    ] as const
  ) {
    assert.throws(
      () => parseLakeUri(uri),
      (e: unknown) =>
        e instanceof LakeUriError && reason.test(e.message) &&
        (accepted.test(e.message) || /file URL/.test(e.message)),
      uri,
    );
  }
});

Deno.test("openStore opens a folder store for paths and file URLs", () => {
  const store = openStore("./lake");
  assert.ok(store instanceof FsStore);
  assert.equal(store.uri, resolve("./lake"));
  assert.equal(openStore("file:///tmp/lake").uri, "/tmp/lake");
});

Deno.test("openStore opens an S3 store with the region and endpoint given", () => {
  const store = openStore("s3://my-lake/stock_market", {
    region: "eu-west-1",
    endpoint: "http://127.0.0.1:5000",
  });
  assert.ok(store instanceof S3Store);
  try {
    assert.equal(store.uri, "s3://my-lake/stock_market");
    assert.equal(store.bucket, "my-lake");
    assert.equal(store.prefix, "stock_market");
    assert.equal(store.endpoint, "http://127.0.0.1:5000");
  } finally {
    store.close();
  }
});
