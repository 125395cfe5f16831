import assert from "node:assert/strict";
import { benchJavaProducer, JavaProducerError, parseProducerPerformance } from "./java_producer.ts";

const OUTPUT = `log4j:WARN No appenders could be found for logger.
318961 records sent, 63779.4 records/sec (11.56 MB/sec), 129.1 ms avg latency, 431.0 ms max latency.
1000000 records sent, 71225.071225 records/sec (12.90 MB/sec), 64.30 ms avg latency, 360.00 ms max latency, 25 ms 50th, 202 ms 95th, 234 ms 99th, 260 ms 99.9th.
`;

Deno.test("parseProducerPerformance reads the final summary, not the interim lines", () => {
  assert.deepEqual(parseProducerPerformance(OUTPUT), {
    records: 1_000_000,
    recordsPerSec: 71225.071225,
    mibPerSec: 12.9,
    avgLatencyMs: 64.3,
    p99LatencyMs: 234,
  });
});

Deno.test("parseProducerPerformance without a summary says what the tool printed", () => {
  const interim = OUTPUT.split("\n").slice(0, 2).join("\n");
  assert.throws(
    () => parseProducerPerformance(interim),
    (error: Error) =>
      error instanceof JavaProducerError && /no summary line/.test(error.message) &&
      /318961 records sent/.test(error.message),
  );
  assert.throws(() => parseProducerPerformance(""), /\(nothing\)/);
});

Deno.test("benchJavaProducer without kafka-tools says to run deno task up", async () => {
  const empty = await Deno.makeTempDir();
  try {
    await assert.rejects(
      benchJavaProducer({
        brokers: ["127.0.0.1:9092"],
        topic: "unused",
        records: 1,
        compression: "none",
        payloadFile: "/nonexistent",
        recordBytes: 190,
        jarsDir: empty,
      }),
      (error: Error) =>
        error instanceof JavaProducerError && /No kafka-tools jar/.test(error.message) &&
        /deno task up/.test(error.message),
    );
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});
