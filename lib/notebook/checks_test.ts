import assert from "node:assert/strict";
import { encodeTicks } from "../lake/encode.ts";
import { objectKey } from "../lake/layout.ts";
import { simulateTicks } from "../source/simulate.ts";
import { sendTicks, testBrokers, testKafka, testTopic } from "../testing/kafka.ts";
import { tempLake } from "../testing/lake.ts";
import { checkPrerequisites, PrerequisiteError, requireBroker, requireLake } from "./checks.ts";
import { notebookSettings } from "./settings.ts";

/** Asserts a PrerequisiteError whose message matches and whose stack is that one line. */
function prerequisite(message: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PrerequisiteError, String(error));
    assert.match(error.message, message);
    assert.equal(error.stack, `PrerequisiteError: ${error.message}`, "no stack trace to read");
    return true;
  };
}

Deno.test({
  name: "no broker: the check says to start one with deno task up, not a kafkajs trace",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const settings = notebookSettings({ values: { brokers: "127.0.0.1:1" }, env: {} });
    await assert.rejects(
      requireBroker(settings),
      prerequisite(/No Kafka broker answers at 127\.0\.0\.1:1 .*`deno task up`.*00_kafka_setup/),
    );
  },
});

Deno.test({
  name: "a topic that is missing or empty sends the learner to the producer notebook",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "nb-check" });
    const brokers = testBrokers();
    const missing = notebookSettings({ values: { brokers, topic: `${t.topic}-nope` }, env: {} });
    await assert.rejects(
      checkPrerequisites(missing, ["broker", "messages"]),
      prerequisite(/Topic ".*-nope" does not exist .* run 01_kafka_producer\.ipynb first/),
    );
    const settings = notebookSettings({ values: { brokers, topic: t.topic }, env: {} });
    await assert.rejects(
      checkPrerequisites(settings, ["messages"]),
      prerequisite(/holds no messages: run 01_kafka_producer\.ipynb first/),
    );
    await sendTicks(kafka, t.topic, simulateTicks({ symbols: 3, count: 4 }));
    const found = await checkPrerequisites(settings, ["broker", "messages"]);
    assert.match(found["text/plain"], /Kafka +.*1 broker\(s\), 127\.0\.0\.1:\d+ reachable/);
    assert.match(found["text/plain"], new RegExp(`topic ${t.topic} +12 messages in 3 partitions`));
  },
});

Deno.test("an empty lake sends the learner to the consumer notebook; a filled one is summed up", async () => {
  await using lake = await tempLake();
  const settings = notebookSettings({ values: { lake: lake.dir }, env: {} });
  await assert.rejects(
    requireLake(settings),
    prerequisite(/The lake .* has no objects under ticks\/ yet: run 02_kafka_consumer\.ipynb/),
  );
  const key = objectKey({
    dt: "2021-01-04",
    topic: "t",
    partition: 0,
    startOffset: 0,
    format: "parquet",
  });
  await lake.store.put(key, encodeTicks([...simulateTicks({ count: 2 })], { format: "parquet" }));
  const found = await checkPrerequisites(settings, ["lake"]);
  assert.match(found["text/plain"], /lake +.*: 1 object under ticks\//);
});
