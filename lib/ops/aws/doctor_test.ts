import assert from "node:assert/strict";
import { createInstanceProfile } from "../../testing/iam_moto.ts";
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateDatabaseCommand,
  CreateTableCommand,
  DeleteDatabaseCommand,
  GlueClient,
} from "@aws-sdk/client-glue";
import { AthenaClient } from "@aws-sdk/client-athena";
import { STSClient } from "@aws-sdk/client-sts";
import { Kafka, logLevel } from "kafkajs";
import { loadConfig } from "../../config.ts";
import {
  checkAthena,
  checkBroker,
  checkCredentials,
  checkGlue,
  checkS3,
  diagnoseAdvertised,
  explainError,
  formatReport,
  runDoctor,
} from "./doctor.ts";

function need(name: string): string {
  const value = Deno.env.get(name);
  if (!value) {
    throw new Error(
      `${name} is not set: run the tests with KAFKA_BROKERS=127.0.0.1:9092 AWS_ENDPOINT_URL=http://127.0.0.1:5000 ` +
        "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 (see `deno task up`).",
    );
  }
  return value;
}

const client = { region: "us-east-1", maxAttempts: 1 };
const moto = () => ({ ...client, endpoint: need("AWS_ENDPOINT_URL") });
const dead = { ...client, endpoint: "http://127.0.0.1:1" };
const s3 = (options: object) =>
  new S3Client({ ...options, forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED" });
const unique = () => crypto.randomUUID().slice(0, 8);

Deno.test("the broker check passes against a running broker with the topic", async () => {
  const brokers = need("KAFKA_BROKERS").split(",");
  const topic = `doctor-${unique()}`;
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const result = await checkBroker(brokers, { topic });
    assert.equal(result.status, "ok", formatReport([result]));
    assert.match(result.detail, new RegExp(`topic "${topic}" exists`));
    const missing = await checkBroker(brokers, { topic: `${topic}-missing` });
    assert.equal(missing.status, "fail");
    assert.match(missing.hint!, /created up front/);
    assert.match(missing.hint!, /`deno task up` does it locally/);
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  }
});

Deno.test("the broker check explains a refused connection", async () => {
  const result = await checkBroker(["127.0.0.1:1"]);
  assert.equal(result.status, "fail");
  assert.match(result.detail, /Cannot connect to 127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  assert.match(result.hint!, /`deno task up`/);
});

Deno.test("a SASL_SSL client that finds no broker is told to start the secure one", async () => {
  const result = await checkBroker(["127.0.0.1:1"], {
    security: { securityProtocol: "SASL_SSL", saslMechanism: "SCRAM-SHA-512" },
  });
  assert.equal(result.status, "fail");
  assert.match(result.hint!, /`deno task up --secure`/);
});

Deno.test("an advertised address the client cannot reach is blamed on advertised.listeners", () => {
  const text = diagnoseAdvertised("ec2-1-2-3-4.compute-1.amazonaws.com:9092", [
    { host: "ip-172-31-5-6.ec2.internal", port: 9092, error: "ENOTFOUND" },
  ]);
  assert.match(text!, /advertised\.listeners.*public DNS/);
  assert.equal(diagnoseAdvertised("a:9092", [{ host: "a", port: 9092 }]), undefined);
  assert.match(
    diagnoseAdvertised("a:9092", [{ host: "b.example.com", port: 9092, error: "ETIMEDOUT" }])!,
    /security group/,
  );
});

Deno.test("the AWS checks pass against moto when bucket, database, table and output exist", async () => {
  const bucket = `doctor-${unique()}`;
  const database = `doctor_${unique()}`;
  const s3Client = s3(moto());
  const glue = new GlueClient(moto());
  await s3Client.send(new CreateBucketCommand({ Bucket: bucket }));
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: database } }));
  await glue.send(
    new CreateTableCommand({ DatabaseName: database, TableInput: { Name: "ticks" } }),
  );
  try {
    assert.equal((await checkCredentials(new STSClient(moto()))).status, "ok");
    assert.equal((await checkS3(s3Client, `s3://${bucket}/lake`)).status, "ok");
    assert.equal((await checkGlue(glue, database, "ticks")).status, "ok");
    const athena = await checkAthena(new AthenaClient(moto()), "primary", `s3://${bucket}/out/`);
    assert.equal(athena.status, "ok", formatReport([athena]));

    const table = await checkGlue(glue, database, "nope");
    assert.equal(table.status, "fail");
    assert.match(table.hint!, /deno task crawl/);
  } finally {
    await glue.send(new DeleteDatabaseCommand({ Name: database })).catch(() => {});
    await s3Client.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => {});
  }
});

