import assert from "node:assert/strict";
import { ConfigError, DEFAULT_CONFIG, loadConfig } from "./config.ts";

Deno.test("config defaults to everything local", () => {
  assert.deepEqual(loadConfig({ env: {} }), {
    ...DEFAULT_CONFIG,
    endpoint: undefined,
    athenaOutput: undefined,
  });
});

Deno.test("flags win over the environment, which wins over defaults", () => {
  const config = loadConfig({
    env: {
      KAFKA_BROKERS: "a:1, b:2",
      KAFKA_TOPIC: "from_env",
      LAKE_URI: "s3://bucket/p",
      AWS_DEFAULT_REGION: "eu-west-1",
    },
    flags: { topic: "from_flag" },
  });
  assert.deepEqual(config.brokers, ["a:1", "b:2"]);
  assert.equal(config.topic, "from_flag");
  assert.equal(config.lake, "s3://bucket/p");
  assert.equal(config.region, "eu-west-1");
});

Deno.test("config errors name the variable or flag and what it accepts", () => {
  const cases: [Parameters<typeof loadConfig>[0], RegExp][] = [
    [{ env: { KAFKA_BROKERS: "kafka" } }, /KAFKA_BROKERS="kafka" is not valid: expected host:port/],
    [{ env: {}, flags: { brokers: "x" } }, /--brokers="x" is not valid/],
    [{ env: { KAFKA_TOPIC: "bad topic" } }, /KAFKA_TOPIC="bad topic" is not valid: expected 1-249/],
    [{ env: { AWS_REGION: "mars" } }, /AWS_REGION="mars" is not valid: expected an AWS region/],
    [
      { env: { AWS_ENDPOINT_URL: "localhost:5000" } },
      /AWS_ENDPOINT_URL.*expected an http\(s\):\/\/ URL/,
    ],
    [{ env: { ATHENA_OUTPUT: "bucket/x" } }, /ATHENA_OUTPUT.*s3:\/\/bucket\/prefix/],
    [
      { env: { KAFKA_TOPIC: " " } },
      /KAFKA_TOPIC is empty; unset it to use the default "stock_market"/,
    ],
    [{ env: {}, flags: { lake: true } }, /--lake needs a value/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => loadConfig(options), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match((e as Error).message, message);
      return true;
    });
  }
});

Deno.test("Kafka security settings come from the environment or flags, checked together", () => {
  const config = loadConfig({
    env: {
      KAFKA_SECURITY_PROTOCOL: "sasl_ssl",
      KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
      KAFKA_SASL_USERNAME: "pipeline",
      KAFKA_SASL_PASSWORD: "from-env",
    },
    flags: { "sasl-password": "from-flag" },
  });
  assert.equal(config.securityProtocol, "SASL_SSL");
  assert.equal(config.saslMechanism, "SCRAM-SHA-512");
  assert.equal(config.saslPassword, "from-flag");
  assert.equal(loadConfig({ env: {} }).securityProtocol, "PLAINTEXT");
  assert.throws(
    () => loadConfig({ env: {}, flags: { "security-protocol": "SASL_SSL" } }),
    (e: unknown) =>
      e instanceof ConfigError &&
      /--security-protocol=SASL_SSL needs KAFKA_SASL_MECHANISM/.test(e.message),
  );
  assert.throws(
    () => loadConfig({ env: { KAFKA_SASL_MECHANISM: "OAUTHBEARER" } }),
    /KAFKA_SASL_MECHANISM="OAUTHBEARER" is not valid: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512/,
  );
});
