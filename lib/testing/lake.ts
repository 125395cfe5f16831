/**
 * Test helpers for the lake: read a whole table back as ticks, edge-case ticks, a throwaway lake
 * folder, an S3 store on a fresh bucket of the test emulator, and an independent Parquet reader
 * (Python with pyarrow/duckdb) to prove files are readable outside nodejs-polars.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DeleteBucketCommand } from "@aws-sdk/client-s3";
import { decodeObject } from "../lake/encode.ts";
import { FsStore } from "../lake/fs_store.ts";
import { readTable } from "../lake/generations.ts";
import { LayoutError, tablePrefix } from "../lake/layout.ts";
import { S3Store, type S3StoreOptions } from "../lake/s3_store.ts";
import type { Store } from "../lake/store.ts";
import type { Tick } from "../tick.ts";

/** Options of {@linkcode readLakeTicks}. */
export interface ReadLakeTicksOptions {
  /** Table to read. @default "ticks" */
  table?: string;
}

/**
 * Reads every live lake object of a table (`.parquet`, `.jsonl`, `.jsonl.gz`; see
 * {@linkcode listLakeObjects}) with the matching decoder and returns all ticks, in key order then
 * row order. Other objects under the table (markers, checkpoints) are skipped.
 *
 * @example
 * ```ts
 * import { readLakeTicks } from "./lake.ts";
 * import { MemoryStore } from "../lake/memory_store.ts";
 * const ticks = await readLakeTicks(new MemoryStore()); // []
 * ```
 */
export async function readLakeTicks(
  store: Store,
  options: ReadLakeTicksOptions = {},
): Promise<Tick[]> {
  const ticks: Tick[] = [];
  for (const key of await listLakeObjects(store, options)) {
    const bytes = await store.get(key);
    if (bytes === undefined) throw new Error(`Lake object "${key}" vanished while being read.`);
    for (const tick of decodeObject(key, bytes)) ticks.push(tick);
  }
  return ticks;
}

/**
 * The keys of every live lake object of a table, in key order: the reader rule of
 * `lib/lake/generations.ts`, so a compacted partition counts its current generation only.
 */
export async function listLakeObjects(
  store: Store,
  options: ReadLakeTicksOptions = {},
): Promise<string[]> {
  const views = await readTable(store, tablePrefix(options.table));
  return views.flatMap((view) => view.objects.map((object) => object.key));
}

/** Sorts ticks by symbol then time, to compare lakes regardless of object order. */
export function sortTicks(ticks: readonly Tick[]): Tick[] {
  return [...ticks].sort((a, b) =>
    a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : a.ts - b.ts
  );
}

/**
 * A handful of ticks that stress encoders: dotted and non-ASCII symbols, millisecond times,
 * pre-1970 and far-future dates, every optional price `null`, zero volume, tiny and huge values.
 */
export function edgeTicks(): Tick[] {
  const base = {
    open: 1.5,
    high: 2.25,
    low: 1.125,
    close: 2,
    adj_close: 2,
    volume: 0,
    close_usd: 0.3,
  };
  return [
    { ...base, symbol: "000001.SS", ts: Date.UTC(2021, 4, 31) },
    { ...base, symbol: "J203.JO", ts: Date.UTC(2021, 4, 31, 23, 59, 59, 999), volume: 123456789 },
    {
      symbol: "N225",
      ts: Date.UTC(1965, 0, 5),
      open: null,
      high: null,
      low: null,
      close: 1257.72,
      adj_close: null,
      volume: null,
      close_usd: null,
    },
    { ...base, symbol: "Ünï €", ts: Date.UTC(2199, 11, 31, 12), close: 1e-9, high: 1e12 },
    { ...base, symbol: "GDAXI", ts: 1, open: 0, low: 0, close: 0, high: 0 },
  ];
}

/**
 * A fresh lake folder that deletes itself: `await using lake = await tempLake();`.
 *
 * @example
 * ```ts
 * import { tempLake } from "./lake.ts";
 * await using lake = await tempLake();
 * await lake.store.put("ticks/a.jsonl", new Uint8Array());
 * ```
 */
