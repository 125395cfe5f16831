import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { CompressionTypes, type Message } from "kafkajs";
import { readTopic, testKafka, testTopic } from "../testing/kafka.ts";
import { crc32c, groupMessagesPerPartition, KAFKAJS_OVERRIDE } from "./kafkajs_override.ts";
import { createTickProducer } from "./producer.ts";

const require = createRequire(import.meta.url);
const Long = require("kafkajs/src/utils/long");

Deno.test("the kafkajs override is in place before kafkajs' producer loaded", () => {
  assert.equal(KAFKAJS_OVERRIDE.applied, true, KAFKAJS_OVERRIDE.reason);
  assert.equal(
    require("kafkajs/src/producer/groupMessagesPerPartition.js"),
    groupMessagesPerPartition,
  );
  const gzip = require("kafkajs/src/protocol/message/compression/index.js").Codecs[1]();
  assert.notEqual(gzip, KAFKAJS_OVERRIDE.originals!.gzipCodec, "kafkajs' gzip codec is replaced");
});

Deno.test("linear groupMessagesPerPartition groups as kafkajs' own does", () => {
  const original = KAFKAJS_OVERRIDE.originals!.groupMessagesPerPartition;
  const messages = Array.from({ length: 500 }, (_, i) => ({ key: `k${i % 37}`, value: `${i}` }));
  const partitioner = ({ message }: { message: unknown }) =>
    Number((message as { key: string }).key.slice(1)) % 7;
  const args = { topic: "t", partitionMetadata: [{}, {}], messages, partitioner };
  const ours = groupMessagesPerPartition(args);
  const theirs = original(args);
  assert.deepEqual(Object.keys(ours), Object.keys(theirs));
  assert.deepEqual(ours, theirs);
  assert.equal(ours[3][0], messages[3], "the same message objects");
  assert.deepEqual(groupMessagesPerPartition({ ...args, partitionMetadata: [] }), {});
});

Deno.test("crc32c gives kafkajs' CRC-32C for every length and content", () => {
  const kafkajsCrc = require("kafkajs/src/protocol/recordBatch/crc32C");
  const bytes = new Uint8Array(70_000);
  crypto.getRandomValues(bytes.subarray(0, 65_536));
  bytes.fill(0xff, 65_536);
  for (let length = 0; length < 300; length++) {
    const slice = bytes.subarray(length, 2 * length + 1);
    assert.equal(crc32c(slice), kafkajsCrc(slice), `length ${slice.length}`);
  }
  assert.equal(crc32c(bytes), kafkajsCrc(bytes));
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283); // the check value
});

/** Encodes `args` with kafkajs' produce request v3 and with the override, `Date.now` fixed. */
async function bothRequests(args: Record<string, unknown>): Promise<[Buffer, Buffer]> {
  const ours = require("kafkajs/src/protocol/requests/produce/v3/request.js");
  const theirs = KAFKAJS_OVERRIDE.originals!.produceRequestV3;
  assert.notEqual(ours, theirs);
  const now = Date.now;
  Date.now = () => 1_700_000_000_123;
  try {
    const a = await ours(args).encode();
    const b = await theirs(args).encode();
    return [a.buffer, b.buffer];
  } finally {
    Date.now = now;
  }
}

const tick = (i: number) =>
  `{"symbol":"NYA","ts":"2007-10-01T00:${String(i % 60).padStart(2, "0")}:00.000Z","close":${
    9000 + i / 7
  }}`;

