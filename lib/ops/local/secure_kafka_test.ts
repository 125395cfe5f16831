/**
 * The secure local broker end to end: `upLocalServices({ secure: true })` (what `deno task up
 * --secure` runs) starts a SASL_SSL + SCRAM-SHA-512 broker and writes client.env; the project's
 * producer sends ticks with those settings, `deno task consume` (a child process, configured only
 * by the client.env variables) sinks them into a folder lake, and the rows are read back. A wrong
 * password and a plaintext client end at once with errors that say what to fix.
 *
 * The broker is this test's own (a temp cache folder, free ports, the shared jars): the shared
 * broker on 9092 is never touched, and only the broker started here is stopped.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../config.ts";
import { ensureTopic } from "../../kafka/admin.ts";
import { createKafka, KafkaUnavailableError } from "../../kafka/client.ts";
import { createTickProducer, produceTicks } from "../../kafka/producer.ts";
import { MemoryLogger } from "../../log.ts";
import { simulateTicks } from "../../source/simulate.ts";
import type { Tick } from "../../tick.ts";
import { assertExactlyOnce, runScript, uniqueName } from "../../testing/kafka.ts";
import { readLakeTicks, tempLake } from "../../testing/lake.ts";
import { parseProperties } from "../broker_config.ts";
import { PrerequisiteError, requireBroker } from "../../notebook/checks.ts";
import { notebookSettings } from "../../notebook/settings.ts";
import { downLocalServices, upLocalServices } from "./local_services.ts";
import { SECURE_USER, secureKafkaToStop, secureStateDir } from "./secure_kafka.ts";

const SHARED_JARS = fileURLToPath(new URL("../../../.cache/kafka/jars", import.meta.url));
const TICKS = 14 * 43;
/** A failure that takes longer than this is a hang, not "failing fast". */
const FAIL_FAST_LIMIT_MS = 60_000;

/** A client port P with P + 100 (the controller) free too, below the ephemeral range. */
function freePortPair(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 23_000 + Math.floor(Math.random() * 6_000);
    const listeners: Deno.Listener[] = [];
    try {
      for (const p of [port, port + 100]) {
        listeners.push(Deno.listen({ hostname: "127.0.0.1", port: p }));
      }
      return port;
    } catch {
      // Taken; try another.
    } finally {
      for (const listener of listeners) listener.close();
    }
  }
  throw new Error("No free pair of ports for the secure test broker.");
}

