import assert from "node:assert/strict";
import { createKafka } from "../kafka/client.ts";
import { requireTestEnv } from "../testing/lake.ts";
import { BENCH_PARTITIONS, BenchTopics } from "./topics.ts";

Deno.test("BenchTopics creates unique topics with 3 partitions and deletes them on dispose", async () => {
  const brokers = requireTestEnv("KAFKA_BROKERS", "a Kafka broker").split(",");
  const kafka = createKafka({ brokers });
  const run = `t${Date.now().toString(36)}`;
  let topic: string;
  {
    await using topics = new BenchTopics(kafka, run);
    topic = await topics.create("x");
    assert.equal(topic, `bench-${run}-x`);
    const admin = kafka.admin();
    await admin.connect();
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    await admin.disconnect();
    assert.equal(metadata.topics[0].partitions.length, BENCH_PARTITIONS);
  }
  const admin = kafka.admin();
  await admin.connect();
  try {
    assert.ok(!(await admin.listTopics()).includes(topic));
  } finally {
    await admin.disconnect();
  }
});