export async function tempLake(): Promise<
  { dir: string; store: FsStore } & AsyncDisposable
> {
  const dir = await Deno.makeTempDir({ prefix: "lake_test_" });
  return {
    dir,
    store: new FsStore(dir),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}

/**
 * Reads a required environment variable for a test, failing with a message that says how to
 * provide it (never passing silently).
 */
export function requireTestEnv(name: string, hint: string): string {
  const value = Deno.env.get(name);
  if (value === undefined || value.trim() === "") {
    throw new Error(
      `This test needs ${name} (${hint}). Run the tests with "deno task test", which sets it up.`,
    );
  }
  return value.trim();
}

/** A unique, valid S3 bucket name for one test run, e.g. `lake-test-lq3x9a-4f2c`. */
export function uniqueBucketName(prefix = "lake-test"): string {
  const random = crypto.getRandomValues(new Uint8Array(3));
  const suffix = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${prefix}-${Date.now().toString(36)}-${suffix}`;
}

/**
 * An {@linkcode S3Store} on a new bucket of the emulator at `AWS_ENDPOINT_URL` (moto). Dispose
 * it to empty and delete the bucket: `await using s3 = await s3TestStore();`.
 *
 * @throws {Error} when `AWS_ENDPOINT_URL` is not set, saying how to run the tests.
 */
export async function s3TestStore(
  options: Partial<S3StoreOptions> = {},
): Promise<S3Store & AsyncDisposable> {
  const endpoint = requireTestEnv(
    "AWS_ENDPOINT_URL",
    "an S3 emulator such as moto, e.g. http://127.0.0.1:5000",
  );
  const store = new S3Store({
    bucket: uniqueBucketName(),
    endpoint,
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    ...options,
  });
  await store.ensureBucket();
  return Object.assign(store, {
    [Symbol.asyncDispose]: async () => {
      try {
        const root = new S3Store({ bucket: store.bucket, endpoint, client: store.client });
        for await (const { key } of root.list("")) await root.delete(key);
        await store.client.send(new DeleteBucketCommand({ Bucket: store.bucket }));
      } finally {
        store.close();
      }
    },
  });
}

/**
 * The Python used as an independent Parquet reader: env `LAKE_TEST_PYTHON` (a Python with
 * pyarrow and duckdb).
 *
 * @throws {Error} when it is not set, saying to run via `deno task test`.
 */
export function lakeTestPython(): string {
  return requireTestEnv("LAKE_TEST_PYTHON", "a Python with pyarrow and duckdb");
}

/**
 * Runs a Python script with {@linkcode lakeTestPython} and returns its stdout.
 *
 * @throws {Error} with the script's stderr when it exits non-zero.
 */
export async function runTestPython(script: string, args: string[] = []): Promise<string> {
  const python = lakeTestPython();
  const output = await new Deno.Command(python, {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${python} failed (exit ${output.code}):\n${decoder.decode(output.stderr)}`,
    );
  }
  return decoder.decode(output.stdout);
}

/**
 * Runs the behaviour every {@linkcode Store} must have as named test steps against `store`
 * (which should start empty): missing keys, round-trips, overwrites, ordered prefix listings,
 * idempotent deletes and rejection of keys that escape the lake root.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "../lake/memory_store.ts";
 * import { checkStoreContract } from "./lake.ts";
 * Deno.test("memory store keeps the store contract", (t) => checkStoreContract(t, new MemoryStore()));
 * ```
 */
