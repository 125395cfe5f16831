import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { CompressionTypes } from "kafkajs";
import { runUntil, testKafka, testTopic } from "../testing/kafka.ts";
import { KAFKAJS_OVERRIDE } from "./kafkajs_override.ts";
import { createTickProducer } from "./producer.ts";
import { FetchedRecord, recordBatchDecoder } from "./record_batch_decoder.ts";

const require = createRequire(import.meta.url);
const Decoder = require("kafkajs/src/protocol/decoder");
const Record = require("kafkajs/src/protocol/recordBatch/record/v0");
const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0");
const Long = require("kafkajs/src/utils/long");
const original = KAFKAJS_OVERRIDE.originals!.recordBatchDecoder;
const OriginalBatch = KAFKAJS_OVERRIDE.originals!.batchClass;
const Batch = require("kafkajs/src/consumer/batch.js");
const decodeInstalled = require("kafkajs/src/protocol/recordBatch/v0/decoder.js");
const decodeRecord = require("kafkajs/src/protocol/recordBatch/record/v0/decoder.js");
/** Records read by kafkajs' own record decoder. */
let handedOver = 0;
const ours = recordBatchDecoder({
  lookupCodecByAttributes: require("kafkajs/src/protocol/message/compression")
    .lookupCodecByAttributes,
  KafkaJSPartialMessageError: require("kafkajs/src/errors").KafkaJSPartialMessageError,
  Decoder,
  decodeRecord: (decoder, context) => {
    handedOver++;
    return decodeRecord(decoder, context);
  },
});

interface RecordArgs {
  offsetDelta: number;
  timestampDelta: number | bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
}

const value = Buffer.from('{"symbol":"NYA","ts":"2021-06-01T00:00:00.000Z","close":1}');

/** Records 0–4 are read by the replacement; 5–8 make it hand the batch to kafkajs. */
const RECORDS: RecordArgs[] = [
  { offsetDelta: 0, timestampDelta: 0, key: Buffer.from("NYA"), value },
  { offsetDelta: 1, timestampDelta: 5, key: null, value },
  { offsetDelta: 2, timestampDelta: -3, key: Buffer.from(""), value: null },
  { offsetDelta: 70_000, timestampDelta: 2 ** 40, key: Buffer.from("k"), value: Buffer.from("") },
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

/** Batch fields; the last three make the replacement hand the batch to kafkajs. */
const BATCHES = [
  { firstOffset: "0", firstTimestamp: 1622505600000, maxTimestamp: 1622505600000 },
  { firstOffset: "123456789", firstTimestamp: 0, maxTimestamp: 5, transactional: true },
  { firstOffset: "10", firstTimestamp: -5, maxTimestamp: 0, producerId: Long.fromValue(7) },
  // Past 2^53: offsets and timestamps kafkajs builds with Long.
  { firstOffset: "9007199254740993", firstTimestamp: 0, maxTimestamp: 0 },
  { firstOffset: "9007199254740990", firstTimestamp: 0, maxTimestamp: 0 },
  { firstOffset: "0", firstTimestamp: Long.fromValue("9007199254740000"), maxTimestamp: 0 },
];

/** A record as a plain object: kafkajs' own, or a `FetchedRecord`'s `toJSON()` (its fields). */
function plain(record: Record<string, unknown>) {
  return record instanceof FetchedRecord ? record.toJSON() : { ...record };
}

/** Decodes a fetch's bytes with `decode`: the batch (records as plain objects) and where it stopped. */
async function decodeWith(decode: typeof ours, bytes: Buffer) {
  const decoder = new Decoder(bytes);
  try {
    const batch = await decode(decoder);
    const records = batch.records.map(plain);
    return { batch: { ...batch, records }, end: decoder.offset };
  } catch (error) {
    return `throws ${(error as Error).name}: ${(error as Error).message}`;
  }
}

async function batchBytes(
  compression: number,
  fields: Record<string, unknown>,
  records: RecordArgs[],
): Promise<Buffer> {
  const batch = await RecordBatch({
    compression,
    lastOffsetDelta: Math.max(0, ...records.map((r) => r.offsetDelta)),
    ...fields,
    records: records.map((args) => Record(args)),
  });
  return batch.buffer;
}

/** Sets the timestamp type bit (log append time) in a batch's attributes. */
function logAppendTime(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[22] |= 0x08; // attributes: 8 (first offset) + 4 + 4 + 1 + 4 (CRC) bytes in, low byte +1
  return copy;
}

Deno.test("the batch decoder builds the records kafkajs' own decoder builds, field by field", async () => {
  let compared = 0;
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    for (const fields of BATCHES) {
      for (const records of [...RECORDS.map((r) => [r]), RECORDS.slice(0, 5), RECORDS]) {
        for (const appendTime of [false, true]) {
          let bytes = await batchBytes(compression, fields, records);
          if (appendTime) bytes = logAppendTime(bytes);
          const theirs = await decodeWith(original, bytes);
          const mine = await decodeWith(ours, bytes);
          const which = `batch ${BATCHES.indexOf(fields)}, records ${
            records.map((r) => RECORDS.indexOf(r))
          }, compression ${compression}, log append time ${appendTime}`;
          assert.deepEqual(mine, theirs, which);
          compared++;
        }
      }
    }
  }
  assert.equal(compared, 2 * BATCHES.length * (RECORDS.length + 2) * 2);
});

