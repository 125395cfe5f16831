import assert from "node:assert/strict";
import {
  BrokerConfigError,
  heapForInstanceType,
  kafkaHeapOpts,
  parseProperties,
  PUBLIC_DNS_PLACEHOLDER,
  renderKafkaEnv,
  renderServerProperties,
  renderSystemdUnit,
  replicationForBrokers,
} from "./broker_config.ts";

Deno.test("local properties parse as key=value with one PLAINTEXT listener on 127.0.0.1", () => {
  const props = parseProperties(renderServerProperties({ mode: "local", dataDir: "/d" }));
  assert.equal(props.get("process.roles"), "broker,controller");
  assert.equal(props.get("node.id"), "1");
  assert.equal(props.get("listeners"), "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093");
  assert.equal(props.get("advertised.listeners"), "PLAINTEXT://127.0.0.1:9092");
  assert.equal(props.get("controller.quorum.voters"), "1@127.0.0.1:9093");
  assert.equal(props.get("controller.listener.names"), "CONTROLLER");
  assert.equal(props.get("inter.broker.listener.name"), "PLAINTEXT");
  assert.equal(props.get("log.dirs"), "/d");
  assert.equal(props.get("offsets.topic.replication.factor"), "1");
  assert.equal(props.get("transaction.state.log.replication.factor"), "1");
  assert.equal(props.get("transaction.state.log.min.isr"), "1");
  assert.equal(props.get("min.insync.replicas"), "1");
  assert.equal(props.get("group.initial.rebalance.delay.ms"), "0");
  assert.equal(props.get("num.partitions"), "3");
  assert.equal(props.get("auto.create.topics.enable"), "false");
});

Deno.test("local properties use the given host, ports and partitions", () => {
  const props = parseProperties(renderServerProperties({
    mode: "local",
    dataDir: "/d",
    host: "localhost",
    port: 19092,
    controllerPort: 19093,
    partitions: 6,
  }));
  assert.equal(props.get("listeners"), "PLAINTEXT://localhost:19092,CONTROLLER://localhost:19093");
  assert.equal(props.get("advertised.listeners"), "PLAINTEXT://localhost:19092");
  assert.equal(props.get("controller.quorum.voters"), "1@localhost:19093");
  assert.equal(props.get("num.partitions"), "6");
});

Deno.test("a node of a local 3-node cluster lists every voter and replicates 3 ways, 2 in sync", () => {
  const voters = [1, 2, 3].map((id) => ({ id, host: "127.0.0.1", port: 9191 + id }));
  const props = parseProperties(renderServerProperties({
    mode: "local",
    dataDir: "/c/node-2/data",
    nodeId: 2,
    port: 9093,
    controllerPort: 9193,
    voters,
  }));
  assert.equal(props.get("process.roles"), "broker,controller");
  assert.equal(props.get("node.id"), "2");
  assert.equal(
    props.get("controller.quorum.voters"),
    "1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194",
  );
  assert.equal(props.get("listeners"), "PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9193");
  assert.equal(props.get("advertised.listeners"), "PLAINTEXT://127.0.0.1:9093");
  assert.equal(props.get("log.dirs"), "/c/node-2/data");
  assert.equal(props.get("offsets.topic.replication.factor"), "3");
  assert.equal(props.get("transaction.state.log.replication.factor"), "3");
  assert.equal(props.get("transaction.state.log.min.isr"), "2");
  assert.equal(props.get("min.insync.replicas"), "2");
  assert.equal(props.get("default.replication.factor"), "3");
  // Two nodes: two replicas, and either may be down (min ISR 1).
  const two = parseProperties(renderServerProperties({
    mode: "local",
    dataDir: "/d",
    controllerPort: 9192,
    voters: voters.slice(0, 2),
  }));
  assert.equal(two.get("default.replication.factor"), "2");
  assert.equal(two.get("min.insync.replicas"), "1");
});

Deno.test("replication is min(3, brokers) with min.insync.replicas 2 from 3 brokers up", () => {
  assert.deepEqual(replicationForBrokers(1), { replicationFactor: 1, minInsyncReplicas: 1 });
  assert.deepEqual(replicationForBrokers(2), { replicationFactor: 2, minInsyncReplicas: 1 });
  assert.deepEqual(replicationForBrokers(3), { replicationFactor: 3, minInsyncReplicas: 2 });
  assert.deepEqual(replicationForBrokers(5), { replicationFactor: 3, minInsyncReplicas: 2 });
  assert.throws(() => replicationForBrokers(0), BrokerConfigError);
});

Deno.test("a voter list without this node, with repeats, or for ec2 is rejected", () => {
  const voters = [1, 2, 3].map((id) => ({ id, host: "127.0.0.1", port: 9191 + id }));
  const bad = [
    // This node (1) listens for the controller on 9193, but its voter entry says 9192.
    { mode: "local", dataDir: "/d", nodeId: 1, controllerPort: 9193, voters },
    { mode: "local", dataDir: "/d", nodeId: 4, controllerPort: 9195, voters },
    {
      mode: "local",
      dataDir: "/d",
      controllerPort: 9192,
      voters: [...voters, { id: 1, host: "127.0.0.1", port: 9199 }],
    },
    {
      mode: "local",
      dataDir: "/d",
      controllerPort: 9192,
      voters: [...voters, { id: 4, host: "127.0.0.1", port: 9192 }],
    },
    { mode: "local", dataDir: "/d", port: 9193, controllerPort: 9192, voters },
    { mode: "local", dataDir: "/d", controllerPort: 9192, voters: [] },
    { mode: "local", dataDir: "/d", nodeId: -1 },
    { mode: "ec2", dataDir: "/d", advertisedHost: "x", voters },
  ] as const;
  for (const options of bad) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => renderServerProperties(options as any),
      BrokerConfigError,
      JSON.stringify(options),
    );
  }
});

