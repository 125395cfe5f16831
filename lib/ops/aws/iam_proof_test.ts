/**
 * Each policy `deno task iam` prints is enough for its step, and each action the step uses is
 * needed: against a moto server that enforces IAM ({@linkcode IamMoto}), a user holding exactly
 * the printed policy runs the real command (or, for the consumer, the real lib path against the
 * real broker); with one action removed the same run fails with an error naming that action.
 *
 * What moto enforces (see lib/testing/iam_moto.ts): S3 actions and resource ARNs; for EC2, Glue,
 * Athena and SSM the actions only (their statements are widened to Resource "*" here). Conditions
 * (s3:prefix, iam:PassedToService, aws:ResourceTag) and iam:PassRole are not checked by moto.
 */

import assert from "node:assert/strict";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { AwsAccessDeniedError, nameDeniedActions } from "../../aws_denied.ts";
import { loadConfig } from "../../config.ts";
import { consumeToLake } from "../../ingest/consume_to_lake.ts";
import { KafkaUnavailableError } from "../../kafka/client.ts";
import { S3Store, S3StoreError } from "../../lake/s3_store.ts";
import { simulateTicks } from "../../source/simulate.ts";
import {
  createInstanceProfile,
  enforceableByMoto,
  IamMoto,
  type MotoCredentials,
  without,
} from "../../testing/iam_moto.ts";
import { runScript, sendTicks, testKafka, testTopic } from "../../testing/kafka.ts";
import { buildPolicies, type PolicyDocument, type PolicyName } from "./iam.ts";
import { kafkaParameterPath } from "./ssm_parameters.ts";

const ACCOUNT = "123456789012"; // moto's account
const BUCKET = "proof-lake";
const LAKE = `s3://${BUCKET}/stock`;
const NAME = "proof-kafka";
const config = loadConfig({ env: { LAKE_URI: LAKE, AWS_REGION: "us-east-1" } });
const policies = buildPolicies(config, { accountId: ACCOUNT, ec2Name: NAME });
const policy = (name: PolicyName): PolicyDocument =>
  enforceableByMoto(policies.find((p) => p.name === name)!.policy);

/** Runs a script of this repository with the given keys against moto. */
async function run(
  moto: IamMoto,
  credentials: MotoCredentials,
  script: string,
  ...args: string[]
): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await runScript(script.replace(/\.ts$/, ""), args, {
    allowFailure: true,
    env: {
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      LAKE_URI: LAKE,
    },
  });
  return { code, out: stdout + stderr };
}

/** Consumes a fresh topic into the lake as `credentials`; the consumer's own result or error. */
async function consumeAs(moto: IamMoto, credentials: MotoCredentials): Promise<unknown> {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix: "iam-proof", partitions: 1 });
  await sendTicks(kafka, t.topic, simulateTicks({ symbols: 2, count: 40, seed: 3 }));
  const store = new S3Store({
    bucket: BUCKET,
    prefix: "stock",
    region: "us-east-1",
    endpoint: moto.endpoint,
    credentials,
  });
  try {
    return await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store,
      flushRows: 20,
      idleExitSeconds: 3,
    }).then((result) => result, (error) => error);
  } finally {
    store.close();
  }
}