/** The KEY=value lines of client.env (comments skipped). */
async function readEnvFile(path: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const line of (await Deno.readTextFile(path)).split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

/** Resolves with how long `promise` took to reject; fails if it resolves or seems to hang. */
async function rejectsWithin<T>(promise: Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`still waiting after ${FAIL_FAST_LIMIT_MS / 1000} s: a hang`)),
      FAIL_FAST_LIMIT_MS,
    );
  });
  try {
    await Promise.race([promise, hang]);
  } catch (error) {
    if ((error as Error).message.endsWith("a hang")) throw error;
    return { error, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
  throw new Error("expected a failure, but it worked");
}

Deno.test({
  name:
    "secure local broker: SCRAM + TLS pipeline to a folder lake; bad password and plaintext fail fast",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const cacheDir = await Deno.makeTempDir({ prefix: "secure_kafka_test_" });
    const port = freePortPair();
    const logger = new MemoryLogger();
    try {
      const up = await upLocalServices({
        secure: true,
        cacheDir,
        jarsDir: SHARED_JARS,
        port,
        env: {},
        logger,
      });
      assert.equal(up.kafka.action, "started");
      assert.equal(up.kafka.address, `127.0.0.1:${port}`);
      console.log(`secure broker up in ${(up.kafka.elapsedMs / 1000).toFixed(1)} s`);

      const props = parseProperties(
        await Deno.readTextFile(`${secureStateDir(cacheDir)}/server.properties`),
      );
      assert.equal(
        props.get("listeners"),
        `SASL_SSL://127.0.0.1:${port},CONTROLLER://127.0.0.1:${port + 100}`,
      );
      assert.equal(props.get("allow.everyone.if.no.acl.found"), "false");
      assert.equal(
        (await Deno.stat(up.kafka.clientEnvFile!)).mode! & 0o077,
        0,
        "client.env is private",
      );

      const clientEnv = await readEnvFile(up.kafka.clientEnvFile!);
      assert.deepEqual(Object.keys(clientEnv).sort(), [
        "KAFKA_BROKERS",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SSL_CA_LOCATION",
      ]);
      assert.equal(clientEnv.KAFKA_SASL_USERNAME, SECURE_USER);
      assert.ok(
        !logger.lines.join("\n").includes(clientEnv.KAFKA_SASL_PASSWORD),
        "password logged",
      );

      const topic = uniqueName("secure_ticks");
      const config = loadConfig({ env: clientEnv, flags: { topic } });

      await t.step("the producer sends ticks and deno task consume sinks them", async () => {
        const kafka = createKafka({ brokers: config.brokers, security: config });
        await ensureTopic(kafka, { topic, partitions: 3, brokers: config.brokers });
        // 14 symbols × 43 daily bars.
        const ticks: Tick[] = [
          ...simulateTicks({ seed: 7, start: Date.UTC(2024, 0, 1), count: 43 }),
        ];
        assert.equal(ticks.length, TICKS);
        const producer = createTickProducer(kafka);
        await producer.connect();
        try {
          const result = await produceTicks(producer, ticks, { topic });
          assert.equal(result.sent, TICKS);
        } finally {
          await producer.disconnect();
        }

        await using lake = await tempLake();
        const consume = await runScript("consume", [
          "--topic",
          topic,
          "--group",
          `${topic}_lake`,
          "--lake",
          lake.dir,
          "--idle-exit",
          "2",
        ], { env: clientEnv });
        assert.match(consume.stdout + consume.stderr, new RegExp(`${TICKS} messages`));
        assertExactlyOnce(await readLakeTicks(lake.store), ticks);
      });

      await t.step("the notebooks' settings and prerequisite check use client.env", async () => {
        const settings = notebookSettings({ env: clientEnv });
        assert.equal(settings.securityProtocol, "SASL_SSL");
        const brokers = await requireBroker(settings);
        assert.deepEqual(brokers.map((b) => `${b.host}:${b.port}`), config.brokers);
        await assert.rejects(
          requireBroker({ ...settings, saslPassword: "wrong-password-123" }),
          (error: unknown) =>
            error instanceof PrerequisiteError &&
            /authentication failed: check KAFKA_SASL_USERNAME\/PASSWORD/.test(error.message),
        );
      });

      await t.step("a wrong password fails fast with the authentication hint", async () => {
        const kafka = createKafka({
          brokers: config.brokers,
          security: { ...config, saslPassword: "wrong-password-123" },
        });
        const { error, ms } = await rejectsWithin(
          ensureTopic(kafka, { topic, partitions: 3, brokers: config.brokers }),
        );
        console.log(`wrong password failed after ${ms} ms`);
        assert.ok(error instanceof KafkaUnavailableError, String(error));
        assert.equal(error.failure, "authentication");
        assert.match(error.message, /authentication failed: check KAFKA_SASL_USERNAME\/PASSWORD/);
        assert.ok(!error.message.includes("wrong-password-123"));

        const cli = await runScript("tail", ["--topic", topic], {
          env: { ...clientEnv, KAFKA_SASL_PASSWORD: "wrong-password-123" },
          allowFailure: true,
        });
        assert.notEqual(cli.code, 0);
        assert.match(cli.stderr, /authentication failed: check KAFKA_SASL_USERNAME\/PASSWORD/);
        assert.ok(!(cli.stdout + cli.stderr).includes("wrong-password-123"));
      });

      await t.step("a plaintext client fails fast and is told the broker speaks TLS", async () => {
        const kafka = createKafka({ brokers: config.brokers, security: {} });
        const { error, ms } = await rejectsWithin(
          ensureTopic(kafka, { topic, partitions: 3, brokers: config.brokers }),
        );
        console.log(`plaintext client failed after ${ms} ms`);
        assert.ok(error instanceof KafkaUnavailableError, String(error));
        assert.equal(error.failure, "tls-expected");
        assert.match(error.message, /the broker speaks TLS: set KAFKA_SECURITY_PROTOCOL=SASL_SSL/);

        const started = Date.now();
        const cli = await runScript("produce", [
          "--source",
          "simulate",
          "--limit",
          "5",
          "--topic",
          topic,
        ], { env: { KAFKA_BROKERS: clientEnv.KAFKA_BROKERS }, allowFailure: true });
        console.log(`plaintext deno task produce failed after ${Date.now() - started} ms`);
        assert.notEqual(cli.code, 0);
        assert.match(cli.stderr, /the broker speaks TLS: set KAFKA_SECURITY_PROTOCOL=SASL_SSL/);
      });
    } finally {
      // What `deno task down` does, on this test's folder: only the broker started here stops.
      const down = await downLocalServices({ cacheDir, only: ["kafka"], logger });
      if (down.secureKafka !== "stopped") await secureKafkaToStop({ cacheDir, port }).stop();
      await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
      assert.equal(down.secureKafka, "stopped");
    }
  },
});
