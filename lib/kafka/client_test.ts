import assert from "node:assert/strict";
import { classifyKafkaFailure, kafkaJsSecurity, KafkaUnavailableError } from "./client.ts";
import { KafkaSecurityError } from "./security.ts";

Deno.test("kafkaJsSecurity: PLAINTEXT adds nothing; SASL_SSL without a CA trusts Node's CAs", () => {
  assert.deepEqual(kafkaJsSecurity({}), {});
  assert.deepEqual(kafkaJsSecurity({ securityProtocol: "PLAINTEXT" }), {});
  assert.deepEqual(
    kafkaJsSecurity({
      securityProtocol: "SASL_SSL",
      saslMechanism: "PLAIN",
      saslUsername: "API_KEY",
      saslPassword: "API_SECRET",
    }),
    { ssl: true, sasl: { mechanism: "plain", username: "API_KEY", password: "API_SECRET" } },
  );
  assert.deepEqual(
    kafkaJsSecurity({
      securityProtocol: "SASL_PLAINTEXT",
      saslMechanism: "SCRAM-SHA-256",
      saslUsername: "u",
      saslPassword: "p",
    }),
    { sasl: { mechanism: "scram-sha-256", username: "u", password: "p" } },
  );
});

Deno.test("kafkaJsSecurity reads the CA file, and says what to do when it cannot", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pem = `-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n`;
    await Deno.writeTextFile(`${dir}/ca.pem`, pem);
    assert.deepEqual(
      kafkaJsSecurity({ securityProtocol: "SSL", sslCaLocation: `${dir}/ca.pem` }),
      { ssl: { ca: [pem] } },
    );
    assert.throws(
      () => kafkaJsSecurity({ securityProtocol: "SSL", sslCaLocation: `${dir}/missing.pem` }),
      (e: unknown) =>
        e instanceof KafkaSecurityError &&
        /KAFKA_SSL_CA_LOCATION=.*missing\.pem: cannot read it/.test(e.message),
    );
    await Deno.writeTextFile(`${dir}/not.pem`, "hello");
    assert.throws(
      () => kafkaJsSecurity({ securityProtocol: "SSL", sslCaLocation: `${dir}/not.pem` }),
      /holds no PEM certificate/,
    );
    assert.throws(
      () => kafkaJsSecurity({ securityProtocol: "SASL_SSL", saslMechanism: "SCRAM-SHA-512" }),
      /needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("connection failures are told apart: login, untrusted certificate, plain unreachable", () => {
  const sasl = Object.assign(new Error("SASL SCRAM SHA512 authentication failed"), {
    name: "KafkaJSSASLAuthenticationError",
  });
  assert.equal(classifyKafkaFailure(["h:1"], sasl), "authentication");
  const auth = new KafkaUnavailableError(["h:1"], sasl);
  assert.equal(auth.failure, "authentication");
  assert.match(auth.message, /authentication failed: check KAFKA_SASL_USERNAME\/PASSWORD/);

  const cert = Object.assign(
    new Error("Connection error: self-signed certificate in certificate chain"),
    {
      name: "KafkaJSNumberOfRetriesExceeded",
    },
  );
  assert.equal(classifyKafkaFailure(["h:1"], cert), "tls-untrusted");
  assert.match(new KafkaUnavailableError(["h:1"], cert).message, /set KAFKA_SSL_CA_LOCATION/);

  const refused = Object.assign(new Error("Connection error: connect ECONNREFUSED"), {
    name: "KafkaJSConnectionError",
  });
  assert.equal(classifyKafkaFailure(["h:1"], refused), "unreachable");
  assert.match(
    new KafkaUnavailableError(["h:1"], refused).message,
    /is the broker running|Check that the broker is running/,
  );
});
