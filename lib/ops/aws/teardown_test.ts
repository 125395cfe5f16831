import assert from "node:assert/strict";
import { EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateCrawlerCommand,
  CreateDatabaseCommand,
  CreateTableCommand,
  GlueClient,
} from "@aws-sdk/client-glue";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { loadConfig } from "../../config.ts";
import { parseS3Uri } from "../../lake/layout.ts";
import { S3Store } from "../../lake/s3_store.ts";
import { createInstanceProfile } from "../../testing/iam_moto.ts";
import { applyEc2, planEc2 } from "./ec2.ts";
import { kafkaParameterPath } from "./ssm_parameters.ts";
import { describeItem, planTeardown, runTeardown } from "./teardown.ts";
import { runScript } from "../../testing/kafka.ts";

function endpoint(): string {
  const url = Deno.env.get("AWS_ENDPOINT_URL");
  if (!url) {
    throw new Error(
      "AWS_ENDPOINT_URL is not set: start moto (`deno task up --aws`) and `source` the test env.",
    );
  }
  return url;
}

const aws = () => ({ region: "us-east-1", endpoint: endpoint() });
const store = (uri: string) => {
  const { bucket, prefix } = parseS3Uri(uri)!;
  return new S3Store({ bucket, prefix, region: "us-east-1", endpoint: endpoint() });
};
const fast = { timeoutMs: 30_000, pollMs: 200 };

/** Everything the walkthrough creates, under unique names on the shared moto. */
async function walkthrough(id: string) {
  const name = `td-${id}`;
  const config = loadConfig({
    env: {
      LAKE_URI: `s3://td-lake-${id}/stock`,
      GLUE_DATABASE: `td_db_${id}`,
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL: endpoint(),
    },
  });
  const clients = {
    ec2: new EC2Client(aws()),
    ssm: new SSMClient(aws()),
    glue: new GlueClient(aws()),
    s3: store,
  };
  await createInstanceProfile(aws(), name);
  const deployment = await applyEc2(
    planEc2({ myIp: "203.0.113.7", region: "us-east-1", name, kafkaSha512: "ab".repeat(64) }),
    { client: clients.ec2, ssm: clients.ssm, ...fast },
  );
  for (const p of ["ca.pem", "username", "password"]) {
    await clients.ssm.send(
      new PutParameterCommand({
        Name: `${kafkaParameterPath(name)}/${p}`,
        Value: "x",
        Type: "SecureString",
      }),
    );
  }
  const lake = store(config.lake);
  await lake.ensureBucket();
  await lake.put("ticks/dt=2021-05-31/a.jsonl", new TextEncoder().encode("{}\n"));
  const results = store(`s3://td-lake-${id}/athena-results/`);
  await results.put("q1.csv", new TextEncoder().encode("a\n"));
  await results.put("q1.csv.metadata", new TextEncoder().encode("m"));
  const db = config.database;
  await clients.glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: db } }));
  await clients.glue.send(
    new CreateTableCommand({ DatabaseName: db, TableInput: { Name: config.table } }),
  );
  await clients.glue.send(
    new CreateCrawlerCommand({
      Name: `${db}_${config.table}`,
      Role: "arn:aws:iam::123456789012:role/stock-market-glue-crawler",
      DatabaseName: db,
      Targets: { S3Targets: [{ Path: `${config.lake}/${config.table}/` }] },
    }),
  );
  return { name, config, clients, deployment, lake, results };
}

Deno.test("teardown lists everything the walkthrough created, removes exactly that, and keeps the lake unless asked", async () => {
  const id = crypto.randomUUID().slice(0, 8);
  const { name, config, clients, deployment, lake, results } = await walkthrough(id);
  const plan = await planTeardown(clients, config, { name });
  const lines = plan.items.map(describeItem);
  assert.deepEqual(plan.items.map((i) => i.kind), [
    "ec2",
    "parameters",
    "crawler",
    "table",
    "database",
    "objects",
  ]);
  assert.match(
    lines[0],
    new RegExp(`terminate ${deployment.instanceId}.*${deployment.securityGroupId}`),
  );
  assert.match(lines[1], new RegExp(`${kafkaParameterPath(name)}/ca\\.pem`));
  assert.match(
    lines[5],
    /delete 2 object\(s\) of Athena results under s3:\/\/td-lake-.+\/athena-results\//,
  );
  assert.ok(plan.kept.some((k) => /--include-lake/.test(k)), plan.kept.join("; "));

  await runTeardown(clients, plan, fast);
  const after = await planTeardown(clients, config, { name });
  assert.deepEqual(after.items, [], "nothing of the walkthrough is left");
  assert.equal((await lake.get("ticks/dt=2021-05-31/a.jsonl"))?.length, 3, "lake data kept");
  assert.equal(await results.get("q1.csv"), undefined);

  const withLake = await planTeardown(clients, config, { name, includeLake: true });
  assert.deepEqual(withLake.items.map(describeItem), [
    `S3: delete 1 object(s) of lake data under ${config.lake}`,
  ]);
  await runTeardown(clients, withLake, fast);
  assert.equal(await lake.get("ticks/dt=2021-05-31/a.jsonl"), undefined);
});

Deno.test("teardown keeps a Glue database that holds other tables", async () => {
  const id = crypto.randomUUID().slice(0, 8);
  const glue = new GlueClient(aws());
  const config = loadConfig({
    env: { LAKE_URI: `s3://td-keep-${id}/stock`, GLUE_DATABASE: `td_keep_${id}` },
  });
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: config.database } }));
  for (const t of [config.table, "someone_elses"]) {
    await glue.send(
      new CreateTableCommand({ DatabaseName: config.database, TableInput: { Name: t } }),
    );
  }
  const clients = { ec2: new EC2Client(aws()), ssm: new SSMClient(aws()), glue, s3: store };
  const plan = await planTeardown(clients, config, { name: `td-none-${id}` });
  assert.deepEqual(plan.items.map((i) => i.kind), ["table"]);
  assert.ok(plan.kept.some((k) => k.includes("also holds someone_elses")), plan.kept.join("; "));
});

Deno.test("deno task teardown lists and changes nothing without --yes", async () => {
  const id = crypto.randomUUID().slice(0, 8);
  const { name, config, clients } = await walkthrough(id);
  const run = (...args: string[]) =>
    runScript("teardown", args, {
      allowFailure: true,
      env: { AWS_ENDPOINT_URL: endpoint(), AWS_REGION: "us-east-1", LAKE_URI: config.lake },
    });
  const args = ["--name", name, "--database", config.database];
  const dry = await run(...args);
  const text = dry.stdout;
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(text, /teardown removes:\n {2}- EC2: terminate i-/);
  assert.match(text, /Nothing was removed\. Run again with --yes/);
  assert.equal((await planTeardown(clients, config, { name })).items.length, 6);
  const wet = await run(...args, "--yes");
  assert.equal(wet.code, 0, wet.stderr);
  assert.deepEqual((await planTeardown(clients, config, { name })).items, []);
});
