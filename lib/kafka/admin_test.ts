import assert from "node:assert/strict";
import { MemoryLogger } from "../log.ts";
import { testKafka, uniqueName } from "../testing/kafka.ts";
import { ensureTopic } from "./admin.ts";
import { createKafka, KafkaUnavailableError } from "./client.ts";

Deno.test("ensureTopic creates a missing topic once and keeps an existing one", async () => {
  const kafka = testKafka();
  const topic = uniqueName("admin");
  const logger = new MemoryLogger();
  try {
    assert.deepEqual(await ensureTopic(kafka, { topic, partitions: 2, logger }), {
      topic,
      partitions: 2,
      created: true,
    });
    assert.deepEqual(await ensureTopic(kafka, { topic, partitions: 5, logger }), {
      topic,
      partitions: 2,
      created: false,
    });
    assert.ok(logger.lines.some((l) => l.includes(`Topic ${topic} exists with 2 partition(s)`)));
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  }
});

Deno.test("ensureTopic refuses a partition count below 1", async () => {
  await assert.rejects(ensureTopic(testKafka(), { topic: "x", partitions: 0 }), /at least 1/);
});

Deno.test("ensureTopic on an unreachable broker raises KafkaUnavailableError", async () => {
  const kafka = createKafka({ brokers: ["127.0.0.1:1"], retries: 0, connectionTimeoutMs: 500 });
  await assert.rejects(
    ensureTopic(kafka, { topic: "x", brokers: ["127.0.0.1:1"] }),
    (e: unknown) => e instanceof KafkaUnavailableError && /deno task up/.test((e as Error).message),
  );
});
