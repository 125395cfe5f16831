import assert from "node:assert/strict";
import { basename, dirname, join, relative } from "node:path";
import { FsStore, FsStoreError } from "./fs_store.ts";
import { checkStoreContract, collect, tempLake } from "../testing/lake.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("fs store keeps the store contract", async (t) => {
  await using lake = await tempLake();
  await checkStoreContract(t, lake.store);
});

Deno.test("fs store writes objects as plain files under the root, creating folders", async () => {
  await using lake = await tempLake();
  await lake.store.put("ticks/dt=2021-05-31/t+0+1.jsonl", bytes("{}\n"));
  const onDisk = await Deno.readTextFile(join(lake.dir, "ticks", "dt=2021-05-31", "t+0+1.jsonl"));
  assert.equal(onDisk, "{}\n");
  assert.equal(lake.store.uri, lake.dir);
});

Deno.test("fs store writes again into a folder removed behind its back", async () => {
  await using lake = await tempLake();
  await lake.store.put("ticks/dt=2021-05-31/a.parquet", bytes("1"));
  await Deno.remove(join(lake.dir, "ticks"), { recursive: true }); // e.g. a cleanup
  await lake.store.put("ticks/dt=2021-05-31/b.parquet", bytes("2"));
  assert.deepEqual((await collect(lake.store.list(""))).map((o) => o.key), [
    "ticks/dt=2021-05-31/b.parquet",
  ]);
});

Deno.test("fs store leaves no temp files behind after puts", async () => {
  await using lake = await tempLake();
  for (let i = 0; i < 3; i++) await lake.store.put("ticks/a.parquet", bytes(`v${i}`));
  const names = [...Deno.readDirSync(join(lake.dir, "ticks"))].map((e) => e.name);
  assert.deepEqual(names, ["a.parquet"]);
});

Deno.test("fs store list skips in-flight temp files but keeps other dotfiles", async () => {
  await using lake = await tempLake();
  await lake.store.put("ticks/a.parquet", bytes("a"));
  await Deno.writeTextFile(join(lake.dir, "ticks", ".a.parquet.0123456789abcdef.tmp"), "partial");
  await Deno.writeTextFile(join(lake.dir, "ticks", ".keep"), "");
  assert.deepEqual((await collect(lake.store.list(""))).map((o) => o.key), [
    "ticks/.keep",
    "ticks/a.parquet",
  ]);
});

Deno.test("fs store lists nothing when the root folder does not exist yet", async () => {
  await using lake = await tempLake();
  const store = new FsStore(join(lake.dir, "not", "yet"));
  assert.deepEqual(await collect(store.list("")), []);
  assert.equal(await store.get("a"), undefined);
  await store.delete("a");
});

Deno.test("fs store sorts keys by full key, not folder by folder", async () => {
  await using lake = await tempLake();
  await lake.store.put("a/b", bytes("1"));
  await lake.store.put("a.b", bytes("1"));
  await lake.store.put("a-c", bytes("1"));
  assert.deepEqual((await collect(lake.store.list(""))).map((o) => o.key), ["a-c", "a.b", "a/b"]);
});

Deno.test("fs store explains a file standing where a folder should be", async () => {
  await using lake = await tempLake();
  await lake.store.put("ticks", bytes("not a folder"));
  const error = await lake.store.put("ticks/a.parquet", bytes("x")).catch((e) => e);
  assert.ok(error instanceof FsStoreError, String(error));
  assert.equal(error.retriable, false);
  assert.match(error.message, /Cannot write "ticks\/a\.parquet".*move it away/);
});

Deno.test({
  name: "fs store explains a lake folder it may not write to",
  ignore: Deno.uid() === 0, // root ignores file permissions
}, async () => {
  await using lake = await tempLake();
  await Deno.chmod(lake.dir, 0o500);
  try {
    await assert.rejects(lake.store.put("ticks/a.parquet", bytes("x")), /writable/);
  } finally {
    await Deno.chmod(lake.dir, 0o700);
  }
});

