import assert from "node:assert/strict";
import { createKafka } from "../kafka/client.ts";
import { requireTestEnv, tempLake } from "../testing/lake.ts";
import { benchFreshness, freshnessFigure } from "./freshness.ts";
import { BenchTopics } from "./topics.ts";

Deno.test("freshnessFigure sums up latencies as p50, p99 and max", () => {
  const latencies = Array.from({ length: 200 }, (_, i) => i + 1); // 1..200
  assert.deepEqual(freshnessFigure(latencies, { flushSeconds: 2, rate: 10 }), {
    flushSeconds: 2,
    rate: 10,
    rows: 200,
    p50Ms: 100,
    p99Ms: 198,
    maxMs: 200,
  });
  assert.throws(() => freshnessFigure([], { flushSeconds: 2, rate: 10 }), /no values/);
});

Deno.test("benchFreshness measures every produced row once it is durable in the lake", async () => {
  const brokers = requireTestEnv("KAFKA_BROKERS", "a Kafka broker").split(",");
  const kafka = createKafka({ brokers });
  await using topics = new BenchTopics(kafka, `t${Date.now().toString(36)}`);
  await using lake = await tempLake();
  const figure = await benchFreshness(kafka, {
    topic: await topics.create("fresh"),
    group: `bench-test-${Date.now()}`,
    store: lake.store,
    flushSeconds: 1,
    rate: 100,
    durationSeconds: 2,
    brokers,
  });
  assert.equal(figure.rows, 200);
  // A row cannot be durable before it was produced, nor before its buffer could age.
  assert.ok(figure.p50Ms > 0 && figure.p99Ms >= figure.p50Ms && figure.maxMs >= figure.p99Ms);
});
