import assert from "node:assert/strict";
import { pace, type PaceMode, paceModeFromFlags, PaceOptionError, sampleTicks } from "./pace.ts";
import { ManualClock, systemClock } from "../time.ts";
import { mulberry32, simulateTicks } from "./simulate.ts";
import type { Tick } from "../tick.ts";

const DAY = 86_400_000;

function daily(count: number): Tick[] {
  return [...simulateTicks({ symbols: ["NYA"], count })];
}

/** Runs a paced stream to the end and returns the clock time at which each tick came out. */
async function times<T>(stream: AsyncIterable<T>, clock: ManualClock): Promise<number[]> {
  const out: number[] = [];
  for await (const _ of stream) out.push(clock.now());
  return out;
}

Deno.test("pace with a rate spaces ticks evenly, the first at once", async () => {
  const clock = new ManualClock();
  assert.deepEqual(await times(pace(daily(5), { rate: 10 }, { clock }), clock), [
    0,
    100,
    200,
    300,
    400,
  ]);
  assert.deepEqual(clock.sleeps, [100, 100, 100, 100]);
});

Deno.test("pace at a high rate sleeps once per few milliseconds, not once per tick", async () => {
  const clock = new ManualClock();
  const ticks = [...simulateTicks({ symbols: ["A"], count: 10_000, intervalMs: 1 })];
  let count = 0;
  for await (const _ of pace(ticks, { rate: 100_000 }, { clock })) count++;
  assert.equal(count, 10_000);
  assert.ok(clock.sleeps.length <= 25, `${clock.sleeps.length} sleeps`);
  assert.ok(clock.sleeps.every((ms) => ms > 5));
  assert.ok(
    Math.abs(clock.now() - 100) <= 5,
    `10,000 ticks at 100,000/s end near 100 ms, not ${clock.now()}`,
  );
});

Deno.test("pace with a speed replays by event time, one day per second at 86400x", async () => {
  const clock = new ManualClock();
  const ticks = daily(4);
  assert.deepEqual(ticks.map((t) => t.ts - ticks[0].ts), [0, DAY, 2 * DAY, 3 * DAY]);
  assert.deepEqual(await times(pace(ticks, { speed: 86_400 }, { clock }), clock), [
    0,
    1000,
    2000,
    3000,
  ]);
});

Deno.test("pace with a speed does not delay ticks that go back in event time", async () => {
  const clock = new ManualClock();
  const [a, b, c] = daily(3);
  const stream = pace([a, c, b, { ...a, symbol: "B" }], { speed: 86_400 }, { clock });
  assert.deepEqual(await times(stream, clock), [0, 2000, 2000, 2000]);
});

