import assert from "node:assert/strict";
import { parseProperties, scramFormatArgs } from "../broker_config.ts";
import { createKafka } from "../../kafka/client.ts";
import { REPO_ROOT } from "../../testing/kafka.ts";
import { sleep } from "../../time.ts";
import {
  renderConfigScript,
  renderUserData as render,
  topicsAndAclsSection,
  USER_DATA_LIMIT_BYTES,
  type UserDataOptions,
} from "./user_data.ts";

/** A well-formed checksum: these tests never download Kafka. */
const SHA512 = "0123456789abcdef".repeat(8);
const renderUserData = (options: UserDataOptions = {}) =>
  render({ kafkaSha512: SHA512, ...options });

/** The server.properties template inside a rendered script. */
const templateOf = (script: string) =>
  script.split("<<'KAFKA_PROPERTIES_EOF'\n")[1].split("\nKAFKA_PROPERTIES_EOF")[0];

/** Runs a command with `input` as its only file argument; returns exit code and output. */
async function runOnScript(
  command: string[],
  script: string,
  env: Record<string, string> = {},
): Promise<{ code: number; output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "user_data_test_" });
  const path = `${dir}/script.sh`;
  await Deno.writeTextFile(path, script);
  try {
    const out = await new Deno.Command(command[0], {
      args: [...command.slice(1), path],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { code: out.code, output: decode(out.stdout) + decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** shellcheck, or a failure saying how to install it (CI must have it: the check is not optional). */
async function shellcheck(script: string): Promise<{ code: number; output: string }> {
  try {
    return await runOnScript(["shellcheck", "--shell=bash", "--severity=style"], script);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      assert.fail(
        "shellcheck is not installed: install it (Debian/Ubuntu: `apt-get install -y shellcheck`, " +
          "macOS: `brew install shellcheck`) and run the tests again.",
      );
    }
    throw error;
  }
}

Deno.test("user-data for every supported size passes bash -n and shellcheck", async () => {
  for (const instanceType of ["t2.micro", "t3.small", "m5.large"]) {
    const script = renderUserData({ instanceType });
    const syntax = await runOnScript(["bash", "-n"], script);
    assert.equal(syntax.code, 0, `bash -n failed for ${instanceType}:\n${syntax.output}`);
    const lint = await shellcheck(script);
    assert.equal(lint.code, 0, `shellcheck failed for ${instanceType}:\n${lint.output}`);
  }
  const lint = await shellcheck(renderConfigScript());
  assert.equal(lint.code, 0, `shellcheck failed for the config script:\n${lint.output}`);
});

Deno.test("shellcheck in this test really rejects a broken script", async () => {
  const lint = await shellcheck("#!/bin/bash\nrm -rf $1/*\n");
  assert.notEqual(lint.code, 0);
  assert.match(lint.output, /SC2086/);
});

Deno.test("user-data installs Java 17 and Kafka 3.9.1, starts it under systemd and creates the topics", () => {
  const script = renderUserData();
  assert.ok(script.startsWith("#!/bin/bash\n"));
  assert.match(script, /set -euo pipefail/);
  assert.match(script, /dnf install -y java-17-amazon-corretto-headless/);
  assert.match(
    script,
    /https:\/\/archive\.apache\.org\/dist\/kafka\/3\.9\.1\/kafka_2\.13-3\.9\.1\.tgz/,
  );
  assert.match(script, new RegExp(`echo "${SHA512}  /tmp/kafka.tgz" \\| sha512sum --check`));
  assert.doesNotMatch(script, /\.sha512/, "the checksum is pinned, never downloaded");
  assert.match(script, /kafka-storage\.sh" format -t "\$CLUSTER_ID"/);
  assert.match(
    script,
    /"--add-scram" "SCRAM-SHA-512=\[name=pipeline,password=\$\{PIPELINE_PASSWORD\}\]"/,
  );
  assert.match(script, /systemctl enable --now kafka\.service/);
  assert.match(script, /ExecStartPre=\+\/usr\/local\/bin\/kafka-render-config/);
  for (const topic of ["stock_market", "stock_market.dlq"]) {
    assert.match(
      script,
      new RegExp(`--topic '${topic.replace(".", "\\.")}' --partitions 3 --replication-factor 1`),
    );
  }
  assert.ok(new TextEncoder().encode(script).length < USER_DATA_LIMIT_BYTES);
  // Plain ASCII: base64 encoders and cloud-init never trip over it.
  assert.doesNotMatch(script, /[^\n\t -~]/);
});

Deno.test("user-data sizes the heap for the instance type and adds swap on 1 GiB machines", () => {
  const micro = renderUserData({ instanceType: "t2.micro" });
  assert.match(micro, /KAFKA_HEAP_OPTS="-Xms384m -Xmx384m"/);
  assert.match(micro, /of=\/swapfile bs=1M count=1024/);
  const small = renderUserData({ instanceType: "t3.small" });
  assert.match(small, /KAFKA_HEAP_OPTS="-Xms768m -Xmx768m"/);
  assert.doesNotMatch(small, /swapon/);
});

Deno.test("user-data carries the EC2 broker config with the public DNS left for boot time", () => {
  const script = renderUserData({ partitions: 6 });
  const props = parseProperties(templateOf(script));
  assert.equal(
    props.get("advertised.listeners"),
    "INTERNAL://127.0.0.1:9094,EXTERNAL://${PUBLIC_DNS}:9092",
  );
  assert.equal(props.get("num.partitions"), "6");
  assert.match(script, /--partitions 6 --replication-factor 1/);
});

Deno.test("user-data refuses bad topics, swap sizes and instance types", () => {
  assert.throws(() => renderUserData({ topics: [] }), /at least one topic/);
  assert.throws(() => renderUserData({ topics: ["bad topic; rm -rf /"] }), /not valid/);
  assert.throws(() => renderUserData({ swapMb: -1 }), /swapMb must be/);
  assert.throws(() => renderUserData({ instanceType: "t2.nano" }), /too little/);
  assert.throws(() => renderUserData({ instanceType: "x9.huge" }), /Unknown instance type/);
  assert.throws(() => renderUserData({ partitions: 0 }), /partitions/);
  assert.throws(() => render({ kafkaSha512: "" }), /No SHA-512 is pinned.*--kafka-sha512/);
  assert.throws(() => render({ kafkaSha512: "abc" }), /128 hex digits/);
});

Deno.test("without a known SHA-512 the script (for showing a plan only) stops before downloading Kafka", async () => {
  const script = render({ kafkaSha512: "", allowUnpinned: true });
  const [before] = script.split("kafka-setup: No SHA-512 is pinned");
  assert.doesNotMatch(before, /curl .*KAFKA_URL/);
  assert.match(script, /No SHA-512 is pinned for Kafka 3\.9\.1.*' >&2\nexit 1\n/);
  assert.equal((await runOnScript(["bash", "-n"], script)).code, 0);
});

Deno.test("the broker is secure by default: SASL_SSL outside, loopback PLAINTEXT inside, ACLs, no allow.everyone", () => {
  const script = renderUserData();
  const props = parseProperties(templateOf(script));
  assert.equal(
    props.get("listeners"),
    "INTERNAL://127.0.0.1:9094,EXTERNAL://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093",
  );
  assert.equal(
    props.get("listener.security.protocol.map"),
    "CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
  );
  assert.equal(props.get("sasl.enabled.mechanisms"), "SCRAM-SHA-512");
  assert.equal(props.get("allow.everyone.if.no.acl.found"), "false");
  assert.match(props.get("authorizer.class.name") ?? "", /StandardAuthorizer/);
  assert.equal(props.get("ssl.keystore.password"), "${KEYSTORE_PASSWORD}", "filled in at boot");
  // The pipeline user gets its topics, its groups (prefixed) and the cluster's metadata; nothing else.
  assert.match(
    script,
    /--allow-principal User:pipeline \\\n.*--operation Read --operation Write.*\\\n {2}--topic 'stock_market'$/m,
  );
  assert.match(script, /--group 'stock_market' --resource-pattern-type prefixed/);
  assert.match(
    script,
    /--group 'tail-' --resource-pattern-type prefixed/,
    "deno task tail's group",
  );
  assert.match(script, /--operation Describe --operation IdempotentWrite --cluster/);
  assert.doesNotMatch(script, /allow-principal User:\*|allow-principal 'User:\*'/);
  // Client settings go to Parameter Store as SecureStrings, the password through a file.
  assert.match(script, /PARAMS='\/stock-market-pipeline\/stock-market-kafka\/kafka'/);
  assert.match(script, /aws ssm put-parameter --region "\$REGION" --type SecureString --overwrite/);
  assert.match(script, /put password "file:\/\/\$PASSWORD_FILE"/);
});

Deno.test("root owns the config, keys and installation; the unit is hardened and memory-capped", () => {
  const script = renderUserData({ instanceType: "t3.small" });
  assert.match(script, /install -d -o root -g kafka -m 750 "\$ETC"/);
  assert.match(script, /chown -R root:root "\$KAFKA_HOME"/);
  assert.doesNotMatch(script, /chown -R kafka/, "the kafka user owns no folder root writes into");
  for (
    const line of [
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "PrivateTmp=yes",
      "ReadWritePaths=/var/lib/kafka/data /var/log/kafka",
      "MemoryMax=1792M",
    ]
  ) assert.ok(script.includes(`\n${line}\n`), line);
  assert.match(renderUserData({ instanceType: "t2.micro" }), /\nMemoryMax=1024M\n/);
});

/** A fake IMDSv2 answering `public-hostname` with whatever `dns.name` holds. */
function fakeImds(dns: { name?: string }, seen: string[] = []) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    seen.push(`${request.method} ${path}`);
    if (request.method === "PUT" && path === "/latest/api/token") {
      assert.equal(request.headers.get("x-aws-ec2-metadata-token-ttl-seconds"), "300");
      return new Response("TOKEN123");
    }
    if (request.headers.get("x-aws-ec2-metadata-token") !== "TOKEN123") {
      return new Response("", { status: 401 });
    }
    if (path === "/latest/meta-data/public-hostname" && dns.name) return new Response(dns.name);
    return new Response("", { status: 404 });
  });
}

/** An /etc/kafka as the user data leaves it: template, secrets, a CA made by openssl. */
async function fakeEtc(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "render_config_test_" });
  await Deno.mkdir(`${dir}/tls`);
  await Deno.writeTextFile(`${dir}/server.properties.template`, templateOf(renderUserData()));
  await Deno.writeTextFile(
    `${dir}/secrets.env`,
    "KEYSTORE_PASSWORD=keystore-secret-123\nPIPELINE_PASSWORD=pipeline-secret-123\n",
  );
  const ca = await new Deno.Command("openssl", {
    args: ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA"]
      .concat(["-keyout", `${dir}/tls/ca.key`, "-out", `${dir}/tls/ca.pem`]),
    stderr: "piped",
  }).output();
  assert.equal(ca.code, 0, new TextDecoder().decode(ca.stderr));
  return dir;
}