export async function checkStoreContract(t: Deno.TestContext, store: Store): Promise<void> {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const text = (body: Uint8Array | undefined) =>
    body === undefined ? undefined : new TextDecoder().decode(body);

  await t.step("get resolves undefined for a missing key", async () => {
    assert.equal(await store.get("ticks/dt=2021-05-31/missing.parquet"), undefined);
  });

  await t.step("put then get returns the same bytes, including an empty body", async () => {
    await store.put("ticks/dt=2021-05-31/a.jsonl", bytes("first\n"));
    await store.put("empty.bin", new Uint8Array());
    assert.equal(text(await store.get("ticks/dt=2021-05-31/a.jsonl")), "first\n");
    assert.deepEqual(await store.get("empty.bin"), new Uint8Array());
  });

  await t.step(
    "put overwrites and later changes to the caller's buffer do not leak in",
    async () => {
      const body = bytes("second\n");
      await store.put("ticks/dt=2021-05-31/a.jsonl", body);
      body.fill(0);
      assert.equal(text(await store.get("ticks/dt=2021-05-31/a.jsonl")), "second\n");
    },
  );

  await t.step("list yields only keys under the prefix, sorted, with sizes", async () => {
    await store.put("ticks/dt=2021-06-01/b.parquet", bytes("12345"));
    await store.put("ticks/dt=2021-05-31/c.jsonl.gz", bytes("1"));
    await store.put("ticksother/x", bytes("1"));
    assert.deepEqual(await collect(store.list("ticks/")), [
      { key: "ticks/dt=2021-05-31/a.jsonl", size: 7 },
      { key: "ticks/dt=2021-05-31/c.jsonl.gz", size: 1 },
      { key: "ticks/dt=2021-06-01/b.parquet", size: 5 },
    ]);
    assert.deepEqual(
      (await collect(store.list("ticks/dt=2021-06"))).map((o) => o.key),
      ["ticks/dt=2021-06-01/b.parquet"],
    );
    assert.deepEqual(
      (await collect(store.list(""))).map((o) => o.key),
      [
        "empty.bin",
        "ticks/dt=2021-05-31/a.jsonl",
        "ticks/dt=2021-05-31/c.jsonl.gz",
        "ticks/dt=2021-06-01/b.parquet",
        "ticksother/x",
      ],
    );
    assert.deepEqual(await collect(store.list("nothing/here/")), []);
  });

  await t.step("delete removes an object and ignores one that is already gone", async () => {
    await store.delete("ticksother/x");
    await store.delete("ticksother/x");
    assert.equal(await store.get("ticksother/x"), undefined);
    assert.equal((await collect(store.list("ticksother/"))).length, 0);
  });

  await t.step("putIfAbsent writes a new key once and never overwrites", async () => {
    assert.equal(await store.putIfAbsent("_sink/g/t+0/1.json", bytes("mine")), true);
    assert.equal(await store.putIfAbsent("_sink/g/t+0/1.json", bytes("theirs")), false);
    assert.equal(text(await store.get("_sink/g/t+0/1.json")), "mine");
  });

  await t.step("of eight racing putIfAbsent calls on one key exactly one wins", async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.putIfAbsent("_sink/g/t+0/2.json", bytes(`w${i}`))),
    );
    assert.equal(results.filter((won) => won).length, 1);
    const winner = results.indexOf(true);
    assert.equal(text(await store.get("_sink/g/t+0/2.json")), `w${winner}`);
    await store.delete("_sink/g/t+0/1.json");
    await store.delete("_sink/g/t+0/2.json");
  });

  await t.step("keys that escape the lake root or are malformed are rejected", async () => {
    for (const key of ["../escape", "/etc/passwd", "a//b", "a/../../b", "./a", "", "a\\b", "a/"]) {
      await assert.rejects(store.put(key, bytes("x")), LayoutError, `put ${JSON.stringify(key)}`);
      await assert.rejects(store.get(key), LayoutError, `get ${JSON.stringify(key)}`);
      await assert.rejects(store.delete(key), LayoutError, `delete ${JSON.stringify(key)}`);
      await assert.rejects(store.putIfAbsent(key, bytes("x")), LayoutError, `putIfAbsent ${key}`);
    }
    await assert.rejects(collect(store.list("../")), LayoutError);
  });
}

/** Collects an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const result: T[] = [];
  for await (const item of items) result.push(item);
  return result;
}

/**
 * `store` with its `put` replaced by `put` (which may call the original), for tests that inject
 * a failure or a side effect into object writes; every other call goes to `store` as it is.
 */
export function withPut(
  store: Store,
  put: (key: string, body: Uint8Array) => Promise<void>,
): Store {
  return {
    uri: store.uri,
    put,
    putIfAbsent: (key, body) => store.putIfAbsent(key, body),
    get: (key) => store.get(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
  };
}
