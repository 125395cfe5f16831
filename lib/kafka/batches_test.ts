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
