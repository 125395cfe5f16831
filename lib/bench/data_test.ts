import assert from "node:assert/strict";
import { decodeTick, encodeTick } from "../tick.ts";
import { BENCH_INTERVAL_MS, benchTicks, meanRecordBytes, writePayloadFile } from "./data.ts";

Deno.test("benchTicks gives exactly the count asked, the same every time, one-minute bars", () => {
  const a = [...benchTicks(30)];
  const b = [...benchTicks(30)];
  assert.equal(a.length, 30);
  assert.deepEqual(a, b);
  assert.equal(a[14].ts - a[0].ts, BENCH_INTERVAL_MS); // 14 symbols per bar
  assert.equal([...benchTicks(0)].length, 0);
});

Deno.test("benchTicks rejects a count that is not a whole number", () => {
  assert.throws(() => benchTicks(1.5).next(), /whole number/);
  assert.throws(() => benchTicks(-1).next(), /whole number/);
});

Deno.test("meanRecordBytes is the mean length of the ticks' wire form", () => {
  const ticks = [...benchTicks(100)];
  const expected = ticks.reduce((sum, t) => sum + encodeTick(t).length, 0) / 100;
  assert.equal(meanRecordBytes(100), expected);
  assert.ok(expected > 120 && expected < 260, `${expected}`);
  assert.equal(meanRecordBytes(0), 0);
});

Deno.test("writePayloadFile writes one decodable tick per line", async () => {
  const file = await Deno.makeTempFile();
  try {
    await writePayloadFile(file, 50);
    const lines = (await Deno.readTextFile(file)).trimEnd().split("\n");
    assert.equal(lines.length, 50);
    assert.deepEqual(lines.map(decodeTick), [...benchTicks(50)]);
  } finally {
    await Deno.remove(file);
  }
});
