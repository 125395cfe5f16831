import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { deflateSync, gzipSync } from "node:zlib";
import { benchTicks } from "../bench/data.ts";
import { inflate, inflateStep } from "./gzip_codec.ts";
import { KAFKAJS_OVERRIDE } from "./kafkajs_override.ts";
import { tickJson } from "./tick_batch.ts";

const kafkajs = () => KAFKAJS_OVERRIDE.originals!.gzipCodec;

/** `gzipped` with its trailer's ISIZE (the inflated size) replaced by `size`. */
function withIsize(gzipped: Buffer, size: number): Buffer {
  const copy = Buffer.from(gzipped);
  copy.writeUInt32LE(size >>> 0, copy.length - 4);
  return copy;
}

const ticks = Buffer.from([...benchTicks(3000)].map(tickJson).join(""));
const cases: [string, Buffer][] = [
  ["a batch of ticks", gzipSync(ticks)],
  ["an empty batch", gzipSync(Buffer.alloc(0))],
  ["two gzip members", Buffer.concat([gzipSync("first "), gzipSync(ticks)])],
  ["a zlib stream (kafkajs' unzip takes it too)", deflateSync(ticks)],
];

for (const [name, input] of cases) {
  Deno.test(`inflate gives kafkajs' bytes: ${name}`, async () => {
    const ours = inflate(input);
    assert.ok(ours.equals(await kafkajs().decompress(input)));
  });
}

const corrupt = Buffer.from(gzipSync(ticks));
corrupt.fill(0x55, 100, 200);
const bad: [string, Buffer][] = [
  ["corrupt data", corrupt],
  ["a trailer that says 0 bytes", withIsize(gzipSync(ticks), 0)],
  ["a trailer that says 4 GiB (no 4 GiB step is allocated)", withIsize(gzipSync(ticks), -1)],
  ["a cut-off batch", gzipSync(ticks).subarray(0, 1000)],
];

for (const [name, input] of bad) {
  Deno.test(`inflate refuses what kafkajs' codec refuses: ${name}`, async () => {
    const theirs = await kafkajs().decompress(input).then(() => "inflated", (e) => e.message);
    assert.notEqual(theirs, "inflated");
    assert.throws(() => inflate(input), (error: Error) => error.message === theirs);
  });
}

Deno.test("the inflate step is the trailer's size, within 16 KiB..32 MiB", () => {
  const gzipped = gzipSync(ticks);
  assert.equal(inflateStep(gzipped), ticks.length + 1);
  assert.equal(inflateStep(withIsize(gzipped, 10)), 16 * 1024);
  assert.equal(inflateStep(withIsize(gzipped, 0xffffffff)), 32 * 1024 * 1024);
  assert.equal(inflateStep(deflateSync(ticks)), 16 * 1024, "not gzip: kafkajs' step");
  assert.equal(inflateStep(new Uint8Array(0)), 16 * 1024);
});
