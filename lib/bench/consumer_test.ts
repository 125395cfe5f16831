import assert from "node:assert/strict";
import { createKafka } from "../kafka/client.ts";
import { createTickProducer, produceTicks } from "../kafka/producer.ts";
import { readLakeTicks, requireTestEnv, tempLake } from "../testing/lake.ts";
import { benchConsumer, ConsumerBenchError, consumeTaskV8Flags } from "./consumer.ts";
import { benchTicks } from "./data.ts";
import { BenchTopics } from "./topics.ts";

Deno.test("benchConsumer writes the topic to the lake in a child process and reports its memory", async () => {
  const brokers = requireTestEnv("KAFKA_BROKERS", "a Kafka broker").split(",");
  const kafka = createKafka({ brokers });
  await using topics = new BenchTopics(kafka, `t${Date.now().toString(36)}`);
  await using lake = await tempLake();
  const topic = await topics.create("consumer");
  const producer = createTickProducer(kafka);
  await producer.connect();
  await produceTicks(producer, benchTicks(3_000), { topic });
  await producer.disconnect();

  const figure = await benchConsumer({
    brokers,
    topic,
    group: `bench-test-${Date.now()}`,
    lake: lake.dir,
    rows: 3_000,
  });
  assert.equal(figure.rows, 3_000);
  assert.ok(figure.objects >= 3, `${figure.objects} objects`); // one per partition at least
  assert.ok(figure.rowsPerSec > 0 && figure.rowsPerSec >= figure.rowsPerSecWithStartup);
  assert.ok(figure.peakRss > 10 * 1024 * 1024, `peak RSS ${figure.peakRss}`);
  assert.ok(figure.elapsedMs >= figure.startupMs);
  const written = await readLakeTicks(lake.store);
  assert.equal(written.length, 3_000);
});

Deno.test("benchConsumer reports the child's error when the lake cannot be opened", async () => {
  await assert.rejects(
    benchConsumer({
      brokers: ["127.0.0.1:9092"],
      topic: "unused",
      group: "unused",
      lake: "ftp://nowhere",
      rows: 1,
    }),
    (error: Error) =>
      error instanceof ConsumerBenchError && /exited with 1/.test(error.message) &&
      /expected a folder or s3:\/\/bucket\/prefix/.test(error.message),
  );
});

Deno.test("the bench runs the consumer with the consume task's heap cap", async () => {
  assert.deepEqual(await consumeTaskV8Flags(), [
    "--v8-flags=--max-old-space-size=512,--max-semi-space-size=8",
  ]);
});
