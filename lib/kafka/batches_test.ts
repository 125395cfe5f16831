import assert from "node:assert/strict";
import { batches } from "./batches.ts";

Deno.test("batches groups a fast source by size", async () => {
  const out: number[][] = [];
  for await (const b of batches([1, 2, 3, 4, 5], { size: 2, lingerMs: 1000 })) out.push(b);
  assert.deepEqual(out, [[1, 2], [3, 4], [5]]);
});

Deno.test("batches sends a partial batch once the linger time passed", async () => {
  async function* slow() {
    yield 1;
    await new Promise((r) => setTimeout(r, 100));
    yield 2;
  }
  const out: number[][] = [];
  for await (const b of batches(slow(), { size: 10, lingerMs: 10 })) out.push(b);
  assert.deepEqual(out, [[1], [2]]);
});

Deno.test("batches ends with what it holds when the signal aborts, even mid-wait", async () => {
  const controller = new AbortController();
  async function* endless() {
    yield 1;
    await new Promise(() => {}); // never yields again
  }
  setTimeout(() => controller.abort(), 30);
  const out: number[][] = [];
  for await (
    const b of batches(endless(), { size: 10, lingerMs: 5000, signal: controller.signal })
  ) {
    out.push(b);
  }
  assert.deepEqual(out, [[1]]);
});

Deno.test("batches keeps memory flat over a long stream with a signal", async () => {
  // Racing one long-lived abort promise per item once kept ~400 bytes per item alive (785 MB for
  // 2M items); each wait now has its own promise.
  async function* many(n: number) {
    for (let i = 0; i < n; i++) yield i;
  }
  const before = Deno.memoryUsage().heapUsed;
  let count = 0;
  const signal = new AbortController().signal;
  for await (const b of batches(many(1_000_000), { size: 1000, lingerMs: 20, signal })) {
    count += b.length;
  }
  assert.equal(count, 1_000_000);
  const grownMb = (Deno.memoryUsage().heapUsed - before) / 1e6;
  assert.ok(grownMb < 100, `heap grew by ${grownMb.toFixed(0)} MB over 1M items`);
});

Deno.test("batches takes a synchronous source in full batches and stops between them on abort", async () => {
  const controller = new AbortController();
  let taken = 0;
  function* counting() {
    for (let i = 0; i < 10_000; i++) {
      taken++;
      yield i;
    }
  }
  const out: number[] = [];
  const options = { size: 1000, lingerMs: 5000, signal: controller.signal };
  for await (const b of batches(counting(), options)) {
    out.push(b.length);
    if (out.length === 3) controller.abort();
  }
  assert.deepEqual(out, [1000, 1000, 1000]);
  assert.equal(taken, 3000, "no item read after the abort");
  const all: number[] = [];
  for await (const b of batches(new Set([1, 2, 3, 4, 5]), { size: 2, lingerMs: 1000 })) {
    all.push(...b);
  }
  assert.deepEqual(all, [1, 2, 3, 4, 5]);
});
