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
    // One replica and min.insync.replicas 1 on the single test broker; 3 and 2 on a cluster.
    const admin = kafka.admin();
    await admin.connect();
    const brokers = (await admin.describeCluster()).brokers.length;
    await admin.disconnect();
    const replicationFactor = Math.min(3, brokers);
    const minInsyncReplicas = replicationFactor >= 3 ? 2 : 1;
    assert.deepEqual(await ensureTopic(kafka, { topic, partitions: 2, logger }), {
      topic,
      partitions: 2,
      replicationFactor,
      minInsyncReplicas,
      created: true,
    });
    assert.ok(logger.lines.some((l) =>
      l.includes(
        `Created topic ${topic} with 2 partition(s), replication factor ${replicationFactor}, ` +
          `min.insync.replicas ${minInsyncReplicas}`,
      )
    ));
    assert.deepEqual(await ensureTopic(kafka, { topic, partitions: 5, logger }), {
      topic,
      partitions: 2,
      replicationFactor,
      minInsyncReplicas,
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

Deno.test("ensureTopic sets an explicit min.insync.replicas on the new topic and reads it back", async () => {
  const kafka = testKafka();
  const topic = uniqueName("admin-isr");
  try {
    const info = await ensureTopic(kafka, {
      topic,
      partitions: 1,
      replicationFactor: 1,
      minInsyncReplicas: 2,
    });
    assert.equal(info.minInsyncReplicas, 2);
    assert.equal(info.replicationFactor, 1);
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  }
});

Deno.test("ensureTopic refuses a partition count, replication factor or min ISR below 1", async () => {
  await assert.rejects(ensureTopic(testKafka(), { topic: "x", partitions: 0 }), /at least 1/);
  await assert.rejects(
    ensureTopic(testKafka(), { topic: "x", replicationFactor: 0 }),
    /replicationFactor must be a whole number of at least 1/,
  );
  await assert.rejects(
    ensureTopic(testKafka(), { topic: "x", minInsyncReplicas: 1.5 }),
    /minInsyncReplicas must be a whole number of at least 1/,
  );
});

Deno.test("ensureTopic on an unreachable broker raises KafkaUnavailableError", async () => {
  const kafka = createKafka({ brokers: ["127.0.0.1:1"], retries: 0, connectionTimeoutMs: 500 });
  await assert.rejects(
    ensureTopic(kafka, { topic: "x", brokers: ["127.0.0.1:1"] }),
    (e: unknown) => e instanceof KafkaUnavailableError && /deno task up/.test((e as Error).message),
  );
});
