/**
 * `deno task teardown`: removes everything the README's AWS walkthrough created — the EC2
 * instance and security group, the broker's SSM parameters, the Glue crawler, table and database,
 * the Athena results under the project's results prefix — after listing it. Lake data only with
 * `--include-lake`. Nothing is removed without `--yes`.
 *
 *   deno task teardown                    # lists what would be removed; changes nothing
 *   deno task teardown --yes              # removes it
 *   deno task teardown --include-lake --yes
 *
 * Credentials come only from the AWS SDK's default chain (the ec2-operator policy of
 * `deno task iam` covers it).
 *
 * @module
 */

import { EC2Client } from "@aws-sdk/client-ec2";
import { GlueClient } from "@aws-sdk/client-glue";
import { SSMClient } from "@aws-sdk/client-ssm";
import { type ParsedFlags, runCommand, stringFlag } from "../lib/cli.ts";
import { nameDeniedActions } from "../lib/aws_denied.ts";
import { configFlags, loadConfig } from "../lib/config.ts";
import { parseS3Uri } from "../lib/lake/layout.ts";
import { S3Store } from "../lib/lake/s3_store.ts";
import { consoleLogger as console_ } from "../lib/log.ts";
import { explainError } from "../lib/ops/aws/doctor.ts";
import { DEFAULT_EC2_NAME } from "../lib/ops/aws/ec2.ts";
import { redact, redactingLogger, secretsFromEnv } from "../lib/ops/aws/redact.ts";
import { describeItem, planTeardown, runTeardown } from "../lib/ops/aws/teardown.ts";

const consoleLogger = redactingLogger(console_);

const COMMAND = {
  usage: "deno task teardown [--yes] [--include-lake] [flags]",
  about: "Lists every AWS resource the walkthrough created that still exists; with --yes removes " +
    "them (instance, security group, SSM parameters, Glue crawler/table/database, Athena results).",
  flags: {
    yes: { type: "boolean", description: "Remove what is listed (without it nothing changes)" },
    "include-lake": { type: "boolean", description: "Also delete every object of the lake" },
    name: {
      type: "string",
      description: "The EC2 deployment (deno task ec2 --name)",
      default: DEFAULT_EC2_NAME,
    },
    "crawler-name": {
      type: "string",
      description: "Name of the Glue crawler",
      default: "<database>_<table>",
    },
    ...configFlags("lake", "region", "endpoint", "database", "table", "athenaOutput"),
  },
} as const;

async function teardown({ values }: ParsedFlags): Promise<number> {
  const config = loadConfig({ flags: values });
  const aws = {
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  };
  const clients = {
    ec2: nameDeniedActions(new EC2Client(aws)),
    ssm: nameDeniedActions(new SSMClient(aws)),
    glue: nameDeniedActions(new GlueClient(aws)),
    s3: (uri: string) => {
      const { bucket, prefix } = parseS3Uri(uri)!;
      return new S3Store({ bucket, prefix, region: config.region, endpoint: config.endpoint });
    },
  };
  const name = stringFlag("name", values.name) ?? DEFAULT_EC2_NAME;
  const plan = await planTeardown(clients, config, {
    name,
    crawlerName: stringFlag("crawler-name", values["crawler-name"]),
    includeLake: values["include-lake"] === true,
  });
  const listing = [
    plan.items.length === 0
      ? `Nothing of the walkthrough (deployment ${name}) is left in ${config.region}.`
      : `In ${config.region}, teardown removes:`,
    ...plan.items.map((item) => `  - ${describeItem(item)}`),
    ...(plan.kept.length > 0 ? ["It keeps:", ...plan.kept.map((k) => `  - ${k}`)] : []),
  ];
  console.log(listing.join("\n"));
  if (plan.items.length === 0) return 0;
  if (values.yes !== true) {
    console.log("Nothing was removed. Run again with --yes to remove the above.");
    return 0;
  }
  await runTeardown(clients, plan, { logger: consoleLogger });
  console.log(`Removed ${plan.items.length} item(s).`);
  return 0;
}

if (import.meta.main) {
  runCommand(COMMAND, teardown, {
    explain: (error) => redact(explainError(error), secretsFromEnv()),
  });
}