const cases: Record<string, unknown[]> = {
  "string keys and values": Array.from({ length: 1000 }, (_, i) => ({
    key: `S${i % 14}`,
    value: tick(i),
  })),
  "Buffer keys and values, empty and long ones": [
    { key: Buffer.from("NYA"), value: Buffer.from(tick(1)) },
    { key: Buffer.alloc(0), value: Buffer.alloc(0) },
    { key: Buffer.from("k"), value: Buffer.alloc(70_000, 7) },
  ],
  "non-ASCII text": [{ key: "DAX€", value: '{"name":"Zürich 株価 🚀"}' }, {
    key: "\ud800",
    value: "lone surrogate \udfff",
  }],
  "null and missing keys, tombstones": [
    { key: null, value: "v" },
    { value: "no key" },
    { key: "tomb", value: null },
  ],
  "headers (strings, Buffers, arrays, empty)": [
    { key: "a", value: "1", headers: { trace: "x", bin: Buffer.from([0, 1, 2]) } },
    { key: "b", value: "2", headers: { many: ["p", "q"] } },
    { key: "c", value: "3", headers: {} },
  ],
  "timestamps: numbers, strings, some missing": [
    { key: "a", value: "1", timestamp: "1700000000500" },
    { key: "b", value: "2" },
    { key: "c", value: "3", timestamp: 1_600_000_000_000 },
    { key: "d", value: "4", timestamp: "1700000009999" },
  ],
  "a Uint8Array value (kafkajs writes it as text)": [{ key: "u", value: new Uint8Array([65, 66]) }],
  "a thousand offsets and large deltas": Array.from({ length: 1000 }, (_, i) => ({
    key: null,
    value: "x".repeat(i % 300),
    timestamp: i % 2 ? 1_700_000_000_000 + i * 1e9 : undefined,
  })).concat([{ key: null, value: "far", timestamp: 2 ** 53 - 1 }]),
};

for (const [name, messages] of Object.entries(cases)) {
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    Deno.test(`produce request bytes equal kafkajs' own: ${name}, compression ${compression}`, async () => {
      const [ours, theirs] = await bothRequests({
        acks: -1,
        timeout: 30_000,
        compression,
        producerId: Long.fromValue(4711),
        producerEpoch: 3,
        topicData: [
          {
            topic: "stock_market",
            partitions: [
              { partition: 0, firstSequence: 12345, messages },
              { partition: "2", firstSequence: 0, messages: messages.slice(0, 1) },
            ],
          },
          { topic: "other", partitions: [{ partition: 1, messages }] },
        ],
      });
      assert.equal(ours.length, theirs.length);
      assert.ok(ours.equals(theirs), "identical bytes");
    });
  }
}

Deno.test("produce request bytes equal kafkajs' own for a transactional send and the defaults", async () => {
  for (
    const args of [
      {
        acks: -1,
        timeout: 5_000,
        transactionalId: "tx-1",
        producerId: Long.fromValue(9),
        producerEpoch: 1,
        topicData: [{ topic: "t", partitions: [{ partition: 0, messages: [{ value: "v" }] }] }],
      },
      { acks: 1, timeout: 100, topicData: [] },
    ]
  ) {
    const [ours, theirs] = await bothRequests(args);
    assert.ok(ours.equals(theirs));
  }
});

Deno.test("an idempotent producer with the override round-trips through a real broker", async () => {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix: "kafkajs-override", partitions: 1 });
  const producer = createTickProducer(kafka);
  await producer.connect();
  const sent: Message[] = [
    { key: "NYA", value: tick(1), headers: { trace: "abc" } },
    { key: Buffer.from("IXIC"), value: Buffer.from(tick(2)) },
    { key: null, value: "Zürich 🚀" },
    { key: "tomb", value: null },
    ...Array.from({ length: 2000 }, (_, i) => ({ key: `S${i % 14}`, value: tick(i) })),
  ];
  try {
    for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
      await producer.send({ topic: t.topic, acks: -1, compression, messages: sent });
    }
  } finally {
    await producer.disconnect();
  }
  const read = (await readTopic(kafka, t.topic)).sort((a, b) =>
    Number(a.offset) - Number(b.offset)
  );
  const expected = [...sent, ...sent].map((m) => ({
    key: m.key === null ? null : String(m.key),
    value: m.value === null ? null : String(m.value),
    headers: m.headers ?? {},
  }));
  assert.deepEqual(read.map(({ key, value, headers }) => ({ key, value, headers })), expected);
});
