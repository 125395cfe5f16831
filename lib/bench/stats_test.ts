import assert from "node:assert/strict";
import { median, percentile, perSecond, spread } from "./stats.ts";

Deno.test("percentile takes the nearest rank of unsorted values", () => {
  const values = [50, 10, 40, 20, 30];
  assert.equal(percentile(values, 50), 30);
  assert.equal(percentile(values, 20), 10);
  assert.equal(percentile(values, 21), 20);
  assert.equal(percentile(values, 99), 50);
  assert.equal(percentile(values, 100), 50);
  assert.equal(percentile(values, 0), 10);
});

Deno.test("percentile of 100 values: p99 is the 99th smallest, not the largest", () => {
  const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1
  assert.equal(percentile(values, 99), 99);
  assert.equal(percentile(values, 50), 50);
});

Deno.test("percentile leaves its input unsorted", () => {
  const values = [3, 1, 2];
  percentile(values, 50);
  assert.deepEqual(values, [3, 1, 2]);
});

Deno.test("percentile rejects no values, NaN and p outside 0..100 with a clear message", () => {
  assert.throws(() => percentile([], 50), /no values/);
  assert.throws(() => percentile([1, NaN], 50), /non-finite/);
  assert.throws(() => percentile([1, Infinity], 50), /non-finite/);
  assert.throws(() => percentile([1], 101), /between 0 and 100/);
  assert.throws(() => percentile([1], -1), /between 0 and 100/);
  assert.throws(() => percentile([1], NaN), /between 0 and 100/);
});

Deno.test("median is the middle value", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([7]), 7);
});

Deno.test("perSecond turns a count over milliseconds into a rate, 0 for no time", () => {
  assert.equal(perSecond(5000, 2000), 2500);
  assert.equal(perSecond(10, 0), 0);
  assert.equal(perSecond(10, -5), 0);
});

Deno.test("spread keeps the median, min, max and every run in measured order", () => {
  assert.deepEqual(spread([30, 10, 20]), { median: 20, min: 10, max: 30, runs: [30, 10, 20] });
  assert.throws(() => spread([]), RangeError);
});