Deno.test("ec2 properties bind all interfaces and advertise the public name on EXTERNAL", () => {
  const props = parseProperties(renderServerProperties({
    mode: "ec2",
    dataDir: "/var/lib/kafka",
    advertisedHost: "ec2-3-80-1-2.compute-1.amazonaws.com",
  }));
  assert.equal(
    props.get("listeners"),
    "INTERNAL://0.0.0.0:9094,EXTERNAL://0.0.0.0:9092,CONTROLLER://localhost:9093",
  );
  assert.equal(
    props.get("advertised.listeners"),
    "INTERNAL://localhost:9094,EXTERNAL://ec2-3-80-1-2.compute-1.amazonaws.com:9092",
  );
  assert.equal(props.get("inter.broker.listener.name"), "INTERNAL");
  assert.equal(
    props.get("listener.security.protocol.map"),
    "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
  );
  assert.equal(props.get("controller.quorum.voters"), "1@localhost:9093");
});

Deno.test("ec2 properties keep the public DNS placeholder for the user-data to substitute", () => {
  const text = renderServerProperties({
    mode: "ec2",
    dataDir: "/var/lib/kafka",
    advertisedHost: PUBLIC_DNS_PLACEHOLDER,
    internalHost: "${PRIVATE_IP}",
  });
  assert.match(
    text,
    /^advertised\.listeners=INTERNAL:\/\/\$\{PRIVATE_IP\}:9094,EXTERNAL:\/\/\$\{PUBLIC_DNS\}:9092$/m,
  );
});

Deno.test("ec2 mode without advertisedHost throws and says what to pass", () => {
  assert.throws(
    () => renderServerProperties({ mode: "ec2", dataDir: "/d" }),
    (error: unknown) =>
      error instanceof BrokerConfigError && /advertisedHost is required/.test(error.message) &&
      error.message.includes(PUBLIC_DNS_PLACEHOLDER),
  );
});

Deno.test("bad ports, hosts, partitions and data folders are rejected", () => {
  const bad = [
    { mode: "local", dataDir: "/d", port: 0 },
    { mode: "local", dataDir: "/d", port: 70000 },
    { mode: "local", dataDir: "/d", port: 9092, controllerPort: 9092 },
    { mode: "local", dataDir: "/d", host: "bad host" },
    { mode: "local", dataDir: "/d", partitions: 0 },
    { mode: "local", dataDir: "" },
    { mode: "local", dataDir: "/a\nlog.dirs=/b" },
    { mode: "ec2", dataDir: "/d", advertisedHost: "x", internalPort: 9092 },
    { mode: "ec2", dataDir: "/d", advertisedHost: "$(reboot)" },
    { mode: "cloud", dataDir: "/d" },
  ] as const;
  for (const options of bad) {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => renderServerProperties(options as any),
      BrokerConfigError,
      JSON.stringify(options),
    );
  }
});

Deno.test("parseProperties rejects a line that is not key=value", () => {
  assert.throws(() => parseProperties("a=1\nnonsense\n"), /Line 2 is not key=value/);
});

Deno.test("heap fits the instance memory and unknown types list the known ones", () => {
  assert.equal(heapForInstanceType("t2.micro").heapMb, 384);
  assert.equal(heapForInstanceType("T3.SMALL").heapMb, 768);
  assert.equal(heapForInstanceType("t3.medium").heapMb, 1024);
  assert.equal(heapForInstanceType("m5.large").heapMb, 2048);
  assert.throws(
    () => heapForInstanceType("x9.huge"),
    /Unknown instance type "x9\.huge": use one of t2\.micro/,
  );
  assert.throws(() => heapForInstanceType("t2.nano"), /too little for a Kafka broker/);
});

Deno.test("KAFKA_HEAP_OPTS, the env file and the systemd unit are rendered for /opt/kafka", () => {
  assert.equal(kafkaHeapOpts(384), "-Xms384m -Xmx384m");
  assert.throws(() => kafkaHeapOpts(64), BrokerConfigError);
  assert.equal(
    renderKafkaEnv({ heapMb: 768 }),
    'KAFKA_HEAP_OPTS="-Xms768m -Xmx768m"\nLOG_DIR="/opt/kafka/logs"\n',
  );
  const unit = renderSystemdUnit();
  assert.match(
    unit,
    /^ExecStart=\/opt\/kafka\/bin\/kafka-server-start\.sh \/opt\/kafka\/config\/kraft\/server\.properties$/m,
  );
  assert.match(unit, /^Restart=on-failure$/m);
  assert.match(unit, /^EnvironmentFile=\/etc\/default\/kafka$/m);
  assert.match(unit, /^User=kafka$/m);
  assert.throws(() => renderSystemdUnit({ kafkaHome: "relative/kafka" }), BrokerConfigError);
  assert.throws(() => renderSystemdUnit({ user: "root; rm" }), BrokerConfigError);
});
