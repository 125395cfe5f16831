import assert from "node:assert/strict";
import { parseProperties } from "../broker_config.ts";
import { renderConfigScript, renderUserData, USER_DATA_LIMIT_BYTES } from "./user_data.ts";

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
  assert.match(script, /sha512sum \/tmp\/kafka\.tgz/);
  assert.match(script, /kafka-storage\.sh" format -t "\$CLUSTER_ID"/);
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
  const template = script.split("<<'KAFKA_PROPERTIES_EOF'\n")[1].split("\nKAFKA_PROPERTIES_EOF")[0];
  const props = parseProperties(template);
  assert.equal(
    props.get("advertised.listeners"),
    "INTERNAL://localhost:9094,EXTERNAL://${PUBLIC_DNS}:9092",
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
});

Deno.test("the boot script reads the public DNS through IMDSv2 and fills it into server.properties", async () => {
  const seen: string[] = [];
  const imds = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    seen.push(`${request.method} ${path}`);
    if (request.method === "PUT" && path === "/latest/api/token") {
      assert.equal(request.headers.get("x-aws-ec2-metadata-token-ttl-seconds"), "300");
      return new Response("TOKEN123");
    }
    if (request.headers.get("x-aws-ec2-metadata-token") !== "TOKEN123") {
      return new Response("", { status: 401 });
    }
    if (path === "/latest/meta-data/public-hostname") {
      return new Response("ec2-203-0-113-7.compute-1.amazonaws.com");
    }
    return new Response("", { status: 404 });
  });
  const dir = await Deno.makeTempDir({ prefix: "render_config_test_" });
  try {
    const properties = `${dir}/server.properties`;
    const script = renderUserData();
    const template = script.split("<<'KAFKA_PROPERTIES_EOF'\n")[1].split("KAFKA_PROPERTIES_EOF")[0];
    await Deno.writeTextFile(`${properties}.template`, template);
    const result = await runOnScript(["bash"], renderConfigScript(properties), {
      IMDS_ENDPOINT: `http://127.0.0.1:${imds.addr.port}`,
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    });
    assert.equal(result.code, 0, result.output);
    assert.deepEqual(seen, ["PUT /latest/api/token", "GET /latest/meta-data/public-hostname"]);
    const props = parseProperties(await Deno.readTextFile(properties));
    assert.equal(
      props.get("advertised.listeners"),
      "INTERNAL://localhost:9094,EXTERNAL://ec2-203-0-113-7.compute-1.amazonaws.com:9092",
    );
  } finally {
    await imds.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the boot script fails with an explanation when the instance has no public DNS", async () => {
  const imds = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) =>
      new URL(request.url).pathname === "/latest/api/token"
        ? new Response("T")
        : new Response("", { status: 404 }),
  );
  const dir = await Deno.makeTempDir({ prefix: "render_config_test_" });
  try {
    await Deno.writeTextFile(`${dir}/server.properties.template`, "x=${PUBLIC_DNS}\n");
    const result = await runOnScript(["bash"], renderConfigScript(`${dir}/server.properties`), {
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
