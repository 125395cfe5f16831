import assert from "node:assert/strict";
import { isKafkaTransient, isMembershipLost, RejoinRequest } from "./membership.ts";

/** Builds an error shaped like kafkajs' (name, type, retriable, cause). */
function kafkaError(name: string, fields: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(name), { name, ...fields });
}

Deno.test("a refused commit for a stale generation, wrapped by kafkajs, means the membership is lost", () => {
  const protocol = kafkaError("KafkaJSProtocolError", { type: "ILLEGAL_GENERATION" });
  const wrapped = kafkaError("KafkaJSNonRetriableError", { retriable: false, cause: protocol });
  assert.equal(isMembershipLost(wrapped), true);
  assert.equal(isMembershipLost(new RejoinRequest("fenced")), true);
  assert.equal(isMembershipLost(kafkaError("KafkaJSConnectionError")), false);
});

Deno.test("retries that ran out during a failover are transient; authorization and our own errors are not", () => {
  const refused = kafkaError("KafkaJSConnectionError", { retriable: true });
  const exhausted = kafkaError("KafkaJSNumberOfRetriesExceeded", {
    retriable: false,
    cause: refused,
  });
  assert.equal(isKafkaTransient(exhausted), true);
  const denied = kafkaError("KafkaJSProtocolError", { type: "TOPIC_AUTHORIZATION_FAILED" });
  assert.equal(
    isKafkaTransient(kafkaError("KafkaJSNonRetriableError", { cause: denied })),
    false,
  );
  const s3 = Object.assign(new Error("access denied"), { name: "S3StoreError" });
  assert.equal(isKafkaTransient(kafkaError("KafkaJSNonRetriableError", { cause: s3 })), false);
  assert.equal(isKafkaTransient(s3), false);
});

Deno.test("errorAction: rejoin when fenced, retry Kafka's transient trouble, stop for what needs a person", async () => {
  const { FencedError } = await import("../lake/checkpoint_log.ts");
  const { errorAction } = await import("./membership.ts");
  assert.equal(errorAction(new FencedError(0, "taken over")), "rejoin");
  assert.equal(
    errorAction(kafkaError("KafkaJSProtocolError", { type: "UNKNOWN_MEMBER_ID" })),
    "rejoin",
  );
  assert.equal(errorAction(kafkaError("KafkaJSConnectionError", { retriable: true })), "retry");
  assert.equal(errorAction(Object.assign(new Error("S3 down"), { retriable: true })), "retry");
  assert.equal(errorAction(Object.assign(new Error("denied"), { name: "S3StoreError" })), "stop");
});
