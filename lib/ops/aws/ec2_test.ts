import assert from "node:assert/strict";
import {
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from "@aws-sdk/client-ec2";
import { MemoryLogger } from "../../log.ts";
import { applyEc2, destroyEc2, formatPlan, planEc2, PROJECT_TAG, resolveAmi } from "./ec2.ts";

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

const uniqueName = () => `test-kafka-${crypto.randomUUID().slice(0, 8)}`;
const fast = { timeoutMs: 30_000, pollMs: 200 };

Deno.test("plan opens 9092 to the caller's /32 only, and SSH only with a key pair", () => {
  const plan = planEc2({ myIp: "203.0.113.7", region: "us-east-1" });
  assert.deepEqual(plan.securityGroup.ingress.map((r) => [r.port, r.cidr]), [
    [9092, "203.0.113.7/32"],
  ]);
  assert.equal(plan.instance.access, "ssm");
  assert.equal(plan.instance.httpTokens, "required");
  assert.equal(plan.instance.instanceType, "t3.small");
  const text = formatPlan(plan, { userData: true });
  assert.doesNotMatch(text, /0\.0\.0\.0\/0|::\/0/);
  assert.match(text, /from 203\.0\.113\.7\/32/);

  const withKey = planEc2({ myIp: "203.0.113.7", region: "us-east-1", keyName: "me" });
  assert.deepEqual(withKey.securityGroup.ingress.map((r) => [r.port, r.cidr]), [
    [9092, "203.0.113.7/32"],
    [22, "203.0.113.7/32"],
  ]);
  assert.equal(withKey.instance.access, "ssh");
});

Deno.test("plan sizes t2.micro with a small heap and picks arm64 images for Graviton types", () => {
  assert.equal(
    planEc2({ myIp: "203.0.113.7", region: "us-east-1", instanceType: "t2.micro" })
      .instance.heapMb,
    384,
  );
  assert.equal(
    planEc2({ myIp: "203.0.113.7", region: "us-east-1", instanceType: "t4g.small" }).instance
      .architecture,
    "arm64",
  );
});

Deno.test("plan refuses a world-open address, bad names, regions, AMIs and volume sizes", () => {
  const ok = { myIp: "203.0.113.7", region: "us-east-1" };
  assert.throws(() => planEc2({ ...ok, myIp: "0.0.0.0/0" }), /whole network/);
  assert.throws(() => planEc2({ ...ok, name: "bad name!" }), /--name/);
  assert.throws(() => planEc2({ ...ok, region: "mars" }), /Region "mars"/);
  assert.throws(() => planEc2({ ...ok, ami: "ubuntu" }), /--ami "ubuntu" is not an AMI id/);
  assert.throws(() => planEc2({ ...ok, volumeGb: 2 }), /--volume-gb/);
});

Deno.test("deno task ec2 plan --my-ip prints the plan and a user-data script that passes bash -n", async () => {
  const run = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("../../../scripts/ec2.ts", import.meta.url).pathname, ...args],
      env: { AWS_ENDPOINT_URL: "http://127.0.0.1:1", AWS_REGION: "us-east-1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const plan = await run(["plan", "--my-ip", "203.0.113.7"]);
  const text = new TextDecoder().decode(plan.stdout);
  assert.equal(plan.code, 0, new TextDecoder().decode(plan.stderr));
  assert.match(text, /inbound {2}tcp 9092 {2}from 203\.0\.113\.7\/32/);
  assert.doesNotMatch(text, /0\.0\.0\.0\/0/);
  const userData = await run(["plan", "--my-ip", "203.0.113.7", "--user-data"]);
  const check = new Deno.Command("bash", { args: ["-n"], stdin: "piped", stderr: "piped" }).spawn();
  const writer = check.stdin.getWriter();
  await writer.write(userData.stdout);
  await writer.close();
  const checked = await check.output();
  assert.equal(checked.code, 0, new TextDecoder().decode(checked.stderr));
  assert.match(new TextDecoder().decode(userData.stdout), /^#!\/bin\/bash\n/);
});

Deno.test("resolveAmi finds the latest Amazon Linux 2023 image", async () => {
  const client = motoClient();
  const ami = await resolveAmi(client, "x86_64");
  assert.match(ami, /^ami-[0-9a-f]+$/);
});

Deno.test("apply creates a tagged group and IMDSv2-only instance, is idempotent, and destroy removes both", async () => {
  const client = motoClient();
  const name = uniqueName();
  const logger = new MemoryLogger();
  try {
    const plan = planEc2({ myIp: "203.0.113.7", region: "us-east-1", name });
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
    assert.ok(instance.Tags?.some((t) => t.Key === "Name" && t.Value === name));

    const again = await applyEc2(plan, { client, logger, ...fast });
    assert.deepEqual(again.created, []);
    assert.equal(again.instanceId, first.instanceId);
    assert.equal(again.securityGroupId, first.securityGroupId);

    // A new address replaces the old one instead of adding to it.
    const moved = planEc2({ myIp: "198.51.100.9", region: "us-east-1", name });
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
  try {
    const kept = await applyEc2(
      planEc2({ myIp: "203.0.113.7", region: "us-east-1", name: keep, ami: undefined }),
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
  const plan = planEc2({ myIp: "203.0.113.7", region: "us-east-1", name: uniqueName() });
  await assert.rejects(applyEc2(plan, { client, ...fast }), /ECONNREFUSED|connect/i);
});
