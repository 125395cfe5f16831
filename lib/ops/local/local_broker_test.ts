import assert from "node:assert/strict";
import { fileURLToPath as fromFileUrl } from "node:url";
import { join } from "node:path";
import {
  BrokerConfigError,
  parseProperties,
  renderServerProperties,
  scramFormatArgs,
} from "../broker_config.ts";
import { createKafka, KafkaUnavailableError } from "../../kafka/client.ts";
import { ensureBrokerTls } from "./broker_tls.ts";
import { isAlive, spawnDetached, tailFile, terminate } from "./daemon.ts";
import { sleep } from "../../time.ts";
import { MissingToolError, parseJavaVersion } from "./java.ts";
import {
  answersMetadata,
  LocalBroker,
  LocalBrokerError,
  LocalCluster,
  metadataBrokerCount,
  randomClusterId,
  readClusterRecord,
  renderPom,
  runningLocalKafka,
} from "./local_broker.ts";

// The jars resolved once for the project (.cache/kafka/jars); test brokers share them.
const SHARED_CACHE = fromFileUrl(new URL("../../../.cache/kafka", import.meta.url));

async function sharedJarsDir(): Promise<string> {
  return (await new LocalBroker({ cacheDir: SHARED_CACHE }).ensureJars()).jarsDir;
}