Deno.test({
  name:
    "every printed policy runs its step against IAM-enforcing moto, and a removed action fails naming it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    await using moto = await IamMoto.start();
    const admin = new S3Store({
      bucket: BUCKET,
      prefix: "stock",
      region: "us-east-1",
      endpoint: moto.endpoint,
      credentials: moto.admin,
    });
    await admin.ensureBucket();

    await t.step("consumer: the lake sink writes objects and its checkpoint log", async () => {
      const result = await consumeAs(moto, await moto.userWith(policy("consumer")));
      assert.ok(!(result instanceof Error), `the consumer failed: ${(result as Error)?.message}`);
      const keys: string[] = [];
      for await (const { key } of admin.list("")) keys.push(key);
      assert.ok(keys.some((k) => k.startsWith("ticks/dt=")), keys.join(", "));
      assert.ok(keys.some((k) => k.startsWith("_sink/")), keys.join(", "));
    });

    for (const action of ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]) {
      await t.step(`consumer without ${action} stops with an S3 error naming it`, async () => {
        const user = await moto.userWith(without(policy("consumer"), action));
        const error = await consumeAs(moto, user);
        assert.ok(error instanceof S3StoreError, `expected an S3 error, got ${error}`);
        assert.ok(!(error instanceof KafkaUnavailableError));
        assert.equal(error.kind, "access-denied");
        assert.match(error.message, new RegExp(`lack ${action}`));
        assert.doesNotMatch(error.message, /broker|Kafka/i);
      });
    }

    await t.step(
      "deno task consume without s3:GetObject ends with that, never a Kafka hint",
      async () => {
        const kafka = testKafka();
        await using topic = await testTopic(kafka, { prefix: "iam-proof-cli", partitions: 1 });
        await sendTicks(kafka, topic.topic, simulateTicks({ symbols: 1, count: 10, seed: 4 }));
        const user = await moto.userWith(without(policy("consumer"), "s3:GetObject"));
        const args = ["--topic", topic.topic, "--group", topic.group, "--idle-exit", "3"];
        const result = await run(moto, user, "consume.ts", ...args);
        assert.notEqual(result.code, 0, result.out);
        assert.match(result.out, /lack s3:GetObject on arn:aws:s3:::proof-lake\/stock\/_sink\//);
        assert.doesNotMatch(result.out, /Cannot use Kafka|broker running/);
      },
    );

    await t.step("catalog: crawl --target aws --method table", async () => {
      const user = await moto.userWith(policy("catalog"));
      const ok = await run(moto, user, "crawl.ts", "--target", "aws", "--method", "table");
      assert.equal(ok.code, 0, ok.out);
      const denied = await moto.userWith(without(policy("catalog"), "glue:CreateTable"));
      const fail = await run(moto, denied, "crawl.ts", "--target", "aws", "--database", "other_db");
      assert.notEqual(fail.code, 0);
      assert.match(fail.out, /AWS denied glue:CreateTable/);
    });

    await t.step("catalog: crawl --target aws --method crawler", async () => {
      const user = await moto.userWith(policy("catalog"));
      const args = ["--target", "aws", "--method", "crawler", "--crawler-role"];
      const ok = await run(moto, user, "crawl.ts", ...args, "stock-market-glue-crawler");
      assert.equal(ok.code, 0, ok.out);
      const denied = await moto.userWith(without(policy("catalog"), "glue:StartCrawler"));
      // A new crawler: moto does not implement UpdateCrawler, which a second run would call.
      const fail = await run(
        moto,
        denied,
        "crawl.ts",
        ...args,
        "stock-market-glue-crawler",
        "--crawler-name",
        "other_crawler",
      );
      assert.notEqual(fail.code, 0);
      assert.match(fail.out, /AWS denied glue:StartCrawler/);
    });

    await t.step("athena-query: query --target aws", async () => {
      const user = await moto.userWith(policy("athena-query"));
      const ok = await run(moto, user, "query.ts", "--target", "aws", "SELECT count(*) FROM ticks");
      assert.equal(ok.code, 0, ok.out);
      const denied = await moto.userWith(
        without(policy("athena-query"), "athena:GetQueryExecution"),
      );
      const fail = await run(moto, denied, "query.ts", "--target", "aws", "SELECT 1");
      assert.notEqual(fail.code, 0);
      assert.match(fail.out, /AWS denied athena:GetQueryExecution/);
    });

    await t.step("producer-host: the instance role puts the broker's parameters", async () => {
      const put = (credentials: MotoCredentials) =>
        nameDeniedActions(new SSMClient(moto.client(credentials))).send(
          new PutParameterCommand({
            Name: `${kafkaParameterPath(NAME)}/username`,
            Value: "pipeline",
            Type: "SecureString",
            Overwrite: true,
          }),
        );
      await put(await moto.userWith(policy("producer-host")));
      const denied = await moto.userWith(without(policy("producer-host"), "ssm:PutParameter"));
      await assert.rejects(
        put(denied),
        (e: unknown) => e instanceof AwsAccessDeniedError && e.action === "ssm:PutParameter",
      );
    });

    await t.step("ec2-operator: ec2 apply, ec2 credentials, teardown --yes", async () => {
      await createInstanceProfile(moto.client(), NAME);
      const admin = new SSMClient(moto.client());
      for (
        const [p, value] of [["ca.pem", "-----BEGIN CERTIFICATE-----"], ["password", "s3cret-pass"]]
      ) {
        await admin.send(
          new PutParameterCommand({
            Name: `${kafkaParameterPath(NAME)}/${p}`,
            Value: value,
            Type: "SecureString",
          }),
        );
      }
      const apply = [
        "apply",
        "--name",
        NAME,
        "--my-ip",
        "203.0.113.7",
        "--kafka-sha512",
        "ab".repeat(64),
      ];
      const refused = await moto.userWith(without(policy("ec2-operator"), "ec2:RunInstances"));
      const fail = await run(moto, refused, "ec2.ts", ...apply);
      assert.notEqual(fail.code, 0);
      assert.match(fail.out, /ec2:RunInstances/);

      const user = await moto.userWith(policy("ec2-operator"));
      const applied = await run(moto, user, "ec2.ts", ...apply);
      assert.equal(applied.code, 0, applied.out);
      assert.match(applied.out, /KAFKA_BROKERS=.+:9092/);

      const out = await Deno.makeTempDir({ prefix: "iam_proof_" });
      try {
        const noRead = await moto.userWith(without(policy("ec2-operator"), "ssm:GetParameters"));
        const credentials = ["credentials", "--name", NAME, "--out", out];
        const unread = await run(moto, noRead, "ec2.ts", ...credentials);
        assert.notEqual(unread.code, 0);
        assert.match(unread.out, /AWS denied ssm:GetParameters/);
        const fetched = await run(moto, user, "ec2.ts", ...credentials);
        assert.equal(fetched.code, 0, fetched.out);
        assert.doesNotMatch(fetched.out, /s3cret-pass/, "the password is never printed");
        assert.match(
          await Deno.readTextFile(`${out}/client.env`),
          /^KAFKA_SASL_PASSWORD=s3cret-pass$/m,
        );
      } finally {
        await Deno.remove(out, { recursive: true });
      }

      const torn = await run(moto, user, "teardown.ts", "--name", NAME, "--yes");
      assert.equal(torn.code, 0, torn.out);
      assert.match(torn.out, /EC2: terminate i-/);
      assert.match(torn.out, /Glue: delete table stock_market\.ticks/);
      assert.match(torn.out, /Glue: delete crawler stock_market_ticks/);
      const again = await run(moto, user, "teardown.ts", "--name", NAME);
      assert.equal(again.code, 0, again.out);
      assert.match(again.out, /Nothing of the walkthrough/);
    });
    admin.close();
  },
});
