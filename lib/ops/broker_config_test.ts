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
  SCRAM_MECHANISM,
  scramFormatArgs,
  STANDARD_AUTHORIZER,
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

const SECURITY = {
  keystorePath: "/k/broker.p12",
  keystorePassword: "store-pass-1234",
  superUsers: ["admin"],
} as const;

Deno.test("secure ec2 properties: SASL_SSL outside, loopback PLAINTEXT inside, ACLs required", () => {
  const props = parseProperties(renderServerProperties({
    mode: "ec2",
    dataDir: "/var/lib/kafka",
    advertisedHost: PUBLIC_DNS_PLACEHOLDER,
    security: SECURITY,
  }));
  assert.equal(
    props.get("listeners"),
    "INTERNAL://127.0.0.1:9094,EXTERNAL://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093",
  );
  assert.equal(
    props.get("advertised.listeners"),
    `INTERNAL://localhost:9094,EXTERNAL://${PUBLIC_DNS_PLACEHOLDER}:9092`,
  );
  assert.equal(props.get("controller.quorum.voters"), "1@127.0.0.1:9093");
  assert.equal(
    props.get("listener.security.protocol.map"),
    "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
  );
  assert.equal(props.get("inter.broker.listener.name"), "INTERNAL");
  assert.equal(props.get("sasl.enabled.mechanisms"), SCRAM_MECHANISM);
  assert.equal(props.get("ssl.keystore.location"), "/k/broker.p12");
  assert.equal(props.get("ssl.keystore.type"), "PKCS12");
  assert.equal(props.get("ssl.keystore.password"), "store-pass-1234");
  assert.equal(props.get("ssl.key.password"), "store-pass-1234");
  assert.equal(
    props.get("listener.name.external.scram-sha-512.sasl.jaas.config"),
    "org.apache.kafka.common.security.scram.ScramLoginModule required;",
  );
  assert.equal(props.get("authorizer.class.name"), STANDARD_AUTHORIZER);
  assert.equal(props.get("allow.everyone.if.no.acl.found"), "false");
  assert.equal(props.get("super.users"), "User:admin;User:ANONYMOUS");
  assert.equal(props.has("sasl.mechanism.inter.broker.protocol"), false);
  const plaintextExternal = [...props.values()].some((v) => /EXTERNAL:PLAINTEXT/.test(v));
  assert.equal(plaintextExternal, false);
});

Deno.test("secure properties accept placeholders for passwords a boot script fills in", () => {
  const props = parseProperties(renderServerProperties({
    mode: "ec2",
    dataDir: "/d",
    advertisedHost: "ec2-1-2-3-4.compute-1.amazonaws.com",
    security: {
      ...SECURITY,
      keystorePassword: "${KEYSTORE_PASSWORD}",
      superUsers: ["admin", "ops"],
    },
  }));
  assert.equal(props.get("ssl.keystore.password"), "${KEYSTORE_PASSWORD}");
  assert.equal(props.get("super.users"), "User:admin;User:ops;User:ANONYMOUS");
});

Deno.test("secure local properties with an inter-broker user have no PLAINTEXT client listener", () => {
  const props = parseProperties(renderServerProperties({
    mode: "local",
    dataDir: "/d",
    port: 19096,
    controllerPort: 19196,
    security: {
      ...SECURITY,
      truststorePath: "/k/truststore.p12",
      interBrokerUser: { name: "admin", password: "admin-pass-1234" },
    },
  }));
  assert.equal(props.get("listeners"), "SASL_SSL://127.0.0.1:19096,CONTROLLER://127.0.0.1:19196");
  assert.equal(props.get("advertised.listeners"), "SASL_SSL://127.0.0.1:19096");
  assert.equal(
    props.get("listener.security.protocol.map"),
    "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
  );
  assert.equal(props.get("inter.broker.listener.name"), "SASL_SSL");
  assert.equal(props.get("sasl.mechanism.inter.broker.protocol"), "SCRAM-SHA-512");
  assert.equal(
    props.get("listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"),
    'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-pass-1234";',
  );
  assert.equal(props.get("ssl.truststore.location"), "/k/truststore.p12");
  assert.equal(props.get("ssl.truststore.password"), "store-pass-1234");
  assert.equal(props.get("super.users"), "User:admin;User:ANONYMOUS");
});

