import assert from "node:assert/strict";
import { JavaConsumerError, parseConsumerPerformance } from "./java_consumer.ts";

const OUTPUT =
  `start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-30 05:55:13:169, 2026-11-30 05:55:18:646, 186.1385, 33.9855, 1000000, 182581.7053, 857, 4620, 40.2897, 216450.2165
`;

Deno.test("parseConsumerPerformance reads the fetch rate, which leaves out the group join", () => {
  assert.deepEqual(parseConsumerPerformance(`log4j:WARN noise\n${OUTPUT}`), {
    records: 1_000_000,
    recordsPerSec: 216450.2165,
    recordsPerSecWithStartup: 182581.7053,
    rebalanceMs: 857,
  });
});

Deno.test("parseConsumerPerformance without a result line says what the tool printed", () => {
  assert.throws(
    () => parseConsumerPerformance("WARN: timeout waiting for records"),
    (error) =>
      error instanceof JavaConsumerError && /no result line/.test(error.message) &&
      /timeout waiting/.test(error.message),
  );
});
