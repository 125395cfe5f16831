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

import { parseArgs } from "node:util";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { loadConfig } from "../lib/config.ts";
import { consoleLogger } from "../lib/log.ts";
import { buildPolicies } from "../lib/ops/iam.ts";
import { explainError, parseS3Uri } from "../lib/ops/doctor.ts";

const NAMES = ["producer-host", "consumer", "glue-crawler", "athena-query"];

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      lake: { type: "string" },
      region: { type: "string" },
      endpoint: { type: "string" },
      database: { type: "string" },
      table: { type: "string" },
      workgroup: { type: "string" },
      "athena-output": { type: "string" },
      "account-id": { type: "string" },
      only: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      `Usage: deno task iam [--lake s3://bucket/prefix] [--account-id 123456789012] [--only ${
        NAMES.join("|")
      }] [--json]\n` +
        "Prints one policy document per role; with --only, just that policy's JSON (ready for `aws iam create-policy --policy-document file://…`).",
    );
    return 0;
  }
  if (values.only !== undefined && !NAMES.includes(values.only)) {
    console.error(`error: --only must be one of ${NAMES.join(", ")}, got "${values.only}".`);
    return 2;
  }
  const config = loadConfig({ flags: values });
  let accountId = values["account-id"];
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
  const policies = buildPolicies(config, { accountId });
  if (values.only) {
    console.log(JSON.stringify(policies.find((p) => p.name === values.only)!.policy, null, 2));
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
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    consoleLogger.error(explainError(error));
    Deno.exit(1);
  }
}
