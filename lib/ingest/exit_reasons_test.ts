/** Every exit reason is honest: a store that needs a fix is named, not blamed on Kafka. */

import assert from "node:assert/strict";
import { MemoryStore } from "../lake/memory_store.ts";
import { S3StoreError } from "../lake/s3_store.ts";
import { simulateTicks } from "../source/simulate.ts";
import { KafkaUnavailableError } from "../kafka/client.ts";
import { sendTicks, testKafka, testTopic } from "../testing/kafka.ts";
import { consumeToLake } from "./consume_to_lake.ts";

Deno.test({
  name:
    "an S3 access error stops the consumer with the S3 error, not 'Cannot use Kafka … is the broker running?', and commits nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "exit-s3", partitions: 1 });
    await sendTicks(kafka, t.topic, simulateTicks({ symbols: 2, count: 50, seed: 1 }));
    const store = new MemoryStore();
    const denied = new S3StoreError(
      "access-denied",
      "AccessDenied",
      "Cannot put s3://bucket/ticks/x.parquet: access denied (AccessDenied, HTTP 403). Check the IAM policy.",
    );
    store.put = () => Promise.reject(denied);
    const error = await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store,
      flushRows: 10,
      idleExitSeconds: 5,
    }).then(() => undefined, (e) => e);
    assert.ok(error, "the consumer must fail");
    assert.ok(!(error instanceof KafkaUnavailableError), `blamed Kafka: ${error.message}`);
    assert.equal(error, denied);
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: t.group, topics: [t.topic] });
      assert.deepEqual(offsets.partitions.map((p) => p.offset), ["-1"], "nothing committed");
    } finally {
      await admin.disconnect();
    }
  },
});