Deno.test("pace at max speed never sleeps", async () => {
  const clock = new ManualClock();
  assert.equal((await times(pace(daily(100), { speed: "max" }, { clock }), clock)).length, 100);
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("pace restarts its schedule after falling behind by more than maxBurstMs", async () => {
  const clock = new ManualClock();
  const out: number[] = [];
  for await (const _ of pace(daily(6), { rate: 10 }, { clock, maxBurstMs: 250 })) {
    out.push(clock.now());
    if (out.length === 2) clock.advance(1000); // a slow consumer
  }
  // Tick 3 (due at 200) comes at 1100 with no burst of the missed slots; then 100 ms apart again.
  assert.deepEqual(out, [0, 100, 1100, 1200, 1300, 1400]);
});

Deno.test("pace catches up in a burst when behind by less than maxBurstMs", async () => {
  const clock = new ManualClock();
  const out: number[] = [];
  for await (const _ of pace(daily(5), { rate: 10 }, { clock })) {
    out.push(clock.now());
    if (out.length === 1) clock.advance(250);
  }
  assert.deepEqual(out, [0, 250, 250, 300, 400]);
});

Deno.test("pace ends quietly when aborted during a sleep", async () => {
  const clock = new ManualClock({ autoAdvance: false });
  const controller = new AbortController();
  const stream = pace(daily(5), { rate: 1 }, { clock, signal: controller.signal });
  assert.equal((await stream.next()).done, false);
  const next = stream.next();
  await clock.untilSleeping();
  assert.equal(clock.pending, 1);
  controller.abort();
  assert.deepEqual(await next, { done: true, value: undefined });
  assert.equal(clock.pending, 0);
});

Deno.test("pace waits on the clock until it is advanced", async () => {
  const clock = new ManualClock({ autoAdvance: false });
  const stream = pace(daily(2), { rate: 2 }, { clock });
  await stream.next();
  let settled = false;
  const next = stream.next().then((r) => (settled = true, r));
  await clock.untilSleeping();
  clock.advance(499);
  await Promise.resolve();
  assert.equal(settled, false, "not due before 500 ms");
  clock.advance(1);
  assert.equal((await next).done, false);
});

Deno.test("pace rejects rates and speeds that are not positive numbers", () => {
  const bad: [PaceMode, RegExp][] = [
    [{ rate: 0 }, /rate must be a positive number/],
    [{ rate: NaN }, /rate must be a positive number/],
    [{ speed: -2 }, /speed must be "max" or a positive multiple/],
    [{ speed: "fast" } as unknown as PaceMode, /got "fast"/],
  ];
  for (const [mode, message] of bad) {
    assert.throws(
      () => pace([], mode),
      (e: unknown) => e instanceof PaceOptionError && message.test(e.message),
    );
  }
});

Deno.test("sampleTicks sends a random row every interval, the first at once, up to the limit", async () => {
  const clock = new ManualClock();
  const rows = daily(10);
  const random = mulberry32(9);
  const out: Tick[] = [];
  const at: number[] = [];
  for await (const tick of sampleTicks(rows, { random, limit: 4, clock })) {
    out.push(tick);
    at.push(clock.now());
  }
  assert.deepEqual(at, [0, 1000, 2000, 3000]);
  const replay = mulberry32(9);
  const order = rows.map((_, i) => i);
  const expected = Array.from({ length: 4 }, (_, i) => {
    const j = i + Math.floor(replay() * (rows.length - i));
    [order[i], order[j]] = [order[j], order[i]];
    return rows[order[i]];
  });
  assert.deepEqual(out, expected);
  out[0].close = -1;
  assert.equal(rows.some((r) => r.close === -1), false, "ticks are copies of the rows");
});

Deno.test("sampleTicks never sends a row twice, and ends when every row was sent", async () => {
  const rows = daily(50);
  const out: Tick[] = [];
  for await (const tick of sampleTicks(rows, { clock: new ManualClock(), random: mulberry32(3) })) {
    out.push(tick);
  }
  assert.equal(out.length, 50);
  assert.equal(new Set(out.map((t) => `${t.symbol}|${t.ts}`)).size, 50, "no (symbol, ts) twice");
  assert.notDeepEqual(out.map((t) => t.ts), rows.map((t) => t.ts), "in a random order");
  const fewer: Tick[] = [];
  for await (const tick of sampleTicks(rows, { clock: new ManualClock(), limit: 7 })) {
    fewer.push(tick);
  }
  assert.equal(new Set(fewer.map((t) => t.ts)).size, 7);
});

Deno.test("sampleTicks with repeat draws with replacement and runs forever until aborted", async () => {
  const clock = new ManualClock();
  const controller = new AbortController();
  let count = 0;
  for await (
    const _ of sampleTicks(daily(3), {
      clock,
      signal: controller.signal,
      intervalMs: 10,
      repeat: true,
    })
  ) {
    if (++count === 500) controller.abort();
  }
  assert.equal(count, 500);
  assert.equal(clock.now(), 4990);
});

Deno.test("sampleTicks explains empty input and bad options", () => {
  assert.throws(() => sampleTicks([]), /Sample mode needs at least one row/);
  assert.throws(
    () => sampleTicks(daily(1), { intervalMs: -1 }),
    /interval must be a number of ms ≥ 0/,
  );
  assert.throws(() => sampleTicks(daily(1), { limit: 1.5 }), /limit must be a whole number/);
});

Deno.test("paceModeFromFlags reads --speed max|X and --rate N", () => {
  assert.deepEqual(paceModeFromFlags({}), { speed: "max" });
  assert.deepEqual(paceModeFromFlags({ speed: "MAX" }), { speed: "max" });
  assert.deepEqual(paceModeFromFlags({ speed: "86400" }), { speed: 86_400 });
  assert.deepEqual(paceModeFromFlags({ speed: "2x" }), { speed: 2 });
  assert.deepEqual(paceModeFromFlags({ rate: "500" }), { rate: 500 });
  assert.throws(() => paceModeFromFlags({ speed: "1", rate: "1" }), /either --speed or --rate/);
  assert.throws(
    () => paceModeFromFlags({ rate: "fast" }),
    /--rate must be a positive number .*"fast"/,
  );
  assert.throws(() => paceModeFromFlags({ rate: "" }), /--rate must be/);
  assert.throws(() => paceModeFromFlags({ speed: "0" }), /--speed must be "max" or a positive/);
});

Deno.test("systemClock sleeps and wakes early when aborted", async () => {
  const before = systemClock.now();
  await systemClock.sleep(1);
  assert.ok(systemClock.now() > before);
  const controller = new AbortController();
  const sleeping = systemClock.sleep(60_000, controller.signal);
  controller.abort();
  await sleeping; // would keep the test (and its timer sanitizer) waiting for a minute otherwise
});
