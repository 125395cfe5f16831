import assert from "node:assert/strict";
import {
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { MemoryLogger } from "../../log.ts";
import { createInstanceProfile } from "../../testing/iam_moto.ts";
import { parseProperties } from "../broker_config.ts";
import { applyEc2, destroyEc2, formatPlan, planEc2, PROJECT_TAG, resolveAmi } from "./ec2.ts";
import { KAFKA_TARBALL_SHA512 } from "./user_data.ts";
import { runScript } from "../../testing/kafka.ts";

function motoClient(): EC2Client {
  const endpoint = Deno.env.get("AWS_ENDPOINT_URL");
  if (!endpoint) {
    throw new Error(
      "AWS_ENDPOINT_URL is not set: start moto (`deno task up --aws`) and run e.g. " +
        "AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test deno test -A lib/ops/",
    );
  }
  return new EC2Client({ region: "us-east-1", endpoint });
}

function motoSsm(): SSMClient {
  return new SSMClient({ region: "us-east-1", endpoint: Deno.env.get("AWS_ENDPOINT_URL") });
}

/** A well-formed checksum: these tests never download Kafka. */
const SHA512 = "0123456789abcdef".repeat(8);

const uniqueName = () => `test-kafka-${crypto.randomUUID().slice(0, 8)}`;

/** The `<name>-broker` role and instance profile apply passes to the instance. */
const createProfile = (name: string) =>
  createInstanceProfile({ region: "us-east-1", endpoint: Deno.env.get("AWS_ENDPOINT_URL") }, name);
const fast = { timeoutMs: 30_000, pollMs: 200, ssm: motoSsm() };

Deno.test("plan opens 9092 to the caller's /32 only, and SSH only with a key pair", () => {
  const plan = planEc2({ myIp: "203.0.113.7", region: "us-east-1", kafkaSha512: SHA512 });
  assert.deepEqual(plan.securityGroup.ingress.map((r) => [r.port, r.cidr]), [
    [9092, "203.0.113.7/32"],
  ]);
  assert.equal(plan.instance.access, "ssm");
  assert.equal(plan.instance.httpTokens, "required");
  assert.equal(plan.instance.instanceType, "t3.small");
  const text = formatPlan(plan, { userData: true });
  assert.doesNotMatch(text, /0\.0\.0\.0\/0|::\/0/);
  assert.match(text, /from 203\.0\.113\.7\/32/);

  const withKey = planEc2({
    myIp: "203.0.113.7",
    region: "us-east-1",
    kafkaSha512: SHA512,
    keyName: "me",
  });
  assert.deepEqual(withKey.securityGroup.ingress.map((r) => [r.port, r.cidr]), [
    [9092, "203.0.113.7/32"],
    [22, "203.0.113.7/32"],
  ]);
  assert.equal(withKey.instance.access, "ssh");
});

Deno.test("plan sizes t2.micro with a small heap and picks arm64 images for Graviton types", () => {
  assert.equal(
    planEc2({
      myIp: "203.0.113.7",
      region: "us-east-1",
      kafkaSha512: SHA512,
      instanceType: "t2.micro",
    })
      .instance.heapMb,
    384,
  );
  assert.equal(
    planEc2({
      myIp: "203.0.113.7",
      region: "us-east-1",
      kafkaSha512: SHA512,
      instanceType: "t4g.small",
    }).instance
      .architecture,
    "arm64",
  );
});

Deno.test("plan refuses a world-open address, bad names, regions, AMIs and volume sizes", () => {
  const ok = { myIp: "203.0.113.7", region: "us-east-1", kafkaSha512: SHA512 };
  assert.throws(() => planEc2({ ...ok, myIp: "0.0.0.0/0" }), /whole network/);
  assert.throws(() => planEc2({ ...ok, name: "bad name!" }), /--name/);
  assert.throws(() => planEc2({ ...ok, region: "mars" }), /Region "mars"/);
  assert.throws(() => planEc2({ ...ok, ami: "ubuntu" }), /--ami "ubuntu" is not an AMI id/);
  assert.throws(() => planEc2({ ...ok, volumeGb: 2 }), /--volume-gb/);
});

Deno.test("deno task ec2 plan --my-ip prints the plan and a user-data script that passes bash -n", async () => {
  const run = (args: string[]) =>
    runScript("ec2", args, {
      allowFailure: true,
      env: { AWS_ENDPOINT_URL: "http://127.0.0.1:1", AWS_REGION: "us-east-1" },
    });
  const plan = await run(["plan", "--my-ip", "203.0.113.7", "--kafka-sha512", SHA512]);
  const text = plan.stdout;
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(text, /inbound {2}tcp 9092 {2}from 203\.0\.113\.7\/32/);
  assert.doesNotMatch(text, /0\.0\.0\.0\/0/);
  const userData = await run([
    "plan",
    "--my-ip",
    "203.0.113.7",
    "--user-data",
    "--kafka-sha512",
    SHA512,
  ]);
  // No plaintext listener faces the network: EXTERNAL is SASL_SSL, the PLAINTEXT ones are loopback.
  const script = userData.stdout;
  const props = parseProperties(
    script.split("<<'KAFKA_PROPERTIES_EOF'\n")[1].split("\nKAFKA_PROPERTIES_EOF")[0],
  );
  const protocols = new Map(
    props.get("listener.security.protocol.map")!.split(",").map((e) =>
      e.split(":") as [string, string]
    ),
  );
  for (const listener of props.get("listeners")!.split(",")) {
    const [, name, host] = /^(\w+):\/\/([^:]+):\d+$/.exec(listener)!;
    if (protocols.get(name) === "PLAINTEXT") assert.equal(host, "127.0.0.1", listener);
  }
  assert.equal(protocols.get("EXTERNAL"), "SASL_SSL");
  const check = new Deno.Command("bash", { args: ["-n"], stdin: "piped", stderr: "piped" }).spawn();
  const writer = check.stdin.getWriter();
  await writer.write(new TextEncoder().encode(userData.stdout));
  await writer.close();
  const checked = await check.output();
  assert.equal(checked.code, 0, new TextDecoder().decode(checked.stderr));
  assert.match(userData.stdout, /^#!\/bin\/bash\n/);
});

Deno.test("resolveAmi reads the latest Amazon Linux 2023 image from its public SSM parameter", async () => {
  motoClient(); // says how to start moto when it is not configured
  assert.match(await resolveAmi(motoSsm(), "x86_64"), /^ami-[0-9a-f]+$/);
  assert.match(await resolveAmi(motoSsm(), "arm64"), /^ami-[0-9a-f]+$/);
});

Deno.test("plan gives T-family types standard CPU credits and the deployment's instance role", () => {
  const plan = planEc2({
    myIp: "203.0.113.7",
    region: "eu-west-1",
    kafkaSha512: SHA512,
    name: "demo",
  });
  assert.equal(plan.instance.cpuCredits, "standard");
  assert.equal(plan.instance.instanceProfile, "demo-broker");
  assert.equal(
    planEc2({
      myIp: "203.0.113.7",
      region: "us-east-1",
      kafkaSha512: SHA512,
      instanceType: "m5.large",
    })
      .instance.cpuCredits,
    undefined,
  );
  const text = formatPlan(plan);
  assert.match(text, /standard CPU credits/);
  assert.match(text, /us-east-1 on-demand prices; eu-west-1 differs/);
  assert.match(text, /SASL_SSL \+ SCRAM-SHA-512 on 9092/);
  assert.match(text, /\/stock-market-pipeline\/demo\/kafka\//);
});

Deno.test("apply creates a tagged group and IMDSv2-only instance, is idempotent, and destroy removes both", async () => {
  const client = motoClient();
  const name = uniqueName();
  const logger = new MemoryLogger();
  await createProfile(name);
  try {
    const plan = planEc2({ myIp: "203.0.113.7", region: "us-east-1", kafkaSha512: SHA512, name });
    const first = await applyEc2(plan, { client, logger, ...fast });
    assert.equal(first.created.length, 2);
    assert.match(first.bootstrap, /^.+:9092$/);
    assert.equal(first.bootstrap, `${first.publicDns}:9092`);

    const { SecurityGroups = [] } = await client.send(
      new DescribeSecurityGroupsCommand({ GroupIds: [first.securityGroupId] }),
    );
    const permissions = SecurityGroups[0].IpPermissions ?? [];
    assert.deepEqual(
      permissions.map((p) => [p.FromPort, p.ToPort, (p.IpRanges ?? []).map((r) => r.CidrIp)]),
      [[9092, 9092, ["203.0.113.7/32"]]],
    );
    assert.ok(
      SecurityGroups[0].Tags?.some((t) =>
        t.Key === PROJECT_TAG.key && t.Value === PROJECT_TAG.value
      ),
    );
    const described = await client.send(
      new DescribeInstancesCommand({ InstanceIds: [first.instanceId] }),
    );
    const instance = described.Reservations![0].Instances![0];
    assert.equal(instance.MetadataOptions?.HttpTokens, "required");
    assert.equal(instance.InstanceType, "t3.small");
    assert.match(
      instance.IamInstanceProfile?.Arn ?? "",
      new RegExp(`instance-profile/${name}-broker$`),
    );
    assert.ok(instance.Tags?.some((t) => t.Key === "Name" && t.Value === name));

    const again = await applyEc2(plan, { client, logger, ...fast });
    assert.deepEqual(again.created, []);
    assert.equal(again.instanceId, first.instanceId);
    assert.equal(again.securityGroupId, first.securityGroupId);

    // A new address replaces the old one instead of adding to it.
    const moved = planEc2({ myIp: "198.51.100.9", region: "us-east-1", kafkaSha512: SHA512, name });
    await applyEc2(moved, { client, logger, ...fast });
    const after = await client.send(
      new DescribeSecurityGroupsCommand({ GroupIds: [first.securityGroupId] }),
    );
    assert.deepEqual(
      (after.SecurityGroups![0].IpPermissions ?? []).flatMap((p) =>
        (p.IpRanges ?? []).map((r) => `${p.FromPort} ${r.CidrIp}`)
      ),
      ["9092 198.51.100.9/32"],
    );

    const gone = await destroyEc2(name, { client, logger, ...fast });
    assert.deepEqual(gone, {
      instances: [first.instanceId],
      securityGroups: [first.securityGroupId],
    });
    const state = await client.send(
      new DescribeInstancesCommand({ InstanceIds: [first.instanceId] }),
    );
    assert.equal(state.Reservations![0].Instances![0].State?.Name, "terminated");
    assert.deepEqual(await destroyEc2(name, { client, logger, ...fast }), {
      instances: [],
      securityGroups: [],
    });
  } finally {
    await destroyEc2(name, { client, ...fast }).catch(() => {});
  }
});

Deno.test("destroy leaves resources of other names alone", async () => {
  const client = motoClient();
  const keep = uniqueName();
  await createProfile(keep);
  try {
    const kept = await applyEc2(
      planEc2({
        myIp: "203.0.113.7",
        region: "us-east-1",
        kafkaSha512: SHA512,
        name: keep,
        ami: undefined,
      }),
      { client, ...fast },
    );
    assert.deepEqual(await destroyEc2(uniqueName(), { client, ...fast }), {
      instances: [],
      securityGroups: [],
    });
    const state = await client.send(
      new DescribeInstancesCommand({ InstanceIds: [kept.instanceId] }),
    );
    assert.equal(state.Reservations![0].Instances![0].State?.Name, "running");
  } finally {
    await destroyEc2(keep, { client, ...fast });
  }
});

Deno.test("apply explains an unreachable endpoint", async () => {
  const client = new EC2Client({
    region: "us-east-1",
    endpoint: "http://127.0.0.1:1",
    maxAttempts: 1,
  });
  const plan = planEc2({
    myIp: "203.0.113.7",
    region: "us-east-1",
    kafkaSha512: SHA512,
    name: uniqueName(),
  });
  await assert.rejects(applyEc2(plan, { client, ...fast }), /ECONNREFUSED|connect/i);
});

Deno.test("apply names a missing instance profile and how to create it", async () => {
  const plan = planEc2({
    myIp: "203.0.113.7",
    region: "us-east-1",
    kafkaSha512: SHA512,
    name: uniqueName(),
  });
  try {
    await assert.rejects(
      applyEc2(plan, { client: motoClient(), ...fast }),
      /Instance profile ".+-broker" does not exist.*producer-host policy of `deno task iam`/s,
    );
  } finally {
    await destroyEc2(plan.name, { client: motoClient(), ...fast });
  }
});

Deno.test("the Kafka tarball's SHA-512 is pinned in the code, so a plan is ready without --kafka-sha512", () => {
  const plan = planEc2({ myIp: "203.0.113.7", region: "us-east-1", name: uniqueName() });
  assert.equal(plan.instance.kafkaPinned, true);
  assert.match(KAFKA_TARBALL_SHA512, /^[0-9a-f]{128}$/);
  assert.match(plan.instance.userData, new RegExp(KAFKA_TARBALL_SHA512));
});

Deno.test("without a pinned or given Kafka SHA-512 the plan shows it is not ready and apply refuses", async () => {
  // An empty --kafka-sha512 stands for a version with no pin (KAFKA_TARBALL_SHA512 is set).
  const plan = planEc2({
    myIp: "203.0.113.7",
    region: "us-east-1",
    name: uniqueName(),
    kafkaSha512: "",
  });
  assert.equal(plan.instance.kafkaPinned, false);
  assert.match(
    formatPlan(plan),
    /user-data NOT READY: No SHA-512 is pinned.*--kafka-sha512.*Apply refuses/,
  );
  await assert.rejects(applyEc2(plan, { client: motoClient(), ...fast }), /No SHA-512 is pinned/);
  assert.deepEqual(await destroyEc2(plan.name, { client: motoClient(), ...fast }), {
    instances: [],
    securityGroups: [],
  });
});