Deno.test("fs store cleans up its temp file when the final rename fails", async () => {
  await using lake = await tempLake();
  await lake.store.put("ticks/a.parquet/inner", bytes("x"));
  const error = await lake.store.put("ticks/a.parquet", bytes("y")).catch((e) => e);
  assert.ok(error instanceof FsStoreError, String(error));
  assert.match(error.message, /a folder stands where the lake expects an object/);
  const names = [...Deno.readDirSync(join(lake.dir, "ticks"))].map((e) => e.name);
  assert.deepEqual(names, ["a.parquet"]);
});

Deno.test("fs store rejects an empty root", () => {
  assert.throws(() => new FsStore(""), FsStoreError);
});

Deno.test("fs store without fsync still writes whole objects", async () => {
  await using lake = await tempLake();
  const store = new FsStore(lake.dir, { fsync: false });
  await store.put("a/b.jsonl", bytes("abc"));
  assert.deepEqual(await store.get("a/b.jsonl"), bytes("abc"));
});

Deno.test("fs store flushes each new folder's entry in its parent once, and the object's folder every put", async () => {
  await using lake = await tempLake();
  const synced: string[] = [];
  const store = new FsStore(lake.dir, {
    syncFolder: async (path) => {
      synced.push(relative(dirname(lake.dir), path) || ".");
      const handle = await Deno.open(path, { read: true });
      try {
        await handle.sync();
      } finally {
        handle.close();
      }
    },
  });
  const root = basename(lake.dir);
  await store.put("ticks/dt=2021-05-31/a.parquet", bytes("a"));
  // New: dt=2021-05-31 (in ticks), ticks (in the lake folder), the lake folder (in its parent);
  // then the object's folder after the rename.
  assert.deepEqual(synced, [
    join(root, "ticks"),
    root,
    ".",
    join(root, "ticks", "dt=2021-05-31"),
  ]);
  synced.length = 0;
  await store.put("ticks/dt=2021-05-31/b.parquet", bytes("b"));
  assert.deepEqual(synced, [join(root, "ticks", "dt=2021-05-31")], "a known folder: no entry sync");
  synced.length = 0;
  await store.put("ticks/dt=2021-06-01/c.parquet", bytes("c"));
  assert.deepEqual(synced, [join(root, "ticks"), join(root, "ticks", "dt=2021-06-01")]);
  synced.length = 0;
  await Deno.remove(join(lake.dir, "ticks"), { recursive: true }); // e.g. a cleanup
  await store.put("ticks/dt=2021-06-01/d.parquet", bytes("d"));
  assert.deepEqual(synced, [
    join(root, "ticks"),
    root,
    ".",
    join(root, "ticks", "dt=2021-06-01"),
  ], "folders made again (any on the way up) are flushed again");
});

Deno.test("fs store without fsync flushes no folder", async () => {
  await using lake = await tempLake();
  const synced: string[] = [];
  const store = new FsStore(lake.dir, {
    fsync: false,
    syncFolder: (path) => Promise.resolve(void synced.push(path)),
  });
  await store.put("ticks/dt=2021-05-31/a.parquet", bytes("a"));
  assert.deepEqual(synced, []);
});

Deno.test("fs store lists every object that stays while others in its folder are deleted", async () => {
  // A compaction's cleanup deletes replaced objects while queries list the partition: an object
  // gone between the folder read and its size lookup must not end the folder's listing.
  await using lake = await tempLake();
  const stays = Array.from({ length: 40 }, (_, i) => `ticks/dt=2021-06-01/stay-${i}.parquet`);
  for (const key of stays) await lake.store.put(key, bytes("x"));
  let listings = 0;
  for (let round = 0; round < 5; round++) {
    const goes = Array.from(
      { length: 200 },
      (_, i) => `ticks/dt=2021-06-01/go-${round}-${i}.parquet`,
    );
    for (const key of goes) await lake.store.put(key, bytes("x"));
    let done = false;
    const deleting = (async () => {
      for (const key of goes) await lake.store.delete(key);
      done = true;
    })();
    while (!done) {
      const listed = new Set((await collect(lake.store.list("ticks/"))).map((o) => o.key));
      assert.deepEqual(stays.filter((key) => !listed.has(key)), [], "stayed but not listed");
      listings++;
    }
    await deleting;
  }
  assert.ok(listings >= 5, `${listings} listings ran during the deletes`);
});
