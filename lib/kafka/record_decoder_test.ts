import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { CompressionTypes } from "kafkajs";
import { KAFKAJS_OVERRIDE } from "./kafkajs_override.ts";
import { type RecordBatchContext, recordDecoder } from "./record_decoder.ts";

const require = createRequire(import.meta.url);
const Decoder = require("kafkajs/src/protocol/decoder");
const Record = require("kafkajs/src/protocol/recordBatch/record/v0");
const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0");
const decodeBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder");
const original = KAFKAJS_OVERRIDE.originals!.recordDecoder;
let handedOver = 0;
const ours = recordDecoder((decoder, context) => {
  handedOver++;
  return original(decoder, context);
});

interface RecordArgs {
  offsetDelta: number;
  timestampDelta: number | bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
}

/** Each record's bytes (without its length prefix), as a fetched batch holds them. */
function recordBytes(args: RecordArgs): Buffer {
  const decoder = new Decoder(Record(args).buffer);
  return decoder.readVarIntBytes();
}

/**
 * Decodes `bytes` with `decode`: the record and where the decoder stopped, or the error's name.
 * Each call gets its own copy of `context`, as kafkajs passes one object per batch.
 */
function decodeWith(decode: typeof ours, bytes: Buffer, context: RecordBatchContext) {
  const decoder = new Decoder(bytes);
  try {
    const record = decode(decoder, { ...context });
    return { record, end: decoder.offset };
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

const value = Buffer.from('{"symbol":"NYA","ts":"2021-06-01T00:00:00.000Z","close":1}');

const RECORDS: RecordArgs[] = [
  { offsetDelta: 0, timestampDelta: 0, key: Buffer.from("NYA"), value },
  { offsetDelta: 1, timestampDelta: 5, key: null, value },
  { offsetDelta: 2, timestampDelta: -3, key: Buffer.from(""), value: null },
  { offsetDelta: 70_000, timestampDelta: 2 ** 40, key: Buffer.from("k"), value },
  { offsetDelta: 3, timestampDelta: -(2 ** 47), key: Buffer.from("k"), value },
  // Varints of 8 bytes and more: kafkajs' Long path.
  { offsetDelta: 4, timestampDelta: 2n ** 50n, key: Buffer.from("k"), value },
  { offsetDelta: 5, timestampDelta: -(2n ** 62n), key: Buffer.from("k"), value },
  { offsetDelta: 6, timestampDelta: 0, key: null, value, headers: { a: Buffer.from("1") } },
  {
    offsetDelta: 7,
    timestampDelta: 1,
    key: null,
    value,
    headers: { a: [Buffer.from("1"), Buffer.from("2")], b: Buffer.from("") },
  },
];

const CONTEXTS: RecordBatchContext[] = [
  { firstOffset: "0", firstTimestamp: "1622505600000", magicByte: 2, timestampType: 0 },
  { firstOffset: "123456789", firstTimestamp: "0", magicByte: 2, isControlBatch: true },
  // Past 2^53: offsets and timestamps kafkajs builds with Long.
  { firstOffset: "9007199254740993", firstTimestamp: "9007199254740000", magicByte: 2 },
  { firstOffset: "9007199254740990", firstTimestamp: "-5", magicByte: 2 },
  // Log append time: every record gets the batch's max timestamp.
  { firstOffset: "10", firstTimestamp: "1", timestampType: 1, maxTimestamp: "1622505600123" },
  { firstOffset: "10", firstTimestamp: "1", timestampType: 1, maxTimestamp: "" },
  { magicByte: 2 },
];

Deno.test("the record decoder builds the record kafkajs' own decoder builds, field by field", () => {
  let compared = 0;
  for (const args of RECORDS) {
    const bytes = recordBytes(args);
    for (const template of CONTEXTS) {
      const theirs = decodeWith(original, bytes, template);
      const mine = decodeWith(ours, bytes, template);
      assert.deepEqual(
        mine,
        theirs,
        `record ${RECORDS.indexOf(args)}, context ${CONTEXTS.indexOf(template)}`,
      );
      compared++;
    }
  }
  assert.equal(compared, RECORDS.length * CONTEXTS.length);
  // The plain records (0-4) under the plain contexts (0, 1, 4, 5) never reached kafkajs' code.
  handedOver = 0;
  for (const args of RECORDS.slice(0, 5)) {
    for (const template of [0, 1, 4, 5].map((i) => CONTEXTS[i])) {
      decodeWith(ours, recordBytes(args), template);
    }
  }
  assert.equal(handedOver, 0, "records kafkajs' decoder had to decode");
});

Deno.test("the record decoder fails on a truncated record as kafkajs' own does", () => {
  const bytes = recordBytes(RECORDS[7]);
  for (let length = 0; length < bytes.length; length++) {
    const cut = Buffer.from(bytes.subarray(0, length));
    const context = { firstOffset: "0", firstTimestamp: "0", magicByte: 2 };
    assert.deepEqual(
      decodeWith(ours, cut, context),
      decodeWith(original, cut, context),
      `cut at ${length} bytes`,
    );
  }
});

Deno.test("fetched record batches decode through the replacement, plain and gzip", async () => {
  assert.equal(KAFKAJS_OVERRIDE.applied, true, KAFKAJS_OVERRIDE.reason);
  assert.notEqual(require("kafkajs/src/protocol/recordBatch/record/v0/decoder.js"), original);
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    const records = RECORDS.map((args) => Record(args));
    const batch = await RecordBatch({
      compression,
      firstOffset: "4242",
      firstTimestamp: 1622505600000,
      maxTimestamp: 1622505600000,
      lastOffsetDelta: 7,
      records,
    });
    const decoded = await decodeBatch(new Decoder(batch.buffer));
    assert.deepEqual(
      decoded.records.map((r: { offset: string }) => r.offset),
      RECORDS.map((args) => String(4242 + args.offsetDelta)),
    );
    assert.deepEqual(
      decoded.records.map((r: { timestamp: string }) => r.timestamp),
      RECORDS.map((args) => String(BigInt(1622505600000) + BigInt(args.timestampDelta))),
    );
    assert.deepEqual(decoded.records[8].headers, {
      a: [Buffer.from("1"), Buffer.from("2")],
      b: Buffer.from(""),
    });
    assert.deepEqual(decoded.records[1].value, value);
  }
});
