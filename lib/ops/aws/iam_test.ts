import assert from "node:assert/strict";
import { loadConfig } from "../../config.ts";
import { buildPolicies, type PolicyDocument, PolicyError, validatePolicy } from "./iam.ts";

const ACCOUNT = "123456789012";
const config = loadConfig({
  env: { LAKE_URI: "s3://my-lake/stock", AWS_REGION: "eu-west-1", ATHENA_WORKGROUP: "analysts" },
});
const byName = (name: string) =>
  buildPolicies(config, { accountId: ACCOUNT }).find((p) => p.name === name)!;
const statements = (name: string) => byName(name).policy.Statement;

Deno.test("the consumer may put objects only under the lake prefix", () => {
  const puts = statements("consumer").filter((s) => s.Action.includes("s3:PutObject"));
  assert.equal(puts.length, 1);
  assert.deepEqual(puts[0].Resource, ["arn:aws:s3:::my-lake/stock/*"]);
  const actions = statements("consumer").flatMap((s) => s.Action).sort();
  assert.deepEqual(actions, [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:PutObject",
  ]);
  const checkpoint = statements("consumer").find((s) => s.Action.includes("s3:GetObject"))!;
  assert.deepEqual(checkpoint.Resource, ["arn:aws:s3:::my-lake/stock/_sink/*"]);
  const list = statements("consumer").find((s) => s.Action.includes("s3:ListBucket"))!;
  assert.deepEqual(list.Resource, ["arn:aws:s3:::my-lake"]);
  assert.deepEqual(list.Condition, { StringLike: { "s3:prefix": ["stock/*", "stock"] } });
});

Deno.test("Athena queries are scoped to the workgroup ARN and results to the output prefix", () => {
  const run = statements("athena-query").find((s) =>
    s.Action.includes("athena:StartQueryExecution")
  )!;
  assert.deepEqual(run.Resource, ["arn:aws:athena:eu-west-1:123456789012:workgroup/analysts"]);
  const write = statements("athena-query").find((s) => s.Action.includes("s3:PutObject"))!;
  assert.deepEqual(write.Resource, ["arn:aws:s3:::my-lake/athena-results/*"]);
});

Deno.test("the Glue crawler role is assumable by Glue and writes only the pipeline's table", () => {
  const crawler = byName("glue-crawler");
  assert.equal(crawler.trust?.Statement[0].Principal.Service, "glue.amazonaws.com");
  const catalog = crawler.policy.Statement.find((s) => s.Action.includes("glue:CreateTable"))!;
  assert.deepEqual(catalog.Resource, [
    "arn:aws:glue:eu-west-1:123456789012:catalog",
    "arn:aws:glue:eu-west-1:123456789012:database/stock_market",
    "arn:aws:glue:eu-west-1:123456789012:table/stock_market/ticks",
  ]);
});

Deno.test("only Session Manager and EC2 Describe actions, which AWS cannot scope, use Resource *", () => {
  for (const policy of buildPolicies(config, { accountId: ACCOUNT })) {
    for (const s of policy.policy.Statement) {
      assert.ok(
        s.Action.every((a) => a !== "*" && !a.endsWith(":*")),
        `${policy.name}: ${s.Action}`,
      );
      if (s.Resource === "*") {
        assert.ok(
          s.Action.every((a) =>
            /^(ssm:UpdateInstanceInformation|ssmmessages:|ec2:Describe)/.test(a)
          ),
          `${policy.name}: ${s.Action}`,
        );
      }
    }
  }
  assert.equal(byName("producer-host").trust?.Statement[0].Principal.Service, "ec2.amazonaws.com");
});