Deno.test("a broker started by another process keeps running, answers Kafka, restarts idempotently and stops", async (t) => {
  const jarsDir = await sharedJarsDir();
  const cacheDir = await Deno.makeTempDir({ prefix: "local_broker_test_" });
  const options = { cacheDir, jarsDir, port: 19092, controllerPort: 19093 };
  const broker = new LocalBroker(options);
  try {
    await t.step("start() in a child process that then exits", async () => {
      const script = `import { LocalBroker } from ${
        JSON.stringify(new URL("./local_broker.ts", import.meta.url).href)
      };
        const result = await new LocalBroker(${JSON.stringify(options)}).start();
        console.log(JSON.stringify(result));`;
      const child = await new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        cwd: fromFileUrl(new URL("../../..", import.meta.url)),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(child.stderr);
      assert.ok(child.success, `the starting process failed: ${stderr}`);
      const started = JSON.parse(new TextDecoder().decode(child.stdout).trim());
      assert.equal(started.alreadyRunning, false);
      assert.equal(started.ours, true);
      assert.equal(started.bootstrap, "127.0.0.1:19092");
    });

    await t.step("the broker outlives the process and answers a metadata request", async () => {
      const status = await broker.status();
      assert.equal(status.running, true);
      assert.equal(status.ours, true);
      assert.ok(status.pid !== undefined && await isAlive(status.pid, broker.propertiesFile));
      assert.equal(await answersMetadata(broker.bootstrap), true);
      const props = parseProperties(await Deno.readTextFile(broker.propertiesFile));
      assert.equal(
        props.get("listeners"),
        "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
      );
      assert.equal(props.get("log.dirs"), join(cacheDir, "data"));
    });

    await t.step("start() again reports already running and starts nothing", async () => {
      const before = (await broker.status()).pid;
      const again = await broker.start();
      assert.equal(again.alreadyRunning, true);
      assert.equal(again.ours, true);
      assert.equal(again.pid, before);
    });

    await t.step(
      "stop() stops it and removes the pid file; a second stop() finds nothing",
      async () => {
        const pid = (await broker.status()).pid!;
        const stopped = await broker.stop();
        assert.equal(stopped.pid, pid);
        assert.ok(stopped.outcome === "stopped" || stopped.outcome === "killed");
        assert.equal(await isAlive(pid), false);
        await assert.rejects(Deno.stat(broker.pidFile), Deno.errors.NotFound);
        assert.equal((await broker.status()).running, false);
        assert.deepEqual(await broker.stop(), { outcome: "not running" });
      },
    );
  } finally {
    await broker.stop();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

/**
 * Writes `properties` into `dir`, formats the storage (with `formatArgs`, e.g. SCRAM users) and
 * starts a broker from the shared jars the way the EC2 user-data does; returns its pid and log.
 */
async function startRawBroker(
  dir: string,
  properties: string,
  formatArgs: string[] = [],
): Promise<{ pid: number; logFile: string }> {
  const classpath = join(await sharedJarsDir(), "*");
  const props = join(dir, "server.properties");
  await Deno.writeTextFile(props, properties);
  const format = await new Deno.Command("java", {
    args: [
      "-cp",
      classpath,
      "kafka.tools.StorageTool",
      "format",
      "-t",
      randomClusterId(),
      "-c",
      props,
      ...formatArgs,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(format.success, new TextDecoder().decode(format.stderr));
  const logFile = join(dir, "broker.log");
  const pid = await spawnDetached({
    command: "java",
    args: ["-Xmx384m", "-cp", classpath, "kafka.Kafka", props],
    cwd: dir,
    logFile,
  });
  return { pid, logFile };
}

Deno.test("the EC2 configuration runs on a real broker and answers on both EXTERNAL and INTERNAL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "local_broker_test_ec2_" });
  const { pid, logFile } = await startRawBroker(
    dir,
    renderServerProperties({
      mode: "ec2",
      dataDir: join(dir, "data"),
      advertisedHost: "localhost", // what the user-data fills in is the public DNS name
      port: 19792,
      controllerPort: 19793,
      internalPort: 19794,
    }),
  );
  try {
    let answered = false;
    for (let i = 0; i < 240 && !answered && await isAlive(pid); i++) {
      answered = await answersMetadata("127.0.0.1:19792") &&
        await answersMetadata("127.0.0.1:19794");
      if (!answered) await sleep(250);
    }
    assert.ok(
      answered,
      `the EC2-mode broker did not answer; its log ends with:\n${await tailFile(logFile)}`,
    );
  } finally {
    await terminate(pid);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the secure EC2 configuration: SCRAM over TLS outside, ACLs enforced, loopback INTERNAL", async () => {
  const dir = await Deno.makeTempDir({ prefix: "local_broker_test_ec2_secure_" });
  const tls = await ensureBrokerTls({ dir: join(dir, "tls") });
  const users = [
    { name: "admin", password: "admin-pass-1234" },
    { name: "learner", password: "learner-pass-1234" },
  ];
  const { pid, logFile } = await startRawBroker(
    dir,
    renderServerProperties({
      mode: "ec2",
      dataDir: join(dir, "data"),
      advertisedHost: "127.0.0.1", // the certificate's name; on EC2 the public DNS name
      port: 19892,
      controllerPort: 19893,
      internalPort: 19894,
      security: {
        keystorePath: tls.keystorePath,
        keystorePassword: tls.storePassword,
        superUsers: ["admin"],
      },
    }),
    scramFormatArgs(users),
  );
  const client = (user: { name: string; password: string }, retries = 0) =>
    createKafka({
      brokers: ["127.0.0.1:19892"],
      retries,
      security: {
        securityProtocol: "SASL_SSL",
        saslMechanism: "SCRAM-SHA-512",
        saslUsername: user.name,
        saslPassword: user.password,
        sslCaLocation: tls.caPemPath,
      },
    }).admin();
  try {
    let answered = false;
    for (let i = 0; i < 240 && !answered && await isAlive(pid); i++) {
      answered = await answersMetadata("127.0.0.1:19894");
      if (!answered) await sleep(250);
    }
    assert.ok(
      answered,
      `the broker did not answer; its log ends with:\n${await tailFile(logFile)}`,
    );

    // The super user logs in over SASL_SSL and may do anything.
    const admin = client(users[0], 5);
    await admin.connect();
    assert.equal(
      await admin.createTopics({ topics: [{ topic: "secured", numPartitions: 1 }] }),
      true,
    );
    await admin.disconnect();

    // Another SCRAM user logs in but, without ACLs, sees and creates nothing.
    const learner = client(users[1]);
    await learner.connect();
    try {
      assert.deepEqual(await learner.listTopics(), []);
      await assert.rejects(learner.createTopics({ topics: [{ topic: "not_allowed" }] }));
    } finally {
      await learner.disconnect();
    }

    // A plaintext client at the EXTERNAL port is told to use TLS.
    const plain = createKafka({ brokers: ["127.0.0.1:19892"], retries: 0, security: {} }).admin();
    await assert.rejects(plain.connect(), (error: unknown) => {
      const wrapped = new KafkaUnavailableError(["127.0.0.1:19892"], error);
      assert.equal(wrapped.failure, "tls-expected");
      return true;
    });
    // The INTERNAL listener is loopback PLAINTEXT: the broker itself and tools on the host.
    assert.ok(await answersMetadata("127.0.0.1:19894"));
  } finally {
    await terminate(pid);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a broker that dies while starting is reported with the end of its log", async () => {
  const jarsDir = await sharedJarsDir();
  const cacheDir = await Deno.makeTempDir({ prefix: "local_broker_test_" });
  const broker = new LocalBroker({
    cacheDir,
    jarsDir,
    port: 19192,
    controllerPort: 19193,
    javaOpts: ["-XX:+NoSuchJvmOption"],
  });
  try {
    await assert.rejects(
      broker.start(),
      (error: unknown) =>
        error instanceof LocalBrokerError && /Kafka exited while starting/.test(error.message) &&
        error.message.includes(broker.logFile) && /NoSuchJvmOption/.test(error.message),
    );
    await assert.rejects(Deno.stat(broker.pidFile), Deno.errors.NotFound);
  } finally {
    await broker.stop();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("start() refuses a port taken by something that is not Kafka", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const serving = (async () => {
    for await (const conn of listener) conn.close();
  })();
  const cacheDir = await Deno.makeTempDir({ prefix: "local_broker_test_" });
  try {
    const broker = new LocalBroker({
      cacheDir,
      port,
      controllerPort: port + 1 === 65536 ? 1 : port + 1,
    });
    await assert.rejects(broker.start(), /is taken by something that does not answer as Kafka/);
    assert.deepEqual(await broker.stop(), { outcome: "not ours" });
  } finally {
    listener.close();
    await serving.catch(() => {});
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("the metadata probe gives up on a server that never answers and on a closed port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    assert.equal(await answersMetadata(`127.0.0.1:${port}`, 300), false);
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await serving.catch(() => {});
  }
  assert.equal(await answersMetadata(`127.0.0.1:${port}`, 300), false);
  assert.equal(await answersMetadata("not-a-bootstrap", 300), false);
  assert.equal(await metadataBrokerCount(`127.0.0.1:${port}`, 300), 0);
});

Deno.test("missing java or mvn is reported with what to install", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "local_broker_test_" });
  try {
    const noJava = new LocalBroker({
      cacheDir,
      port: 19292,
      controllerPort: 19293,
      java: "no-such-java-17",
    });
    await assert.rejects(
      noJava.start(),
      (error: unknown) =>
        error instanceof MissingToolError && error.tool === "no-such-java-17" &&
        /Install Java 17\+/.test(error.message) && /openjdk-17-jre-headless/.test(error.message),
    );
    const noMaven = new LocalBroker({ cacheDir, mvn: "no-such-mvn" });
    await assert.rejects(
      noMaven.ensureJars(),
      (error: unknown) =>
        error instanceof MissingToolError && /apt-get install maven/.test(error.message),
    );
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("start() without resolved jars says to call ensureJars() first", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "local_broker_test_" });
  try {
    const broker = new LocalBroker({ cacheDir, port: 19392, controllerPort: 19393 });
    await assert.rejects(broker.start(), /No Kafka jars in .*call ensureJars\(\) first/);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("bad ports are rejected when the broker is created", () => {
  assert.throws(() => new LocalBroker({ port: 0 }), BrokerConfigError);
  assert.throws(() => new LocalBroker({ port: 9092, controllerPort: 9092 }), BrokerConfigError);
});

Deno.test("the single broker's controller listens 100 above its client port", () => {
  const broker = new LocalBroker({ cacheDir: "/tmp/x" });
  assert.equal(broker.bootstrap, "127.0.0.1:9092");
  assert.equal(broker.controllerPort, 9192);
  assert.equal(broker.stateDir, "/tmp/x");
  assert.equal(broker.propertiesFile, "/tmp/x/server.properties");
});

Deno.test("a cluster's nodes take consecutive client and controller ports and a folder each", () => {
  const cluster = new LocalCluster({ cacheDir: "/tmp/c", brokers: 3 });
  assert.equal(cluster.bootstrap, "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094");
  assert.deepEqual(
    cluster.nodes.map((n) => [n.nodeId, n.port, n.controllerPort, n.stateDir]),
    [
      [1, 9092, 9192, "/tmp/c/node-1"],
      [2, 9093, 9193, "/tmp/c/node-2"],
      [3, 9094, 9194, "/tmp/c/node-3"],
    ],
  );
  assert.equal(cluster.node(2).pidFile, "/tmp/c/node-2/broker.pid");
  assert.throws(() => cluster.node(4), /There is no node 4: .* 1 to 3/);
  // One node is the single broker of `deno task up`, files directly in the cache folder.
  const single = new LocalCluster({ cacheDir: "/tmp/c" });
  assert.equal(single.bootstrap, "127.0.0.1:9092");
  assert.equal(single.node(1).stateDir, "/tmp/c");
  const shifted = new LocalCluster({ cacheDir: "/tmp/c", brokers: 3, port: 29092 });
  assert.equal(shifted.node(3).controllerPort, 29194);
  for (const brokers of [0, 10, 2.5]) {
    assert.throws(() => new LocalCluster({ brokers }), /from 1 to 9/);
  }
});

Deno.test("a cluster refuses to start beside a running single broker or over a cluster of another size", async () => {
  const cacheDir = await Deno.makeTempDir({ prefix: "local_cluster_test_" });
  // A stand-in for a running single broker: a live process whose command line names its config.
  const marker = join(cacheDir, "server.properties");
  const pid = await spawnDetached({
    command: "sh",
    args: ["-c", "sleep 30", marker],
    cwd: cacheDir,
    logFile: join(cacheDir, "broker.log"),
  });
  try {
    await Deno.writeTextFile(join(cacheDir, "broker.pid"), `${pid}\n`);
    assert.equal(await runningLocalKafka(cacheDir), 1);
    const cluster = new LocalCluster({ cacheDir, brokers: 3, port: 29592, java: "no-such-java" });
    await assert.rejects(
      cluster.start(),
      (error: unknown) =>
        error instanceof LocalBrokerError &&
        /runs as a single broker; stop it with `deno task down` before starting a 3-broker cluster/
          .test(error.message),
    );
    await terminate(pid, { timeoutMs: 2_000 });
    assert.equal(await runningLocalKafka(cacheDir), undefined);

    await Deno.writeTextFile(
      join(cacheDir, "cluster.json"),
      JSON.stringify({
        clusterId: randomClusterId(),
        brokers: 2,
        port: 29592,
        controllerPort: 29692,
      }),
    );
    assert.equal((await readClusterRecord(cacheDir))?.brokers, 2);
    assert.equal(
      (await LocalCluster.recorded({ cacheDir }))?.bootstrap,
      "127.0.0.1:29592,127.0.0.1:29593",
    );
    await assert.rejects(cluster.start(), /records a cluster of 2 brokers, not 3/);
  } finally {
    await terminate(pid, { timeoutMs: 2_000 });
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("Java versions are read from both old and new version strings", () => {
  assert.equal(parseJavaVersion('openjdk version "17.0.15" 2025-04-15'), 17);
  assert.equal(parseJavaVersion('openjdk version "21" 2023-09-19'), 21);
  assert.equal(parseJavaVersion('java version "1.8.0_392"'), 8);
  assert.equal(parseJavaVersion('openjdk version "22-ea" 2024-03-19'), 22);
  assert.equal(parseJavaVersion("no version here"), undefined);
});

Deno.test("cluster ids look like Kafka's random-uuid and the pom lists the broker artifacts", () => {
  const id = randomClusterId();
  assert.match(id, /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  assert.notEqual(randomClusterId(), id);
  const pom = renderPom();
  assert.match(pom, /<artifactId>kafka_2\.13<\/artifactId><version>3\.9\.1<\/version>/);
  assert.match(pom, /<artifactId>kafka-tools<\/artifactId><version>3\.9\.1<\/version>/);
  assert.match(pom, /<artifactId>slf4j-reload4j<\/artifactId><version>1\.7\.36<\/version>/);
});
