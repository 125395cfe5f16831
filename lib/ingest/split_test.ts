import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { encodeTick } from "../tick.ts";
import { simulateTicks } from "../source/simulate.ts";
import { recordDecoder } from "../kafka/record_decoder.ts";
import { KAFKAJS_OVERRIDE } from "../kafka/kafkajs_override.ts";
import { type FetchedMessage, splitBatch } from "./split.ts";

const require = createRequire(import.meta.url);
const Decoder = require("kafkajs/src/protocol/decoder");
const Record = require("kafkajs/src/protocol/recordBatch/record/v0");
const decode = recordDecoder(KAFKAJS_OVERRIDE.originals!.recordDecoder);

const ticks = [...simulateTicks({ symbols: 3, count: 4, seed: 3 })];
const values: (Buffer | null)[] = [
  ...ticks.map((t) => Buffer.from(encodeTick(t))),
  null,
  Buffer.from("not json"),
  Buffer.from(JSON.stringify({ ...JSON.parse(encodeTick(ticks[0])), high: -1 })),
  Buffer.from(" " + encodeTick(ticks[1])), // not the canonical text: the JSON path reads it
];

/** The values as records of one fetched batch, decoded as the consumer decodes them. */
function fetched(): FetchedMessage[] {
  const bytes = Buffer.concat(values.map((value, i) => {
    const record = Record({ offsetDelta: i, timestampDelta: i, key: Buffer.from("k"), value });
    return record.buffer; // length-prefixed, as in a batch
  }));
  const decoder = new Decoder(bytes);
  return values.map(() => {
    decoder.readVarInt(); // the record's length
    return decode(decoder, { firstOffset: "100", firstTimestamp: "1000", magicByte: 2 });
  });
}

Deno.test("a fetched batch splits into its valid ticks and its poison messages, each with why", () => {
  const split = splitBatch(fetched());
  assert.deepEqual(split.records.map((r) => r.tick), [...ticks, ticks[1]]);
  assert.deepEqual(
    split.records.map((r) => r.offset),
    [...ticks.keys(), 15].map((i) => BigInt(100 + i)),
  );
  assert.deepEqual(
    split.records.map((r) => r.timestamp),
    [...ticks.keys(), 15].map((i) => 1000 + i),
  );
  assert.equal(split.records[0].size, values[0]!.length);
  assert.deepEqual(split.last, ticks[1]);
  assert.deepEqual(
    split.poison.map((p) => [p.offset, p.key?.toString(), p.value?.toString() ?? null]),
    [["112", "k", null], ["113", "k", "not json"], ["114", "k", values[14]!.toString()]],
  );
  assert.match(split.poison[0].reason, /null value/);
  assert.match(split.poison[1].reason, /JSON/i);
  assert.match(split.poison[2].reason, /high/);
});
