import assert from "node:assert/strict";
import { encodeTick, type Tick } from "../tick.ts";
import { simulateTicks } from "../source/simulate.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  readTopic,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import { readLakeTicks, tempLake } from "../testing/lake.ts";
import { consumeToLake } from "./consume_to_lake.ts";

/** A poison message and the words its `dlq.reason` header must contain. */
interface Poison {
  key: string;
  value: string | null;
  reason: RegExp;
}

const GOOD: Tick = {
  symbol: "NYA",
  ts: Date.UTC(2024, 0, 2),
  open: 10,
  high: 12,
  low: 9,
  close: 11,
  adj_close: 11,
  volume: 100,
  close_usd: 11,
};
const wire = (changes: Record<string, unknown>) =>
  JSON.stringify({ ...JSON.parse(encodeTick(GOOD)), ...changes });

const POISON: Poison[] = [
  { key: "p-notjson", value: "NYA,2024-01-02,10,12,9,11", reason: /not JSON/ },
  { key: "p-truncated", value: '{"symbol":"NYA","ts":"2024-01-', reason: /not JSON/ },
  { key: "p-array", value: "[1,2,3]", reason: /not a JSON object/ },
  { key: "p-nosymbol", value: wire({ symbol: undefined }), reason: /symbol must be a string/ },
  { key: "p-nots", value: wire({ ts: undefined }), reason: /ts must be/ },
  { key: "p-noclose", value: wire({ close: null }), reason: /close is missing/ },
  { key: "p-negative", value: wire({ open: -5 }), reason: /open -5 is negative/ },
  { key: "p-highlow", value: wire({ high: 3, low: 4 }), reason: /high 3 is below low 4/ },
  { key: "p-badtype", value: wire({ close: "11.5" }), reason: /close must be a number/ },
  { key: "p-emptysymbol", value: wire({ symbol: " " }), reason: /empty symbol/ },
  { key: "p-tombstone", value: null, reason: /null value/ },
];

Deno.test({
  name:
    "consumer sends every poison message to <topic>.dlq with its reason and source, and the valid ticks around them reach the lake exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "dlq", partitions: 3 });
    await using lake = await tempLake();
    const good = [...simulateTicks({ symbols: 6, count: 500, intervalMs: 60_000, seed: 3 })];
    // Interleave: a poison message after every 250 good ones, keyed to spread over partitions.
    const messages: { key: string; value: string | null }[] = [];
    const poisonAt = new Map<string, Poison>();
    let p = 0;
    good.forEach((tick, i) => {
      messages.push({ key: tick.symbol, value: encodeTick(tick) });
      if (i % 250 === 125 && p < POISON.length) {
        messages.push(POISON[p]);
        poisonAt.set(POISON[p].key, POISON[p]);
        p++;
      }
    });
    assert.equal(p, POISON.length, "every kind of poison is in the stream");
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: t.topic, acks: -1, messages });
    await producer.disconnect();

    const result = await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store: lake.store,
      flushRows: 400,
      idleExitSeconds: 2,
    });
    assert.equal(result.stoppedBy, "idle");
    assert.equal(result.messages, messages.length);
    assert.equal(result.deadLettered, POISON.length);
    assertExactlyOnce(await readLakeTicks(lake.store), good);
    assert.deepEqual(
      await committedOffsets(kafka, t.group, t.topic),
      await endOffsets(kafka, t.topic),
      "offsets of poison messages are committed too",
    );

    const dead = await readTopic(kafka, `${t.topic}.dlq`);
    assert.equal(dead.length, POISON.length);
    const sources = new Set<string>();
    for (const letter of dead) {
      const poison = poisonAt.get(letter.key ?? "");
      assert.ok(poison, `unexpected dead letter ${JSON.stringify(letter)}`);
      assert.equal(letter.value, poison.value, `${poison.key} keeps its value`);
      assert.match(letter.headers["dlq.reason"] ?? "", poison.reason, poison.key);
      const source = letter.headers["dlq.source"] ?? "";
      assert.match(source, new RegExp(`^${t.topic}/[0-2]/\\d+$`), `${poison.key} dlq.source`);
      sources.add(source);
    }
    assert.equal(sources.size, POISON.length, "each dead letter names its own source offset");

    // The source offsets point at the poison messages themselves.
    const original = await readTopic(kafka, t.topic);
    const byPosition = new Map(original.map((m) => [`${t.topic}/${m.partition}/${m.offset}`, m]));
    for (const letter of dead) {
      assert.equal(byPosition.get(letter.headers["dlq.source"])?.key, letter.key);
    }
  },
});

Deno.test({
  name: "a stream of nothing but poison commits its offsets and writes no lake object",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "dlq-only", partitions: 1 });
    await using lake = await tempLake();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: t.topic,
      messages: POISON.map(({ key, value }) => ({ key, value })),
    });
    await producer.disconnect();
    const result = await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store: lake.store,
      idleExitSeconds: 2,
    });
    assert.equal(result.deadLettered, POISON.length);
    assert.equal(result.rowsWritten, 0);
    assert.deepEqual(await readLakeTicks(lake.store), []);
    assert.deepEqual(
      await committedOffsets(kafka, t.group, t.topic),
      new Map([[0, BigInt(POISON.length)]]),
    );
    assert.equal((await readTopic(kafka, `${t.topic}.dlq`)).length, POISON.length);
  },
});

Deno.test({
  name:
    "an impossible calendar date on the wire (2021-02-30) goes to the dead-letter topic instead of becoming 2021-03-02",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Date.parse alone rolls 2021-02-30 over to 2021-03-02, which once put such a tick in the lake
    // under a date nobody sent; decodeTick now checks the calendar.
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "dlq-date", partitions: 1 });
    await using lake = await tempLake();
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: t.topic,
      messages: [
        { key: "good", value: encodeTick(GOOD) },
        { key: "p-baddate", value: wire({ ts: "2021-02-30T00:00:00.000Z" }) },
      ],
    });
    await producer.disconnect();
    const result = await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store: lake.store,
      idleExitSeconds: 2,
    });
    assertExactlyOnce(await readLakeTicks(lake.store), [GOOD]);
    assert.equal(result.deadLettered, 1);
    const [letter] = await readTopic(kafka, `${t.topic}.dlq`);
    assert.match(letter?.headers["dlq.reason"] ?? "", /2021-02-30/);
  },
});
