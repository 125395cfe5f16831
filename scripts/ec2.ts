/**
 * `deno task ec2 plan|apply|destroy`: the Kafka broker on EC2.
 *
 *   deno task ec2 plan --my-ip 203.0.113.7            # prints what apply would create; changes nothing
 *   deno task ec2 plan --my-ip 203.0.113.7 --user-data | bash -n   # just the user-data script
 *   deno task ec2 apply [--my-ip …] [--key-name K]    # creates it, prints KAFKA_BROKERS=…
 *   deno task ec2 destroy                             # removes everything apply created
 *
 * Credentials come only from the AWS SDK's default chain (env, profile, SSO, instance role).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { EC2Client } from "@aws-sdk/client-ec2";
import { loadConfig } from "../lib/config.ts";
import { consoleLogger as console_ } from "../lib/log.ts";
import { redactingLogger } from "../lib/ops/redact.ts";
import { applyEc2, DEFAULT_EC2_NAME, destroyEc2, formatPlan, planEc2 } from "../lib/ops/ec2.ts";
import { detectMyIp } from "../lib/ops/my_ip.ts";
import { explainError } from "../lib/ops/doctor.ts";

/** Progress on stderr, with any credential masked. */
const consoleLogger = redactingLogger(console_);

const USAGE = `Usage: deno task ec2 <plan|apply|destroy> [options]

  plan      print what apply would create (security group, instance, user-data); changes nothing
  apply     create it (idempotent) and print the KAFKA_BROKERS bootstrap address
  destroy   terminate the instance and delete the security group (everything tagged by apply)

Options:
  --my-ip IP              your public address; 9092 (and 22 with --key-name) open to IP/32 only.
                          Detected via https://checkip.amazonaws.com when omitted.
  --region R              AWS region (env AWS_REGION)                       default us-east-1
  --instance-type T       t2.micro, t3.small, t3.medium, … (sets the heap)  default t3.small
  --key-name K            existing EC2 key pair: enables SSH from your IP   default none (SSM)
  --instance-profile P    existing instance profile for SSM Session Manager default none
  --ami ami-…             fixed image                default latest Amazon Linux 2023
  --name N                Name tag and security group name                  default ${DEFAULT_EC2_NAME}
  --volume-gb N           root volume size (gp3, encrypted)                 default 16
  --partitions N          partitions of stock_market and stock_market.dlq  default 3
  --json                  plan: print the plan as JSON
  --user-data             plan: print only the user-data script
  --endpoint URL          AWS endpoint of an emulator such as moto (env AWS_ENDPOINT_URL)
`;

function int(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new Error(`--${flag} must be a whole number, got "${value}".`);
  return Number(value);
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "my-ip": { type: "string" },
      region: { type: "string" },
      endpoint: { type: "string" },
      "instance-type": { type: "string" },
      "key-name": { type: "string" },
      "instance-profile": { type: "string" },
      ami: { type: "string" },
      name: { type: "string" },
      "volume-gb": { type: "string" },
      partitions: { type: "string" },
      json: { type: "boolean" },
      "user-data": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const command = positionals[0];
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !["plan", "apply", "destroy"].includes(command)) {
    console.error(`error: expected one of plan, apply, destroy.\n\n${USAGE}`);
    return 2;
  }
  const config = loadConfig({ flags: { region: values.region, endpoint: values.endpoint } });
  const name = values.name ?? DEFAULT_EC2_NAME;
  const client = () =>
    new EC2Client({
      region: config.region,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    });

  if (command === "destroy") {
    const result = await destroyEc2(name, { client: client(), logger: consoleLogger });
    console.log(
      `Destroyed: ${result.instances.length} instance(s) ${result.instances.join(" ")}, ` +
        `${result.securityGroups.length} security group(s) ${result.securityGroups.join(" ")}`,
    );
    return 0;
  }

  const myIp = values["my-ip"] ?? await detectMyIp();
  const plan = planEc2({
    myIp,
    region: config.region,
    instanceType: values["instance-type"],
    keyName: values["key-name"],
    instanceProfile: values["instance-profile"],
    ami: values.ami,
    name,
    volumeGb: int(values["volume-gb"], "volume-gb"),
    partitions: int(values.partitions, "partitions"),
  });
  if (command === "plan") {
    if (values["user-data"]) console.log(plan.instance.userData.trimEnd());
    else if (values.json) console.log(JSON.stringify(plan, null, 2));
    else console.log(formatPlan(plan, { userData: true }).trimEnd());
    return 0;
  }
  consoleLogger.info(formatPlan(plan).trimEnd());
  const deployment = await applyEc2(plan, { client: client(), logger: consoleLogger });
  consoleLogger.info(
    `Instance ${deployment.instanceId} runs ${deployment.ami}. Kafka needs 2-4 minutes after boot to ` +
      "install and start; `deno task doctor` tells you when it answers.",
  );
  if (!deployment.bootstrap) {
    consoleLogger.error(
      "The instance has no public DNS name, so there is no address to give clients.",
    );
    return 1;
  }
  console.log(`KAFKA_BROKERS=${deployment.bootstrap}`);
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