Deno.test("secure local properties without an inter-broker user use a loopback INTERNAL listener", () => {
  const props = parseProperties(renderServerProperties({
    mode: "local",
    dataDir: "/d",
    internalPort: 19094,
    security: SECURITY,
  }));
  assert.equal(
    props.get("listeners"),
    "SASL_SSL://127.0.0.1:9092,INTERNAL://127.0.0.1:19094,CONTROLLER://127.0.0.1:9093",
  );
  assert.equal(props.get("inter.broker.listener.name"), "INTERNAL");
});

Deno.test("secure settings that would open the broker or break it are refused", () => {
  const bad = (options: Parameters<typeof renderServerProperties>[0], pattern: RegExp) =>
    assert.throws(() => renderServerProperties(options), (e: unknown) => {
      assert.ok(e instanceof BrokerConfigError);
      assert.match(e.message, pattern);
      return true;
    });
  bad({ mode: "local", dataDir: "/d", host: "0.0.0.0", security: SECURITY }, /loopback/);
  bad({
    mode: "ec2",
    dataDir: "/d",
    advertisedHost: "x.example.com",
    internalHost: "10.0.0.5",
    security: SECURITY,
  }, /internalHost must be a loopback/);
  bad({ mode: "local", dataDir: "/d", security: { ...SECURITY, superUsers: [] } }, /superUsers/);
  bad(
    { mode: "local", dataDir: "/d", security: { ...SECURITY, keystorePath: "rel.p12" } },
    /absolute/,
  );
  bad(
    { mode: "local", dataDir: "/d", security: { ...SECURITY, keystorePassword: "short" } },
    /at least 8.*value not shown/,
  );
  bad(
    { mode: "local", dataDir: "/d", security: { ...SECURITY, keystorePassword: 'has"quote,x' } },
    /value not shown/,
  );
  bad({
    mode: "local",
    dataDir: "/d",
    security: { ...SECURITY, interBrokerUser: { name: "admin", password: "admin-pass-1234" } },
  }, /truststorePath/);
  bad({
    mode: "local",
    dataDir: "/d",
    security: {
      ...SECURITY,
      truststorePath: "/k/t.p12",
      interBrokerUser: { name: "other", password: "admin-pass-1234" },
    },
  }, /must be one of security.superUsers/);
  const voters = [1, 2].map((id) => ({ id, host: "127.0.0.1", port: 9190 + id }));
  bad(
    { mode: "local", dataDir: "/d", voters, controllerPort: 9191, security: SECURITY },
    /interBrokerUser/,
  );
  bad({
    mode: "ec2",
    dataDir: "/d",
    advertisedHost: "x.example.com",
    security: { ...SECURITY, interBrokerUser: { name: "admin", password: "admin-pass-1234" } },
  }, /local mode/);
});

Deno.test("scramFormatArgs: one --add-scram pair per user, checked, password never echoed", () => {
  assert.deepEqual(
    scramFormatArgs([
      { name: "admin", password: "admin-pass-1234" },
      { name: "learner", password: "${LEARNER_PASSWORD}" },
    ]),
    [
      "--add-scram",
      "SCRAM-SHA-512=[name=admin,password=admin-pass-1234]",
      "--add-scram",
      "SCRAM-SHA-512=[name=learner,password=${LEARNER_PASSWORD}]",
    ],
  );
  assert.throws(() => scramFormatArgs([]), BrokerConfigError);
  assert.throws(
    () =>
      scramFormatArgs([{ name: "a", password: "pass-1234x" }, {
        name: "a",
        password: "pass-1234y",
      }]),
    /listed twice/,
  );
  assert.throws(() => scramFormatArgs([{ name: "a b", password: "pass-1234x" }]), /user name/);
  assert.throws(
    () => scramFormatArgs([{ name: "a", password: "pass,word]=1" }]),
    (e: unknown) => e instanceof BrokerConfigError && !e.message.includes("pass,word"),
  );
});
