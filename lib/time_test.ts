import assert from "node:assert/strict";
import { ManualClock, sleep, systemClock } from "./time.ts";

Deno.test("sleep resolves after the delay", async () => {
  const before = performance.now();
  await sleep(5);
  assert.ok(performance.now() - before >= 4);
});

Deno.test("sleep rejects with the signal's reason, at once when already aborted", async () => {
  const controller = new AbortController();
  const sleeping = sleep(60_000, controller.signal);
  controller.abort(new Error("stop"));
  await assert.rejects(sleeping, /stop/);
  await assert.rejects(sleep(60_000, controller.signal), /stop/);
});

Deno.test("systemClock reads epoch milliseconds and its sleep resolves early on abort", async () => {
  assert.ok(Math.abs(systemClock.now() - Date.now()) < 1000);
  const controller = new AbortController();
  const sleeping = systemClock.sleep(60_000, controller.signal);
  controller.abort();
  await sleeping;
});

Deno.test("ManualClock advances by exactly what the code sleeps", async () => {
  const clock = new ManualClock({ start: 10 });
  await clock.sleep(5);
  assert.equal(clock.now(), 15);
  assert.deepEqual(clock.sleeps, [5]);
});
