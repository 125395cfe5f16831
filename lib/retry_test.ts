import assert from "node:assert/strict";
import { MemoryLogger } from "./log.ts";
import { retry } from "./retry.ts";

const transient = () => Object.assign(new Error("503 Slow Down"), { retriable: true });
const noSleep = () => Promise.resolve();

Deno.test("retry repeats a retriable failure until it works and logs each attempt", async () => {
  const logger = new MemoryLogger();
  let calls = 0;
  const value = await retry(() => {
    calls++;
    return calls < 4 ? Promise.reject(transient()) : Promise.resolve("ok");
  }, { what: "writing x", logger, sleep: noSleep });
  assert.equal(value, "ok");
  assert.equal(calls, 4);
  assert.equal(logger.lines.filter((l) => l.startsWith("warn: writing x failed")).length, 3);
});

Deno.test("retry rethrows a non-retriable error at once", async () => {
  let calls = 0;
  await assert.rejects(
    retry(() => {
      calls++;
      return Promise.reject(new Error("Access denied"));
    }, { what: "x", sleep: noSleep }),
    /Access denied/,
  );
  assert.equal(calls, 1);
});

Deno.test("retry gives up after maxAttempts and calls onWait while waiting", async () => {
  let waits = 0;
  await assert.rejects(
    retry(() => Promise.reject(transient()), {
      what: "x",
      maxAttempts: 3,
      sleep: noSleep,
      onWait: () => {
        waits++;
        return Promise.resolve();
      },
    }),
    /503/,
  );
  assert.ok(waits >= 2);
});

Deno.test("retry stops waiting when its signal aborts", async () => {
  const controller = new AbortController();
  const started = Date.now();
  setTimeout(() => controller.abort(), 20);
  await assert.rejects(
    retry(() => Promise.reject(transient()), {
      what: "x",
      initialDelayMs: 60_000,
      signal: controller.signal,
    }),
    /503/,
  );
  assert.ok(Date.now() - started < 5000);
});
