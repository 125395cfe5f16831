import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { LocalBroker, LocalCluster } from "./local_broker.ts";
import {
  describeService,
  downLocalServices,
  isLocalBrokers,
  isLocalEndpoint,
  upLocalServices,
} from "./local_services.ts";
import { MotoServer } from "./moto.ts";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

Deno.test("up starts what is missing, reuses what runs, and down stops only what it started", async () => {
  const jarsDir = (await new LocalBroker({ cacheDir: `${ROOT}.cache/kafka` }).ensureJars()).jarsDir;
  const dir = await Deno.makeTempDir({ prefix: "local_services_test_" });
  const cluster = new LocalCluster({
    cacheDir: `${dir}/kafka`,
    jarsDir,
    port: 19592,
    controllerPort: 19593,
  });
  const moto = new MotoServer({
    stateDir: `${dir}/moto`,
    venvDir: `${ROOT}.cache/venv`,
    port: 15002,
  });
  const env = {};
  try {
    const first = await upLocalServices({ aws: true, env, cluster, moto });
    assert.equal(first.kafka.action, "started");
    assert.equal(first.kafka.ours, true);
    assert.equal(first.moto?.action, "started");
    assert.deepEqual(first.env, {
      KAFKA_BROKERS: "127.0.0.1:19592",
      AWS_ENDPOINT_URL: "http://127.0.0.1:15002",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_REGION: "us-east-1",
    });
    assert.match(first.python!.python, /\.cache\/venv\/bin\/python$/);
    assert.match(
      describeService("kafka", first.kafka),
      /^Kafka 3\.9\.1 ready on 127\.0\.0\.1:19592 \(started in/,
    );

    const second = await upLocalServices({ aws: true, env, cluster, moto });
    assert.equal(second.kafka.action, "running");
    assert.equal(second.moto?.action, "running");
    assert.match(describeService("moto", second.moto!), /already running; log: /);

    const pid = (await cluster.status()).nodes[0].pid;
    assert.deepEqual(await downLocalServices({ cluster, moto }), {
      kafka: "stopped",
      kafkaNodes: [{ id: 1, outcome: "stopped", pid }],
      moto: "stopped",
    });
    assert.deepEqual(await downLocalServices({ cluster, moto }), {
      kafka: "not running",
      kafkaNodes: [{ id: 1, outcome: "not running" }],
      moto: "not running",
    });
  } finally {
    await downLocalServices({ cluster, moto });
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("up starts nothing when KAFKA_BROKERS and AWS_ENDPOINT_URL point elsewhere", async () => {
  const dir = await Deno.makeTempDir({ prefix: "local_services_test_" });
  // Controllers that would fail loudly if used: no jars, no venv.
  const cluster = new LocalCluster({
    cacheDir: `${dir}/kafka`,
    port: 19692,
    controllerPort: 19693,
    mvn: "no-such-mvn",
  });
  const moto = new MotoServer({ stateDir: `${dir}/moto`, venvDir: `${dir}/no-venv`, port: 15003 });
  try {
    const result = await upLocalServices({
      aws: true,
      env: { KAFKA_BROKERS: "b-1.example.com:9092", AWS_ENDPOINT_URL: "https://s3.example.com" },
      cluster,
      moto,
    });
    assert.equal(result.kafka.action, "external");
    assert.equal(result.kafka.address, "b-1.example.com:9092");
    assert.equal(result.moto?.action, "external");
    assert.deepEqual(result.env, { KAFKA_BROKERS: "b-1.example.com:9092" });
    assert.match(
      describeService("kafka", result.kafka),
      /using b-1\.example\.com:9092 \(configured, not started here\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("describeService names a cluster's size and the nodes a restart started", () => {
  const report = {
    action: "started",
    address: "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094",
    ours: true,
    logFile: "/c/node-*/broker.log",
    elapsedMs: 12_340,
    brokers: 3,
  } as const;
  assert.equal(
    describeService("kafka", { ...report, startedNodes: [1, 2, 3] }),
    "Kafka 3.9.1 ready on 127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094 (3 brokers; started in " +
      "12.3 s; log: /c/node-*/broker.log)",
  );
  assert.match(
    describeService("kafka", { ...report, startedNodes: [2] }),
    /\(3 brokers; started node 2 in 12\.3 s;/,
  );
});

Deno.test("down --node stops one node of the recorded cluster and refuses a node it does not have", async () => {
  const dir = await Deno.makeTempDir({ prefix: "local_services_test_" });
  try {
    const cluster = new LocalCluster({ cacheDir: dir, brokers: 3, port: 19892 });
    assert.deepEqual(await downLocalServices({ cluster, node: 2, signal: "KILL" }), {
      kafka: "not running",
      kafkaNodes: [{ id: 2, outcome: "not running" }],
    });
    await assert.rejects(downLocalServices({ cluster, node: 4 }), /There is no node 4/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("only the local defaults count as the local broker and endpoint", () => {
  assert.equal(isLocalBrokers(undefined), true);
  assert.equal(isLocalBrokers("localhost:9092"), true);
  assert.equal(isLocalBrokers(" 127.0.0.1:9092 "), true);
  assert.equal(isLocalBrokers("127.0.0.1:19092"), false);
  // The nodes of the local 3-broker cluster.
  assert.equal(isLocalBrokers("127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"), true);
  assert.equal(isLocalBrokers("127.0.0.1:9092,b-1.example.com:9092"), false);
  assert.equal(isLocalBrokers("ec2-1-2-3-4.compute-1.amazonaws.com:9092"), false);
  assert.equal(isLocalEndpoint(undefined), true);
  assert.equal(isLocalEndpoint("http://127.0.0.1:5000/"), true);
  assert.equal(isLocalEndpoint("http://localhost:5000"), true);
  assert.equal(isLocalEndpoint("http://127.0.0.1:15000"), false);
});
