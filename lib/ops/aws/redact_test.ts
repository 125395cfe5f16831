import assert from "node:assert/strict";
import { MemoryLogger } from "../../log.ts";
import { redact, redactingLogger, secretsFromEnv } from "./redact.ts";

Deno.test("redact masks secret values, access key ids and key assignments", () => {
  assert.equal(redact("id AKIAIOSFODNN7EXAMPLE here", []), "id [redacted] here");
  assert.equal(redact("token=abcd1234 ok", ["abcd1234"]), "token=[redacted] ok");
  assert.equal(
    redact(`{"secretAccessKey":"wJalrXUtnFEMI/K7MDENG"}`, []),
    `{"secretAccessKey":"[redacted]"}`,
  );
  assert.equal(redact("nothing to hide", ["abc"]), "nothing to hide");
});

Deno.test("redactingLogger masks the credentials found in the environment on every level", () => {
  const secrets = secretsFromEnv({
    AWS_SECRET_ACCESS_KEY: "s3cr3t-value",
    AWS_REGION: "us-east-1",
  });
  assert.deepEqual(secrets, ["s3cr3t-value"]);
  const memory = new MemoryLogger();
  const logger = redactingLogger(memory, secrets);
  logger.info("a s3cr3t-value");
  logger.warn("b s3cr3t-value");
  logger.error("c us-east-1");
  assert.deepEqual(memory.lines, [
    "info: a [redacted]",
    "warn: b [redacted]",
    "error: c us-east-1",
  ]);
});

Deno.test("redact masks the Kafka SASL password and any password assignment", () => {
  assert.deepEqual(secretsFromEnv({ KAFKA_SASL_PASSWORD: "kafka-s3cret" }), ["kafka-s3cret"]);
  assert.equal(redact("login kafka-s3cret", ["kafka-s3cret"]), "login [redacted]");
  assert.equal(redact("KAFKA_SASL_PASSWORD=abc123xyz", []), "KAFKA_SASL_PASSWORD=[redacted]");
  assert.equal(
    redact("SCRAM-SHA-512=[name=admin,password=abc123xyz]", []),
    "SCRAM-SHA-512=[name=admin,password=[redacted]]",
  );
  assert.equal(
    redact('ScramLoginModule required username="admin" password="abc123xyz";', []),
    'ScramLoginModule required username="admin" password="[redacted]";',
  );
  assert.equal(redact(`{"saslPassword":"abc123xyz"}`, []), `{"saslPassword":"[redacted]"}`);
});
