import assert from "node:assert/strict";
import { simulateTicks } from "../source/simulate.ts";
import { assertKeyedInOrder, readTopic, testKafka, testTopic } from "../testing/kafka.ts";
import { byPartition, createTickProducer, keyPartitioner, produceTicks } from "./producer.ts";

Deno.test("producer sends every tick keyed by symbol, one symbol per partition, values intact", async () => {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix: "producer" });
  const ticks = [...simulateTicks({ symbols: 6, count: 500, intervalMs: 60_000, seed: 3 })];
  const producer = createTickProducer(kafka);
  await producer.connect();
  const seen: number[] = [];
  const result = await produceTicks(producer, ticks, {
    topic: t.topic,
    batchSize: 700,
    onProgress: (p) => seen.push(p.sent),
  }).finally(() => producer.disconnect());
  assert.equal(result.sent, ticks.length);
  assert.equal(result.stopped, false);
  assert.deepEqual(seen.at(-1), ticks.length);

  assertKeyedInOrder(await readTopic(kafka, t.topic), ticks);
});

Deno.test("producer stops on its signal and still delivers what it read", async () => {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix: "producer-stop" });
  const controller = new AbortController();
  const producer = createTickProducer(kafka);
  await producer.connect();
  const result = await produceTicks(producer, simulateTicks({ count: Infinity }), {
    topic: t.topic,
    signal: controller.signal,
    onProgress: (p) => p.sent >= 3000 && controller.abort(),
  }).finally(() => producer.disconnect());
  assert.equal(result.stopped, true);
  assert.ok(result.sent >= 3000);
  assert.equal((await readTopic(kafka, t.topic)).length, result.sent);
});

Deno.test("byPartition groups messages by their key's partition and marks each with it", () => {
  const messages = ["NYA", "IXIC", "NYA", "GSPTSE", "N225", "IXIC"].map((key, i) => ({
    key,
    value: String(i),
  }));
  const groups = byPartition(messages, "stock_market", 3);
  const partitionOf = keyPartitioner("stock_market", 3);
  assert.equal(groups.flat().length, messages.length);
  for (const group of groups) {
    const partition = group[0].partition!;
    for (const m of group) {
      assert.equal(m.partition, partition);
      assert.equal(partitionOf(String(m.key)), partition);
    }
  }
  assert.equal(new Set(groups.map((g) => g[0].partition)).size, groups.length, "one group each");
  const nya = groups.find((g) => g.some((m) => m.key === "NYA"))!;
  assert.deepEqual(
    nya.filter((m) => m.key === "NYA").map((m) => m.value),
    ["0", "2"],
    "order kept",
  );
});