async function openssl(...args: string[]): Promise<string> {
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  return text;
}

Deno.test("the boot script advertises the public DNS from IMDSv2 and issues a CA-signed certificate for it, again only when the name changes", async () => {
  const seen: string[] = [];
  const dns = { name: "ec2-203-0-113-7.compute-1.amazonaws.com" };
  const imds = fakeImds(dns, seen);
  const dir = await fakeEtc();
  const run = () =>
    runOnScript(["bash"], renderConfigScript(dir), {
      IMDS_ENDPOINT: `http://127.0.0.1:${imds.addr.port}`,
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    });
  try {
    const first = await run();
    assert.equal(first.code, 0, first.output);
    assert.deepEqual(seen, ["PUT /latest/api/token", "GET /latest/meta-data/public-hostname"]);
    const props = parseProperties(await Deno.readTextFile(`${dir}/server.properties`));
    assert.equal(
      props.get("advertised.listeners"),
      `INTERNAL://127.0.0.1:9094,EXTERNAL://${dns.name}:9092`,
    );
    assert.equal(props.get("ssl.keystore.password"), "keystore-secret-123");
    assert.equal((await Deno.stat(`${dir}/server.properties`)).mode! & 0o777, 0o640);
    // The keystore opens with that password and holds a certificate for the name, signed by the CA.
    await openssl(
      "pkcs12",
      "-in",
      `${dir}/tls/broker.p12`,
      "-passin",
      "pass:keystore-secret-123",
      "-nokeys",
      "-out",
      `${dir}/from-p12.pem`,
    );
    assert.match(
      await openssl("verify", "-CAfile", `${dir}/tls/ca.pem`, `${dir}/tls/broker.pem`),
      /OK/,
    );
    assert.match(
      await openssl("x509", "-in", `${dir}/from-p12.pem`, "-noout", "-checkhost", dns.name),
      /does match/,
    );
    const issued = await Deno.readTextFile(`${dir}/tls/broker.pem`);
    assert.equal((await run()).code, 0);
    assert.equal(await Deno.readTextFile(`${dir}/tls/broker.pem`), issued, "same name: kept");
    dns.name = "ec2-198-51-100-9.compute-1.amazonaws.com";
    const moved = await run();
    assert.equal(moved.code, 0, moved.output);
    assert.match(moved.output, /issuing the broker certificate for ec2-198-51-100-9/);
    assert.match(
      await openssl("x509", "-in", `${dir}/tls/broker.pem`, "-noout", "-checkhost", dns.name),
      /does match/,
    );
  } finally {
    await imds.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the boot script fails with an explanation when the instance has no public DNS", async () => {
  const imds = fakeImds({});
  const dir = await fakeEtc();
  try {
    const result = await runOnScript(["bash"], renderConfigScript(dir), {
      IMDS_ENDPOINT: `http://127.0.0.1:${imds.addr.port}`,
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    });
    assert.notEqual(result.code, 0);
    assert.match(result.output, /no public DNS name.*subnet that assigns public IPs/s);
  } finally {
    await imds.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

/** A free TCP port on 127.0.0.1. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function waitForPort(port: number, child: Deno.ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  assert.fail(`the broker did not listen on ${port} within 60 s:\n${await Deno.readTextFile(log)}`);
}

Deno.test({
  name:
    "the EC2 broker as the user data configures it: the pipeline user produces and consumes its topic over SASL_SSL, and nothing else",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const jars = `${REPO_ROOT}.cache/kafka/jars`;
    await Deno.stat(`${jars}/kafka_2.13-3.9.1.jar`).catch(() =>
      assert.fail(`No Kafka jars in ${jars}: run \`deno task up\` once (it downloads them).`)
    );
    const [port, internalPort, controllerPort] = [freePort(), freePort(), freePort()];
    const etc = await fakeEtc();
    const data = `${etc}/data`;
    const password = "pipeline-secret-123";
    // The user data's template, moved to free ports and temporary folders, EXTERNAL on loopback.
    const template = templateOf(renderUserData({ port, internalPort }))
      .replaceAll("/var/lib/kafka/data", data)
      .replaceAll("/etc/kafka/tls/", `${etc}/tls/`)
      .replaceAll(":9093", `:${controllerPort}`)
      .replace("EXTERNAL://0.0.0.0:", "EXTERNAL://127.0.0.1:");
    await Deno.writeTextFile(`${etc}/server.properties.template`, template);
    const imds = fakeImds({ name: "localhost" });
    let broker: Deno.ChildProcess | undefined;
    try {
      const rendered = await runOnScript(["bash"], renderConfigScript(etc), {
        IMDS_ENDPOINT: `http://127.0.0.1:${imds.addr.port}`,
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      });
      assert.equal(rendered.code, 0, rendered.output);
      const java = (...args: string[]) =>
        new Deno.Command("java", { args: ["-Xmx256m", "-cp", `${jars}/*`, ...args] });
      const format = await java(
        "kafka.tools.StorageTool",
        "format",
        "-t",
        "q1Sh-9_ISia_zwGINzRvyQ",
        "-c",
        `${etc}/server.properties`,
        ...scramFormatArgs([{ name: "pipeline", password }]),
      ).output();
      assert.equal(format.code, 0, new TextDecoder().decode(format.stderr));
      const log = `${etc}/broker.log`;
      const logFile = await Deno.open(log, { write: true, create: true });
      broker = new Deno.Command("java", {
        args: ["-Xmx384m", "-cp", `${jars}/*`, "kafka.Kafka", `${etc}/server.properties`],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      broker.stdout.pipeTo(logFile.writable).catch(() => {});
      await waitForPort(internalPort, broker, log);
      // The user data's own topic and ACL commands, with the Kafka tools from the same jars.
      const home = `${etc}/home`;
      await Deno.mkdir(`${home}/bin`, { recursive: true });
      for (
        const [tool, main] of [
          ["kafka-topics.sh", "org.apache.kafka.tools.TopicCommand"],
          ["kafka-acls.sh", "kafka.admin.AclCommand"],
        ]
      ) {
        await Deno.writeTextFile(
          `${home}/bin/${tool}`,
          `#!/bin/bash\nexec java -Xmx128m -cp '${jars}/*' ${main} "$@"\n`,
          { mode: 0o755 },
        );
      }
      const section = topicsAndAclsSection({
        topics: ["stock_market", "stock_market.dlq", "not_the_pipelines"],
        internalPort,
        partitions: 1,
        pipelineUser: "pipeline",
        groupPrefixes: ["stock_market", "tail-"],
      }).replace(
        /"\$KAFKA_HOME\/bin\/kafka-acls\.sh"[^\n]*\\\n[^\n]*\\\n {2}--topic 'not_the_pipelines'\n/,
        "",
      );
      const acls = await runOnScript(["bash", "-e"], section, {
        KAFKA_HOME: home,
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      });
      assert.equal(acls.code, 0, acls.output);

      const client = (user: string, secret: string) =>
        createKafka({
          brokers: [`localhost:${port}`],
          retries: 1,
          security: {
            securityProtocol: "SASL_SSL",
            saslMechanism: "SCRAM-SHA-512",
            saslUsername: user,
            saslPassword: secret,
            sslCaLocation: `${etc}/tls/ca.pem`,
          },
        });
      const kafka = client("pipeline", password);
      const producer = kafka.producer({ idempotent: true });
      await producer.connect();
      try {
        await producer.send({ topic: "stock_market", messages: [{ value: "tick" }] });
        await assert.rejects(
          producer.send({ topic: "not_the_pipelines", messages: [{ value: "x" }] }),
          /authoriz/i,
          "a topic without an ACL is refused",
        );
      } finally {
        await producer.disconnect();
      }
      // The first message a consumer of `groupId` reads, or why it could not join.
      const firstMessage = async (groupId: string): Promise<string | Error> => {
        const consumer = kafka.consumer({ groupId });
        await consumer.connect();
        try {
          await consumer.subscribe({ topic: "stock_market", fromBeginning: true });
          return await new Promise<string | Error>((resolve) => {
            consumer.on(consumer.events.CRASH, (e) => resolve(e.payload.error));
            consumer.run({
              eachMessage: ({ message }) => Promise.resolve(resolve(String(message.value))),
            })
              .catch(resolve);
          });
        } finally {
          await consumer.disconnect();
        }
      };
      // The first join makes the broker create __consumer_offsets (50 partitions); on a busy
      // machine kafkajs can give up looking for the coordinator before it exists: join again.
      const firstMessageOnceReady = async (groupId: string): Promise<string | Error> => {
        const deadline = Date.now() + 90_000;
        for (;;) {
          const got = await firstMessage(groupId);
          const noCoordinator = got instanceof Error && /group coordinator/i.test(got.message);
          if (!noCoordinator || Date.now() > deadline) return got;
          await sleep(1000);
        }
      };
      assert.equal(await firstMessageOnceReady("stock_market_lake"), "tick");
      assert.equal(await firstMessage("tail-0a1b2c3d"), "tick", "deno task tail's groups");
      // Kafka answers FindCoordinator with GROUP_AUTHORIZATION_FAILED; kafkajs reports that as
      // no coordinator, on the same broker that just gave the two groups above theirs.
      const outsider = await firstMessage("someone_else");
      assert.ok(outsider instanceof Error, `joined: ${outsider}`);
      assert.match(outsider.message, /group coordinator/i);
      const wrong = client("pipeline", "not-the-password");
      await assert.rejects(wrong.admin().connect(), /authentication|SASL/i);
    } finally {
      broker?.kill();
      await broker?.status;
      await imds.shutdown();
      await Deno.remove(etc, { recursive: true });
    }
  },
});
