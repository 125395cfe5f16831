import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { simulateTicks } from "../source/simulate.ts";
import {
  endOffsets,
  runScript,
  sendTicks,
  testKafka,
  testTopic,
  uniqueName,
} from "../testing/kafka.ts";
import { encodeTick } from "../tick.ts";
import { formatTailLine, type TailMessage, tailTopic } from "./tail.ts";

const ticks = () => [...simulateTicks({ symbols: 6, count: 10, intervalMs: 60_000, seed: 13 })];

/** Asserts that the group committed nothing and is gone from the broker. */
async function assertNoTrace(kafka: Kafka, group: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    assert.deepEqual(
      entry.partitions.map((p) => p.offset),
      entry.partitions.map(() => "-1"),
      `the tail's group ${group} committed offsets`,
    );
    const { groups } = await admin.listGroups();
    assert.ok(!groups.some((g) => g.groupId === group), `group ${group} was left behind`);
  } finally {
    await admin.disconnect();
  }
}

Deno.test({
  name: "tail --from-beginning reads every message of a topic and commits no offset",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "tail-all" });
    const sent = ticks();
    await sendTicks(kafka, t.topic, sent);
    const seen: TailMessage[] = [];
    const result = await tailTopic(kafka, {
      topic: t.topic,
      start: "earliest",
      max: sent.length,
      onMessage: (m) => void seen.push(m),
    });
    assert.equal(result.stoppedBy, "max");
    assert.equal(result.messages, sent.length);
    assert.deepEqual(result.started.map((s) => s.offset), ["0", "0", "0"]);
    assert.deepEqual(
      seen.map((m) => m.value).sort(),
      sent.map(encodeTick).sort(),
      "every value arrives as it was sent",
    );
    for (const m of seen) assert.equal(m.key, JSON.parse(m.value!).symbol);
    await assertNoTrace(kafka, result.group, t.topic);
  },
});

Deno.test({
  name: "tail --partition P --offset O reads that partition only, from that offset on",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "tail-part" });
    await sendTicks(kafka, t.topic, ticks());
    const ends = await endOffsets(kafka, t.topic);
    const [partition, end] = [...ends].sort((a, b) => Number(b[1] - a[1]))[0];
    assert.ok(end >= 5n, `partition ${partition} holds ${end} messages`);
    const seen: TailMessage[] = [];
    const result = await tailTopic(kafka, {
      topic: t.topic,
      partition,
      start: { offset: 2n },
      max: Number(end) - 2,
      onMessage: (m) => void seen.push(m),
    });
    assert.deepEqual(result.started, [{ partition, offset: "2" }]);
    assert.ok(seen.every((m) => m.partition === partition));
    assert.deepEqual(
      seen.map((m) => Number(m.offset)),
      Array.from({ length: Number(end) - 2 }, (_, i) => i + 2),
    );
    await assertNoTrace(kafka, result.group, t.topic);
  },
});

Deno.test({
  name: "tail without --from-beginning shows only messages sent after it started",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "tail-new" });
    await sendTicks(kafka, t.topic, ticks()); // old: not shown
    const fresh = [...simulateTicks({ symbols: ["NEW"], count: 4, start: Date.UTC(2030, 0, 1) })];
    const seen: TailMessage[] = [];
    let sending: Promise<number> | undefined;
    const result = await tailTopic(kafka, {
      topic: t.topic,
      max: fresh.length,
      idleExitMs: 30_000,
      logger: {
        info: (text) => {
          if (text.startsWith("Reading")) sending = sendTicks(kafka, t.topic, fresh);
        },
        warn: () => {},
        error: () => {},
      },
      onMessage: (m) => void seen.push(m),
    });
    await sending;
    assert.equal(result.stoppedBy, "max");
    assert.deepEqual(seen.map((m) => m.value), fresh.map(encodeTick));
    await assertNoTrace(kafka, result.group, t.topic);
  },
});

Deno.test({
  name: "tail stops when idle, and refuses a missing topic, partition or offset saying what exists",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "tail-idle", partitions: 2 });
    await sendTicks(kafka, t.topic, ticks().slice(0, 3));
    const idle = await tailTopic(kafka, {
      topic: t.topic,
      start: "earliest",
      idleExitMs: 1500,
      onMessage: () => {},
    });
    assert.deepEqual([idle.stoppedBy, idle.messages], ["idle", 3]);
    const noop = () => {};
    await assert.rejects(
      tailTopic(kafka, { topic: uniqueName("missing"), onMessage: noop }),
      /Topic "missing-.*" does not exist on this broker \(it has .*tail-idle/,
    );
    await assert.rejects(
      tailTopic(kafka, { topic: t.topic, partition: 5, onMessage: noop }),
      /has no partition 5: it has partitions 0\.\.1/,
    );
    await assert.rejects(
      tailTopic(kafka, { topic: t.topic, partition: 0, start: { offset: 99n }, onMessage: noop }),
      /Offset 99 is outside partition 0/,
    );
  },
});

Deno.test("a tail line is the value as one JSON line; --verbose adds where it came from", () => {
  const message: TailMessage = {
    topic: "t",
    partition: 2,
    offset: "41",
    key: "NYA",
    value: '{ "symbol": "NYA", "close": 1 }',
    timestamp: "2021-01-04T00:00:00.000Z",
    headers: {},
  };
  assert.equal(formatTailLine(message), '{"symbol":"NYA","close":1}');
  assert.equal(
    formatTailLine(message, { verbose: true }),
    '{"partition":2,"offset":"41","timestamp":"2021-01-04T00:00:00.000Z","key":"NYA",' +
      '"value":{"symbol":"NYA","close":1}}',
  );
  assert.equal(formatTailLine({ ...message, value: "not json" }), '"not json"');
  assert.equal(formatTailLine({ ...message, value: null }), "null");
  assert.match(
    formatTailLine({ ...message, headers: { "dlq.reason": "bad" } }, { verbose: true }),
    /"headers":\{"dlq\.reason":"bad"\}/,
  );
});

Deno.test({
  name: "deno task tail prints JSON lines, exits at --max, and says it committed nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "tail-cli" });
    await sendTicks(kafka, t.topic, ticks());
    const run = await runScript("tail", [
      "--topic",
      t.topic,
      "--from-beginning",
      "--max",
      "3",
      "--verbose",
    ]);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 3, run.stdout);
    for (const line of lines) {
      const record = JSON.parse(line);
      assert.deepEqual(Object.keys(record), ["partition", "offset", "timestamp", "key", "value"]);
      assert.equal(record.key, record.value.symbol);
    }
    assert.match(run.stderr, /3 messages from .*no offsets committed/);
    const plain = await runScript("tail", ["--topic", t.topic, "--from-beginning", "--max", "1"]);
    assert.ok(JSON.parse(plain.stdout.trim()).symbol, plain.stdout);
    const bad = await runScript("tail", ["--topic", t.topic, "--offset", "5"], {
      allowFailure: true,
    });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--offset needs --partition/);
  },
});
