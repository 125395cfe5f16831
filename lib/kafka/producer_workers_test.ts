import assert from "node:assert/strict";
import { simulateTicks } from "../source/simulate.ts";
import { MemoryLogger } from "../log.ts";
import {
  assertKeyedInOrder,
  readTopic,
  testBrokers,
  testKafka,
  testTopic,
  uniqueName,
} from "../testing/kafka.ts";
import { ProducerWorkersError, produceTicksInWorkers } from "./producer_workers.ts";

Deno.test("producer workers send every tick once, keyed by symbol, in order per symbol", async () => {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix: "producer-workers" });
  const ticks = [...simulateTicks({ symbols: 8, count: 4000, intervalMs: 60_000, seed: 5 })];
  const seen: number[] = [];
  const result = await produceTicksInWorkers(ticks, {
    client: { brokers: testBrokers(), clientId: "lake-tests" },
    topic: t.topic,
    workers: 2,
    batchSize: 300,
    compression: "none",
    onProgress: (p) => seen.push(p.sent),
  });
  assert.equal(result.sent, ticks.length);
  assert.equal(result.stopped, false);
  assert.equal(seen.at(-1), ticks.length);
  assert.ok(seen.every((n, i) => i === 0 || n > seen[i - 1]), "progress only grows");

  const partitionOf = assertKeyedInOrder(await readTopic(kafka, t.topic), ticks);
  assert.ok(new Set(partitionOf.values()).size > 1, "symbols spread over partitions");
});

Deno.test("producer workers stop on their signal and still deliver what they read", async () => {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix: "producer-workers-stop" });
  const controller = new AbortController();
  const result = await produceTicksInWorkers(simulateTicks({ count: Infinity }), {
    client: { brokers: testBrokers() },
    topic: t.topic,
    signal: controller.signal,
    onProgress: (p) => p.sent >= 3000 && controller.abort(),
  });
  assert.equal(result.stopped, true);
  assert.ok(result.sent >= 3000);
  assert.equal((await readTopic(kafka, t.topic)).length, result.sent);
});

Deno.test("producer workers refuse a missing topic with what to do, and start no worker", async () => {
  const logger = new MemoryLogger();
  await assert.rejects(
    produceTicksInWorkers([], {
      client: { brokers: testBrokers(), logger },
      topic: uniqueName("no-such-topic"),
    }),
    (error) => error instanceof ProducerWorkersError && /create it first/.test(error.message),
  );
});