Deno.test("validatePolicy rejects wildcard actions, Resource * on scopable actions and non-ARNs", () => {
  const base = (statement: object): PolicyDocument =>
    ({
      Version: "2012-10-17",
      Statement: [{ Sid: "S", Effect: "Allow", ...statement }],
    }) as PolicyDocument;
  assert.throws(
    () => validatePolicy(base({ Action: ["*"], Resource: ["arn:aws:s3:::b/*"] })),
    /wildcard/,
  );
  assert.throws(
    () => validatePolicy(base({ Action: ["s3:*"], Resource: ["arn:aws:s3:::b/*"] })),
    /wildcard/,
  );
  assert.throws(
    () => validatePolicy(base({ Action: ["s3:PutObject"], Resource: "*" })),
    /can be scoped/,
  );
  assert.throws(
    () => validatePolicy(base({ Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::*"] })),
    /whole service/,
  );
  assert.throws(
    () => validatePolicy(base({ Action: ["s3:PutObject"], Resource: ["my-bucket"] })),
    /not an ARN/,
  );
  assert.throws(() => validatePolicy({ Version: "2012-10-17", Statement: [] }), PolicyError);
  validatePolicy(base({ Action: ["s3:PutObject"], Resource: ["arn:aws:s3:::b/p/*"] }));
});

Deno.test("buildPolicies refuses a local lake and a malformed account id", () => {
  assert.throws(
    () => buildPolicies(loadConfig({ env: {} }), { accountId: ACCOUNT }),
    /local folder.*LAKE_URI=s3/,
  );
  assert.throws(() => buildPolicies(config, { accountId: "12" }), /not 12 digits/);
});

Deno.test("a bucket-wide lake and China regions get the right ARNs", () => {
  const cn = loadConfig({ env: { LAKE_URI: "s3://lake-bucket", AWS_REGION: "cn-north-1" } });
  const consumer = buildPolicies(cn, { accountId: ACCOUNT }).find((p) => p.name === "consumer")!;
  assert.deepEqual(consumer.policy.Statement[0].Resource, ["arn:aws-cn:s3:::lake-bucket/*"]);
  assert.deepEqual(consumer.policy.Statement[1].Resource, ["arn:aws-cn:s3:::lake-bucket/_sink/*"]);
  assert.equal(consumer.policy.Statement[2].Condition, undefined);
});

Deno.test("deno task iam prints a policy for every role, in order", () => {
  assert.deepEqual(buildPolicies(config, { accountId: ACCOUNT }).map((p) => p.name), [
    "producer-host",
    "consumer",
    "glue-crawler",
    "catalog",
    "athena-query",
    "ec2-operator",
  ]);
});

Deno.test("Athena's results bucket is listed under the results prefix only", () => {
  const list = statements("athena-query").filter((s) =>
    s.Action.includes("s3:ListBucket") && s.Resource.includes("arn:aws:s3:::my-lake")
  );
  assert.deepEqual(list.map((s) => s.Condition), [
    { StringLike: { "s3:prefix": ["stock/*", "stock"] } },
    { StringLike: { "s3:prefix": ["athena-results/*", "athena-results"] } },
  ]);
});

Deno.test("the instance role may put only its own deployment's parameters; the operator may pass only it, to EC2 only", () => {
  const policies = buildPolicies(config, { accountId: ACCOUNT, ec2Name: "demo" });
  const host = policies.find((p) => p.name === "producer-host")!.policy.Statement;
  assert.deepEqual(host.find((s) => s.Action.includes("ssm:PutParameter"))!.Resource, [
    "arn:aws:ssm:eu-west-1:123456789012:parameter/stock-market-pipeline/demo/kafka/*",
  ]);
  const operator = policies.find((p) => p.name === "ec2-operator")!.policy.Statement;
  const pass = operator.find((s) => s.Action.includes("iam:PassRole"))!;
  assert.deepEqual(pass.Resource, ["arn:aws:iam::123456789012:role/demo-broker"]);
  assert.deepEqual(pass.Condition, {
    StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" },
  });
  const terminate = operator.find((s) => s.Action.includes("ec2:TerminateInstances"))!;
  assert.deepEqual(terminate.Condition, {
    StringEquals: { "aws:ResourceTag/Project": "stock-market-pipeline" },
  });
});

Deno.test("the catalog policy passes only the crawler role, to Glue only", () => {
  const pass = statements("catalog").find((s) => s.Action.includes("iam:PassRole"))!;
  assert.deepEqual(pass.Resource, ["arn:aws:iam::123456789012:role/stock-market-glue-crawler"]);
  const crawler = statements("catalog").find((s) => s.Action.includes("glue:StartCrawler"))!;
  assert.deepEqual(crawler.Resource, [
    "arn:aws:glue:eu-west-1:123456789012:crawler/stock_market_ticks",
  ]);
});
