import assert from "node:assert/strict";
import { encodeTicks } from "../lake/encode.ts";
import { objectKey } from "../lake/layout.ts";
import { MemoryStore } from "../lake/memory_store.ts";
import { edgeTicks, listLakeObjects, readLakeTicks, sortTicks } from "./lake.ts";
import { tickProblem } from "../tick.ts";

const key = (format: "parquet" | "jsonl", startOffset: number, gzip = false, table = "ticks") =>
  objectKey({ table, dt: "2021-05-31", topic: "t", partition: 0, startOffset, format, gzip });

Deno.test("readLakeTicks reads every format of one table and skips other objects", async () => {
  const store = new MemoryStore();
  const [a, b, c, d, e] = edgeTicks();
  await store.put(key("parquet", 0), encodeTicks([a, b], { format: "parquet" }));
  await store.put(key("jsonl", 2), encodeTicks([c], { format: "jsonl" }));
  await store.put(key("jsonl", 3, true), encodeTicks([d], { format: "jsonl", gzip: true }));
  await store.put(key("parquet", 0, false, "other"), encodeTicks([e], { format: "parquet" }));
  await store.put("ticks/_SUCCESS", new Uint8Array());
  await store.put("_sink/g/t+0.json", new TextEncoder().encode("{}"));
  assert.deepEqual(await readLakeTicks(store), [a, b, c, d]);
  assert.deepEqual(await readLakeTicks(store, { table: "other" }), [e]);
  assert.deepEqual(await listLakeObjects(store), [
    key("parquet", 0),
    key("jsonl", 2),
    key("jsonl", 3, true),
  ]);
});

Deno.test("readLakeTicks fails on a lake object that does not decode", async () => {
  const store = new MemoryStore();
  await store.put(key("parquet", 0), new TextEncoder().encode("garbage"));
  await assert.rejects(
    readLakeTicks(store),
    /Cannot decode "ticks\/dt=2021-05-31\/t\+0\+0{20}\.parquet"/,
  );
});

Deno.test("edge ticks are valid ticks and sortTicks orders them by symbol then time", () => {
  const ticks = edgeTicks();
  for (const tick of ticks) assert.equal(tickProblem(tick), undefined, tick.symbol);
  const sorted = sortTicks([...ticks].reverse());
  assert.deepEqual(sorted.map((t) => t.symbol), ["000001.SS", "GDAXI", "J203.JO", "N225", "Ünï €"]);
});