Deno.test("the AWS checks explain a missing bucket, database and result location", async () => {
  const bucket = await checkS3(s3(moto()), `s3://doctor-missing-${unique()}/x`);
  assert.equal(bucket.status, "fail");
  assert.match(bucket.hint!, /aws s3 mb/);
  const glue = await checkGlue(new GlueClient(moto()), `missing_${unique()}`, "ticks");
  assert.equal(glue.status, "fail");
  assert.match(glue.detail, /does not exist/);
  const athena = await checkAthena(new AthenaClient(moto()), "primary");
  assert.equal(athena.status, "fail");
  assert.match(athena.hint!, /ATHENA_OUTPUT=s3:\/\//);
});

Deno.test("every AWS check explains an unreachable endpoint", async () => {
  const results = [
    await checkCredentials(new STSClient(dead)),
    await checkS3(s3(dead), "s3://bucket/lake"),
    await checkGlue(new GlueClient(dead), "db", "t"),
    await checkAthena(new AthenaClient(dead), "primary", "s3://b/o/"),
  ];
  for (const result of results) {
    assert.equal(result.status, "fail", result.name);
    assert.match(result.hint!, /Connection refused.*AWS_ENDPOINT_URL/, result.name);
  }
});

Deno.test("runDoctor skips AWS for a local lake and reports each check", async () => {
  const config = loadConfig({ env: { KAFKA_BROKERS: "127.0.0.1:1" } });
  const results = await runDoctor(config, { sts: new STSClient(dead), s3: s3(dead) });
  assert.deepEqual(results.map((r) => [r.name, r.status]), [
    ["AWS credentials", "skip"],
    ["Kafka broker", "fail"],
    ["S3 lake", "skip"],
    ["Glue catalog", "skip"],
    ["Athena", "skip"],
  ]);
  assert.match(formatReport(results), /^fail Kafka broker: .*\n {7}→ /m);
});

Deno.test("explainError says what to do for credential, permission and network errors", () => {
  const named = (name: string, message = "m") => Object.assign(new Error(message), { name });
  assert.match(explainError(named("CredentialsProviderError")), /AWS_PROFILE/);
  assert.match(explainError(named("ExpiredToken")), /aws sso login/);
  assert.match(explainError(named("InvalidClientTokenId")), /rejected your credentials/);
  assert.match(explainError(named("AccessDenied")), /deno task iam/);
  assert.match(
    explainError(new Error("getaddrinfo ENOTFOUND sts.xx-east-9.amazonaws.com")),
    /check the region/,
  );
  assert.equal(explainError(new Error("something else")), "something else");
});

Deno.test("no log line of doctor, iam or ec2 apply/destroy carries the credentials", async () => {
  const endpoint = need("AWS_ENDPOINT_URL");
  const keyId = "AKIAZZZZSECRETKEYID1";
  const secret = `doctorSecret/${unique()}+${unique()}`;
  const token = `sessionToken${unique()}`;
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: keyId,
    AWS_SECRET_ACCESS_KEY: secret,
    AWS_SESSION_TOKEN: token,
    LAKE_URI: `s3://doctor-missing-${unique()}/lake`,
    KAFKA_BROKERS: "127.0.0.1:1",
    AWS_SDK_JS_LOG: "debug",
  };
  const name = `secret-test-${unique()}`;
  const script = (file: string) => new URL(`../../../scripts/${file}`, import.meta.url).pathname;
  await createInstanceProfile({ region: "us-east-1", endpoint }, name);
  const runs = [
    [script("doctor.ts")],
    [script("iam.ts")],
    [
      script("ec2.ts"),
      "apply",
      "--my-ip",
      "203.0.113.7",
      "--name",
      name,
      "--kafka-sha512",
      "ab".repeat(64),
    ],
    [script("ec2.ts"), "destroy", "--name", name],
    [script("ec2.ts"), "destroy", "--name", name, "--endpoint", "http://127.0.0.1:1"],
  ];
  let lines = 0;
  for (const args of runs) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    for (const line of text.split("\n")) {
      lines++;
      for (const value of [keyId, secret, token]) {
        assert.ok(!line.includes(value), `${args.join(" ")} logged a credential: ${line}`);
      }
    }
    if (args.includes("apply")) assert.match(text, /KAFKA_BROKERS=.+:9092/);
  }
  assert.ok(lines > 20, "the commands printed almost nothing: were they run?");
});
