/**
 * `deno task iam`: prints the least-privilege IAM policies of the pipeline, scoped to the configured
 * lake (LAKE_URI=s3://bucket/prefix), Glue database/table and Athena workgroup/output.
 *
 *   deno task iam --lake s3://my-lake/stock --account-id 123456789012
 *   deno task iam --only consumer > consumer-policy.json
 *
 * Without --account-id the account is read with STS GetCallerIdentity (default credential chain).
 *
 * @module
 */

import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { choiceFlag, type ParsedFlags, runCommand, stringFlag } from "../lib/cli.ts";
import { configFlags, loadConfig } from "../lib/config.ts";
import { buildPolicies, DEFAULT_CRAWLER_ROLE, POLICY_NAMES } from "../lib/ops/aws/iam.ts";
import { DEFAULT_EC2_NAME } from "../lib/ops/aws/ec2.ts";
import { explainError } from "../lib/ops/aws/doctor.ts";
import { parseS3Uri } from "../lib/lake/layout.ts";
import { redact, secretsFromEnv } from "../lib/ops/aws/redact.ts";

const NAMES = POLICY_NAMES;

const COMMAND = {
  usage: "deno task iam [flags]",
  about: "Prints one policy document per role; with --only, just that policy's JSON (ready for " +
    "`aws iam create-policy --policy-document file://…`).",
  flags: {
    ...configFlags("lake", "region", "endpoint", "database", "table", "workgroup", "athenaOutput"),
    "account-id": {
      type: "string",
      description: "AWS account of the policies' ARNs",
      default: "the caller's, from STS GetCallerIdentity",
    },
    only: { type: "string", description: `Print just one policy: ${NAMES.join(", ")}` },
    name: {
      type: "string",
      description: "The EC2 deployment (deno task ec2 --name): its role and parameters",
      default: DEFAULT_EC2_NAME,
    },
    "crawler-role": {
      type: "string",
      description: "Role name of the Glue crawler",
      default: DEFAULT_CRAWLER_ROLE,
    },
    "crawler-name": {
      type: "string",
      description: "Name of the Glue crawler",
      default: "<database>_<table>",
    },
    json: { type: "boolean", description: "Print all policies as one JSON document" },
  },
} as const;

async function iam({ values }: ParsedFlags): Promise<number> {
  const only = choiceFlag("only", values.only, NAMES);
  const config = loadConfig({ flags: values });
  let accountId = stringFlag("account-id", values["account-id"]);
  if (accountId === undefined && parseS3Uri(config.lake) === undefined) {
    buildPolicies(config, { accountId: "000000000000" }); // says the lake must be in S3
  }
  if (accountId === undefined) {
    const sts = new STSClient({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    });
    accountId = (await sts.send(new GetCallerIdentityCommand({}))).Account ?? "";
  }
  const policies = buildPolicies(config, {
    accountId,
    ec2Name: stringFlag("name", values.name),
    crawlerRole: stringFlag("crawler-role", values["crawler-role"]),
    crawlerName: stringFlag("crawler-name", values["crawler-name"]),
  });
  if (only) {
    console.log(JSON.stringify(policies.find((p) => p.name === only)!.policy, null, 2));
    return 0;
  }
  if (values.json) {
    console.log(JSON.stringify(policies, null, 2));
    return 0;
  }
  for (const p of policies) {
    console.log(`# ${p.name}: ${p.purpose}`);
    if (p.trust) {
      console.log(`## trust policy (role assumed by ${p.trust.Statement[0].Principal.Service})`);
      console.log(JSON.stringify(p.trust, null, 2));
    }
    console.log("## permissions");
    console.log(JSON.stringify(p.policy, null, 2));
    console.log("");
  }
  return 0;
}

if (import.meta.main) {
  runCommand(COMMAND, iam, { explain: (error) => redact(explainError(error), secretsFromEnv()) });
}