Deno.test("plain records never reach kafkajs' decoder, and their fields are made when read", async () => {
  handedOver = 0;
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    for (const fields of BATCHES.slice(0, 3)) {
      const bytes = await batchBytes(compression, fields, RECORDS.slice(0, 5));
      const batch = await ours(new Decoder(bytes));
      assert.ok(batch.records.every((r: unknown) => r instanceof FetchedRecord));
      const [first, , third] = batch.records as FetchedRecord[];
      assert.equal(first.value, first.value, "one Buffer per record, made once");
      assert.equal(first.offsetNumber, Number(fields.firstOffset));
      assert.equal(first.valueLength, value.length);
      assert.equal(third.valueLength, -1);
      assert.equal(third.value, null);
    }
  }
  assert.equal(handedOver, 0, "records kafkajs' decoder had to decode");
  // A batch with a kafkajs-only record goes to it whole, read once from the same bytes.
  await ours(new Decoder(await batchBytes(CompressionTypes.GZIP, BATCHES[0], RECORDS)));
  assert.equal(handedOver, RECORDS.length);
});

Deno.test("a cut or corrupted batch decodes, or fails, as kafkajs' own decoder makes it", async () => {
  const bytes = await batchBytes(CompressionTypes.None, BATCHES[0], RECORDS.slice(0, 5));
  for (let length = 0; length < bytes.length; length++) {
    const cut = Buffer.from(bytes.subarray(0, length));
    assert.deepEqual(
      await decodeWith(ours, cut),
      await decodeWith(original, cut),
      `cut at ${length}`,
    );
  }
  // Every byte from the batch length on (the header's magic byte, attributes and count too) set
  // to values that break lengths and varints.
  let compared = 0;
  for (let at = 8; at < bytes.length; at++) {
    for (const byte of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const bad = Buffer.from(bytes);
      bad[at] = byte;
      assert.deepEqual(
        await decodeWith(ours, bad),
        await decodeWith(original, bad),
        `byte ${at} set to ${byte}`,
      );
      compared++;
    }
  }
  assert.ok(compared > 500);
});

