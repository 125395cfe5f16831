import assert from "node:assert/strict";
import { MemoryStore } from "./memory_store.ts";
import { StoreUnavailableError } from "./store.ts";
import { checkStoreContract, collect } from "../testing/lake.ts";

const body = new TextEncoder().encode("x");

Deno.test("memory store keeps the store contract", (t) => checkStoreContract(t, new MemoryStore()));

Deno.test("memory store failNext(n) fails exactly the next n calls with a retriable error", async () => {
  const store = new MemoryStore();
  store.failNext(2);
  const first = await store.put("a", body).catch((e) => e);
  assert.ok(first instanceof StoreUnavailableError);
  assert.equal(first.retriable, true);
  await assert.rejects(store.get("a"), StoreUnavailableError);
  await store.put("a", body);
  assert.deepEqual(await store.get("a"), body);
  assert.deepEqual(store.calls, { put: 2, get: 2, list: 0, delete: 0 });
});

Deno.test("memory store failNext can target only some operations", async () => {
  const store = new MemoryStore();
  await store.put("a", body);
  store.failNext(1, ["put"]);
  assert.deepEqual(await store.get("a"), body);
  assert.deepEqual(await collect(store.list("")), [{ key: "a", size: 1 }]);
  await assert.rejects(store.put("b", body), StoreUnavailableError);
  await store.put("b", body);
  assert.deepEqual(store.keys(), ["a", "b"]);
});

Deno.test("memory store setAvailable(false) fails every call until it is back", async () => {
  const store = new MemoryStore({ name: "down" });
  store.setAvailable(false);
  await assert.rejects(store.put("a", body), /memory:\/\/down is unavailable/);
  await assert.rejects(collect(store.list("")), StoreUnavailableError);
  await assert.rejects(store.delete("a"), StoreUnavailableError);
  store.setAvailable(true);
  await store.put("a", body);
  assert.deepEqual(store.keys(), ["a"]);
});

Deno.test("memory store rejects a negative failNext count", () => {
  assert.throws(() => new MemoryStore().failNext(-1), RangeError);
});

Deno.test("memory store returns copies, so readers cannot change stored objects", async () => {
  const store = new MemoryStore();
  await store.put("a", new Uint8Array([1, 2]));
  (await store.get("a"))!.fill(9);
  assert.deepEqual(await store.get("a"), new Uint8Array([1, 2]));
});
