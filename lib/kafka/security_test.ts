import assert from "node:assert/strict";
import {
  checkKafkaSecurity,
  KafkaSecurityError,
  kafkaSecurityFromEnv,
  parseSaslMechanism,
  parseSecurityProtocol,
  renderClientEnv,
} from "./security.ts";

const SCRAM = {
  KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
  KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
  KAFKA_SASL_USERNAME: "pipeline",
  KAFKA_SASL_PASSWORD: "s3cret-pass",
};

Deno.test("no settings mean PLAINTEXT without login", () => {
  assert.deepEqual(kafkaSecurityFromEnv({}), {});
  assert.deepEqual(kafkaSecurityFromEnv({ KAFKA_SECURITY_PROTOCOL: " " }), {});
});

Deno.test("names are read in any case, SCRAM_SHA_512 too", () => {
  assert.equal(parseSecurityProtocol("sasl_ssl"), "SASL_SSL");
  assert.equal(parseSaslMechanism("scram_sha_512"), "SCRAM-SHA-512");
  assert.equal(parseSaslMechanism("plain"), "PLAIN");
  assert.equal(parseSecurityProtocol("TLS"), undefined);
  assert.deepEqual(
    kafkaSecurityFromEnv({ ...SCRAM, KAFKA_SECURITY_PROTOCOL: "sasl_ssl" }),
    {
      securityProtocol: "SASL_SSL",
      saslMechanism: "SCRAM-SHA-512",
      saslUsername: "pipeline",
      saslPassword: "s3cret-pass",
    },
  );
});

Deno.test("bad settings and combinations name the variable and what to set", () => {
  const fails = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => kafkaSecurityFromEnv(env), (e: unknown) => {
      assert.ok(e instanceof KafkaSecurityError, String(e));
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes("s3cret-pass"), "the password is never in a message");
      return true;
    });
  fails(
    { KAFKA_SECURITY_PROTOCOL: "TLS" },
    /KAFKA_SECURITY_PROTOCOL="TLS" is not valid: use PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL/,
  );
  fails({ ...SCRAM, KAFKA_SASL_MECHANISM: "GSSAPI" }, /KAFKA_SASL_MECHANISM="GSSAPI" is not valid/);
  fails(
    { KAFKA_SECURITY_PROTOCOL: "SASL_SSL", KAFKA_SASL_MECHANISM: "SCRAM-SHA-512" },
    /SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
  );
  fails(
    { ...SCRAM, KAFKA_SASL_MECHANISM: "", KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT" },
    /SASL_PLAINTEXT needs KAFKA_SASL_MECHANISM/,
  );
  fails(
    { KAFKA_SASL_MECHANISM: "PLAIN", KAFKA_SASL_USERNAME: "u", KAFKA_SASL_PASSWORD: "s3cret-pass" },
    /KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD are set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT.*SASL_SSL/,
  );
  fails(
    { KAFKA_SECURITY_PROTOCOL: "SSL", KAFKA_SASL_USERNAME: "u" },
    /KAFKA_SASL_USERNAME is set but KAFKA_SECURITY_PROTOCOL is SSL/,
  );
  fails(
    { KAFKA_SSL_CA_LOCATION: "/ca.pem" },
    /KAFKA_SSL_CA_LOCATION is set but KAFKA_SECURITY_PROTOCOL is PLAINTEXT, which does not use TLS/,
  );
});

Deno.test("messages name the flag when a flag set the value", () => {
  assert.throws(
    () =>
      checkKafkaSecurity({ securityProtocol: "SASL_SSL" }, {
        securityProtocol: "--security-protocol",
      }),
    /--security-protocol=SASL_SSL needs KAFKA_SASL_MECHANISM and KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
  );
});

/** Runs `script` in a clean `sh` after loading `envText` as client.env is loaded; its stdout. */
async function sourced(envText: string, script: string): Promise<string> {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, envText);
    const out = await new Deno.Command("sh", {
      args: ["-c", `set -a; . "${file}"; set +a; ${script}`],
      env: {},
      clearEnv: true,
    }).output();
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("renderClientEnv writes sourceable KEY=value lines a shell reads back unchanged", async () => {
  const text = renderClientEnv(["127.0.0.1:9096"], {
    securityProtocol: "SASL_SSL",
    saslMechanism: "SCRAM-SHA-512",
    saslUsername: "pipeline",
    saslPassword: "Ab3xYz09",
    sslCaLocation: "/abs/ca.pem",
  });
  assert.equal(
    text,
    [
      "KAFKA_BROKERS=127.0.0.1:9096",
      "KAFKA_SECURITY_PROTOCOL=SASL_SSL",
      "KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
      "KAFKA_SASL_USERNAME=pipeline",
      "KAFKA_SASL_PASSWORD=Ab3xYz09",
      "KAFKA_SSL_CA_LOCATION=/abs/ca.pem",
      "",
    ].join("\n"),
  );
  assert.deepEqual(
    (await sourced(text, "env | grep ^KAFKA_ | sort")).trim().split("\n"),
    text.trim().split("\n").sort(),
  );
  // Values a shell would change are quoted, and come back unchanged.
  const odd = "pa ss'$x\"`\\!";
  const quoted = renderClientEnv(["b:1"], {
    securityProtocol: "SASL_SSL",
    saslMechanism: "PLAIN",
    saslUsername: "key",
    saslPassword: odd,
  });
  assert.equal(await sourced(quoted, 'printf %s "$KAFKA_SASL_PASSWORD"'), odd);
  assert.throws(
    () =>
      renderClientEnv(["b:1"], {
        securityProtocol: "SASL_SSL",
        saslMechanism: "PLAIN",
        saslUsername: "key",
        saslPassword: "line\nbreak",
      }),
    /KAFKA_SASL_PASSWORD has a line break/,
  );
});