/** kafkajs' consumer batch: its fields and what its methods say. */
function describe(batch: Record<string, unknown> & { [method: string]: Any }) {
  const offsets = (messages: { offset: string }[]) => messages.map((m) => m.offset);
  return {
    topic: batch.topic,
    partition: batch.partition,
    highWatermark: batch.highWatermark,
    fetchedOffset: batch.fetchedOffset,
    raw: offsets(batch.rawMessages),
    within: offsets(batch.messagesWithinOffset),
    messages: offsets(batch.messages),
    isEmpty: batch.isEmpty(),
    firstOffset: batch.firstOffset(),
    lastOffset: batch.lastOffset(),
    offsetLag: batch.offsetLag(),
    offsetLagLow: batch.offsetLagLow(),
  };
}

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("the consumer batch drops records before the fetched offset as kafkajs' does", async () => {
  assert.equal(KAFKAJS_OVERRIDE.applied, true, KAFKAJS_OVERRIDE.reason);
  assert.notEqual(Batch, OriginalBatch);
  const plainRecords = RECORDS.slice(0, 5).map((r, i) => ({ ...r, offsetDelta: i }));
  const fetched = await ours(
    new Decoder(await batchBytes(CompressionTypes.GZIP, { firstOffset: "100" }, plainRecords)),
  );
  const control = await ours(
    new Decoder(
      await batchBytes(CompressionTypes.None, { firstOffset: "105" }, [RECORDS[1]]).then((b) => {
        const copy = Buffer.from(b);
        copy[22] |= 0x20; // the control flag
        return copy;
      }),
    ),
  );
  const kafkajsRecords = fetched.records.map(plain); // plain objects: kafkajs' Long path
  for (
    const records of [fetched.records, kafkajsRecords, [...fetched.records, ...control.records]]
  ) {
    for (const fetchedOffset of ["0", "100", "102", "104", "105", "200", "9007199254740993"]) {
      const data = { partition: 2, highWatermark: "110", messages: records };
      assert.deepEqual(
        describe(new Batch("t", fetchedOffset, data)),
        describe(new OriginalBatch("t", fetchedOffset, data)),
        `fetched offset ${fetchedOffset}`,
      );
    }
  }
  // An aborted transaction: its records and the control record that ends it are dropped alike.
  const transactional = await ours(
    new Decoder(
      await batchBytes(
        CompressionTypes.GZIP,
        { firstOffset: "200", transactional: true, producerId: Long.fromValue(7) },
        RECORDS.slice(0, 3),
      ),
    ),
  );
  const abort = await ours(
    new Decoder(
      await batchBytes(
        CompressionTypes.None,
        { firstOffset: "203", transactional: true, producerId: Long.fromValue(7) },
        [{ offsetDelta: 0, timestampDelta: 0, key: Buffer.from([0, 0, 0, 0]), value: null }],
      ).then((b) => {
        const copy = Buffer.from(b);
        copy[22] |= 0x20; // the control flag
        return copy;
      }),
    ),
  );
  const aborted = {
    partition: 0,
    highWatermark: "210",
    messages: [...fetched.records, ...transactional.records, ...abort.records],
    abortedTransactions: [{ producerId: "7", firstOffset: "200" }],
  };
  const kept = new Batch("t", "100", aborted);
  assert.deepEqual(describe(kept), describe(new OriginalBatch("t", "100", aborted)));
  assert.deepEqual(kept.messages.map((m: FetchedRecord) => m.offset), [
    "100",
    "101",
    "102",
    "103",
    "104",
  ]);
  const batch: Any = new Batch("t", "102", {
    partition: 0,
    highWatermark: "105",
    messages: fetched.records,
  });
  assert.equal(Object.getPrototypeOf(batch), OriginalBatch.prototype, "kafkajs methods");
  assert.deepEqual(batch.messages.map((m: FetchedRecord) => m.offset), ["102", "103", "104"]);
});

Deno.test("kafkajs' fetch decodes record batches through the replacement", async () => {
  assert.notEqual(decodeInstalled, original);
  const batch = await decodeInstalled(
    new Decoder(await batchBytes(CompressionTypes.GZIP, BATCHES[0], RECORDS.slice(0, 5))),
  );
  assert.ok(batch.records[0] instanceof FetchedRecord);
  assert.deepEqual(batch.records[1].value, value);
});

Deno.test("a consumer resuming inside a fetched batch reads from its offset on, from a real broker", async () => {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix: "batch-decoder", partitions: 1 });
  const producer = createTickProducer(kafka);
  await producer.connect();
  const sent = Array.from({ length: 80 }, (_, i) => `value ${i}`);
  try {
    // One gzip batch (offsets 0–39), then one plain batch (40–79).
    for (const [compression, part] of [[CompressionTypes.GZIP, 0], [CompressionTypes.None, 1]]) {
      await producer.send({
        topic: t.topic,
        acks: -1,
        compression,
        messages: sent.slice(part * 40, part * 40 + 40).map((value) => ({ key: "k", value })),
      });
    }
  } finally {
    await producer.disconnect();
  }
  for (const start of [15, 55]) {
    const groupId = `${t.topic}-from-${start}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({
      groupId,
      topic: t.topic,
      partitions: [{ partition: 0, offset: `${start}` }],
    });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId });
    await consumer.connect();
    const read: { offset: string; value: string; fetched: boolean }[] = [];
    try {
      await consumer.subscribe({ topics: [t.topic] });
      await runUntil(consumer, (batch) => {
        for (const m of batch.messages) {
          read.push({
            offset: m.offset,
            value: String(m.value),
            fetched: (m as unknown) instanceof FetchedRecord,
          });
        }
        return Number(batch.lastOffset()) >= 79;
      }, { ms: 30_000, timeout: () => `read ${read.length} in 30 s` });
    } finally {
      await consumer.disconnect();
    }
    assert.deepEqual(
      read,
      sent.slice(start).map((value, i) => ({ offset: `${start + i}`, value, fetched: true })),
      `from offset ${start}`,
    );
  }
});
