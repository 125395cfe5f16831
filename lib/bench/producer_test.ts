import assert from "node:assert/strict";
import { createKafka } from "../kafka/client.ts";
import { requireTestEnv } from "../testing/lake.ts";
import { benchProducer, producerFigure } from "./producer.ts";
import { BenchTopics } from "./topics.ts";

Deno.test("producerFigure turns records and time into records/s and MB/s of values", () => {
  assert.deepEqual(producerFigure(100_000, 2_000, 200), {
    records: 100_000,
    elapsedMs: 2_000,
    recordsPerSec: 50_000,
    mbPerSec: 10,
  });
  assert.equal(producerFigure(10, 0, 200).recordsPerSec, 0);
});

Deno.test("benchProducer sends every record to the topic and measures a rate", async () => {
  const brokers = requireTestEnv("KAFKA_BROKERS", "a Kafka broker").split(",");
  const kafka = createKafka({ brokers });
  await using topics = new BenchTopics(kafka, `t${Date.now().toString(36)}`);
  const topic = await topics.create("producer");
  const figure = await benchProducer({ brokers }, { topic, records: 2_000, compression: "gzip" });
  assert.equal(figure.records, 2_000);
  assert.ok(figure.recordsPerSec > 0 && figure.mbPerSec > 0);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    assert.equal(offsets.reduce((sum, p) => sum + Number(p.high), 0), 2_000);
  } finally {
    await admin.disconnect();
  }
});
