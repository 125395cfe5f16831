import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { encodeTick } from "../tick.ts";
import { simulateTicks } from "../source/simulate.ts";
import { CompressionTypes } from "kafkajs";
import { FetchedRecord } from "../kafka/record_batch_decoder.ts";
import { columnsToTicks } from "../lake/tick_rows.ts";
import {
  type FetchedMessage,
  packBatch,
  poisonMessages,
  splitBatch,
  splitPacked,
} from "./split.ts";

const require = createRequire(import.meta.url);
const Decoder = require("kafkajs/src/protocol/decoder");
const Record = require("kafkajs/src/protocol/recordBatch/record/v0");
const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0");
const decodeBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder.js");

const ticks = [...simulateTicks({ symbols: 3, count: 4, seed: 3 })];
const values: (Buffer | null)[] = [
  ...ticks.map((t) => Buffer.from(encodeTick(t))),
  null,
  Buffer.from("not json"),
  Buffer.from(JSON.stringify({ ...JSON.parse(encodeTick(ticks[0])), high: -1 })),
  Buffer.from(" " + encodeTick(ticks[1])), // not the canonical text: the JSON path reads it
];

/**
 * The values as the records of one fetched batch (gzip unless said otherwise), decoded as the
 * consumer decodes them: an uncompressed batch's values lie inside the fetch's bytes.
 */
async function fetched(compression: number = CompressionTypes.GZIP): Promise<FetchedMessage[]> {
  const batch = await RecordBatch({
    compression,
    firstOffset: "100",
    firstTimestamp: 1000,
    maxTimestamp: 1000 + values.length,
    lastOffsetDelta: values.length - 1,
    records: values.map((value, i) =>
      Record({ offsetDelta: i, timestampDelta: i, key: Buffer.from("k"), value })
    ),
  });
  // Behind 5 bytes of something else, as a batch inside a fetch response.
  const fetch = Buffer.concat([Buffer.from("fetch"), batch.buffer]);
  const decoder = new Decoder(fetch);
  decoder.offset = 5;
  return (await decodeBatch(decoder)).records;
}

/** The same records as plain objects, as kafkajs' own decoder makes them. */
function plainMessages(messages: FetchedMessage[]): FetchedMessage[] {
  return messages.map(({ offset, key, value, timestamp }) => ({ offset, key, value, timestamp }));
}

Deno.test("a fetched batch splits into its valid ticks and its poison messages, each with why", async () => {
  const messages = await fetched();
  const split = splitBatch(messages);
  const valid = [...ticks.keys(), 15];
  assert.deepEqual(columnsToTicks(split.rows), [...ticks, ticks[1]]);
  assert.equal(split.rows.length, valid.length);
  assert.deepEqual([...split.rows.offsets], valid.map((i) => 100 + i));
  assert.deepEqual([...split.rows.ingest], valid.map((i) => 1000 + i));
  assert.deepEqual([...split.rows.sizes], valid.map((i) => values[i]!.length));
  for (const column of [...split.rows.prices, ...split.rows.defined, split.rows.times]) {
    assert.equal(column.length, valid.length, "every column is cut to the valid rows");
  }
  assert.deepEqual(split.last, ticks[1]);
  const poison = poisonMessages(messages, split);
  assert.deepEqual(
    poison.map((p) => [p.offset, p.key?.toString(), p.value?.toString() ?? null]),
    [["112", "k", null], ["113", "k", "not json"], ["114", "k", values[14]!.toString()]],
  );
  assert.match(poison[0].reason, /null value/);
  assert.match(poison[1].reason, /JSON/i);
  assert.match(poison[2].reason, /high/);
});

Deno.test("a packed batch holds each value once, back to back, with its offset and timestamp", async () => {
  for (const compression of [CompressionTypes.None, CompressionTypes.GZIP]) {
    const messages = await fetched(compression);
    assert.ok(messages.every((m) => m instanceof FetchedRecord), "packed from the fetched bytes");
    const packed = packBatch(messages);
    assert.deepEqual(packBatch(plainMessages(messages)), packed, "plain messages pack alike");
    let start = 0;
    values.forEach((value, i) => {
      const bytes = packed.bytes.subarray(start, packed.ends[i]);
      assert.equal(packed.nulls[i], value === null ? 1 : 0);
      assert.deepEqual(Buffer.from(bytes), value ?? Buffer.alloc(0), `${compression} ${i}`);
      assert.equal(packed.offsets[i], 100 + i);
      assert.equal(packed.timestamps[i], 1000 + i);
      start = packed.ends[i];
    });
    assert.equal(packed.bytes.length, start);
  }
  const packed = packBatch(await fetched());
  const copy = structuredClone(packed);
  assert.deepEqual(
    splitPacked(copy),
    splitPacked(packed),
    "a copy (as a worker gets it) splits alike",
  );
});

Deno.test("a batch of only valid ticks keeps its columns whole", async () => {
  const split = splitBatch((await fetched()).slice(0, ticks.length));
  assert.equal(split.poison.length, 0);
  assert.deepEqual(columnsToTicks(split.rows), ticks);
});
