import assert from "node:assert/strict";
import { simulateTicks } from "../source/simulate.ts";
import { assertKeyedInOrder, readTopic, testKafka, testTopic } from "../testing/kafka.ts";
import { createTickProducer, produceTicks } from "./producer.ts";

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
