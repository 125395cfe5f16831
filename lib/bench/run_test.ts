import assert from "node:assert/strict";
import { type BenchPart, dataTopicRows, FULL_SIZES, QUICK_SIZES } from "./run.ts";

const only = (...parts: BenchPart[]) => (part: BenchPart) => parts.includes(part);

Deno.test("the data topic holds twice the consumer's rows, so no partition runs dry mid-run", () => {
  assert.equal(dataTopicRows(FULL_SIZES, only("consumer")), 2 * FULL_SIZES.smallRows);
  assert.equal(dataTopicRows(QUICK_SIZES, only("consumer")), 2 * QUICK_SIZES.smallRows);
  // The memory and query parts need the large lake's rows, which is more in the full run.
  assert.equal(dataTopicRows(FULL_SIZES, only("consumer", "memory")), FULL_SIZES.largeRows);
  assert.equal(dataTopicRows(FULL_SIZES, only("query")), FULL_SIZES.largeRows);
  // The memory part alone reads the small size once and the large one once.
  assert.equal(dataTopicRows({ ...QUICK_SIZES, largeRows: 500_000 }, only("memory")), 1_000_000);
});
