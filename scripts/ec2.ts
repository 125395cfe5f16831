/**
 * `deno task ec2 plan|apply|destroy`: the Kafka broker on EC2.
 *
 *   deno task ec2 plan --my-ip 203.0.113.7            # prints what apply would create; changes nothing
 *   deno task ec2 plan --my-ip 203.0.113.7 --user-data | bash -n   # just the user-data script
 *   deno task ec2 apply [--my-ip …] [--key-name K]    # creates it, prints KAFKA_BROKERS=…
 *   deno task ec2 credentials                         # writes .cache/ec2/<name>/client.env + ca.pem
 *   deno task ec2 destroy                             # removes the instance and security group
 *
 * Credentials come only from the AWS SDK's default chain (env, profile, SSO, instance role).
 *
 * @module
 */

import { EC2Client } from "@aws-sdk/client-ec2";
import { SSMClient } from "@aws-sdk/client-ssm";
import { numberFlag, type ParsedFlags, runCommand, stringFlag, UsageError } from "../lib/cli.ts";
import { nameDeniedActions } from "../lib/aws_denied.ts";
import { configFlags, loadConfig } from "../lib/config.ts";
import { consoleLogger as console_ } from "../lib/log.ts";
import { redact, redactingLogger, secretsFromEnv } from "../lib/ops/aws/redact.ts";
import {
  applyEc2,
  DEFAULT_EC2_NAME,
  destroyEc2,
  Ec2Error,
  findBootstrap,
  formatPlan,
  planEc2,
} from "../lib/ops/aws/ec2.ts";
import { fetchKafkaCredentials, writeClientEnv } from "../lib/ops/aws/ssm_parameters.ts";
import { detectMyIp } from "../lib/ops/aws/my_ip.ts";
import { explainError } from "../lib/ops/aws/doctor.ts";

/** Progress on stderr, with any credential masked. */
const consoleLogger = redactingLogger(console_);

const COMMAND = {
  usage: "deno task ec2 <plan|apply|credentials|destroy> [flags]",
  about:
    `  plan         print what apply would create (security group, instance, user-data); changes nothing
  apply        create it (idempotent) and print the KAFKA_BROKERS bootstrap address
  credentials  fetch the broker's CA, user and password from SSM Parameter Store into
               .cache/ec2/<name>/client.env and ca.pem (source it, or pass --env-file)
  destroy      terminate the instance and delete the security group (deno task teardown removes
               everything the walkthrough created)`,
  flags: {
    "my-ip": {
      type: "string",
      description: "Your public address; 9092 (and 22 with --key-name) open to IP/32 only",
      default: "detected via https://checkip.amazonaws.com",
    },
    ...configFlags("region"),
    "instance-type": {
      type: "string",
      description: "t2.micro, t3.small, t3.medium, … (sets the heap)",
      default: "t3.small",
    },
    "key-name": {
      type: "string",
      description: "Existing EC2 key pair: enables SSH from your IP",
      default: "none (SSM)",
    },
    "instance-profile": {
      type: "string",
      description: "Existing instance profile with the producer-host policy (deno task iam)",
      default: "<name>-broker",
    },
    "kafka-sha512": {
      type: "string",
      description: "SHA-512 of the Kafka tarball, when lib/ops/aws/user_data.ts pins none",
      default: "the pinned one",
    },
    out: {
      type: "string",
      description: "credentials: folder for client.env and ca.pem",
      default: ".cache/ec2/<name>",
    },
    ami: { type: "string", description: "Fixed image", default: "latest Amazon Linux 2023" },
    name: {
      type: "string",
      description: "Name tag and security group name",
      default: DEFAULT_EC2_NAME,
    },
    "volume-gb": {
      type: "string",
      description: "Root volume size (gp3, encrypted)",
      default: "16",
    },
    partitions: {
      type: "string",
      description: "Partitions of stock_market and stock_market.dlq",
      default: "3",
    },
    json: { type: "boolean", description: "plan: print the plan as JSON" },
    "user-data": { type: "boolean", description: "plan: print only the user-data script" },
    ...configFlags("endpoint"),
  },
  positionals: true,
} as const;

function int(flag: string, value: ParsedFlags["values"][string]): number | undefined {
  return numberFlag(flag, value, { integer: true });
}

async function ec2({ values, positionals }: ParsedFlags): Promise<number> {
  const command = positionals[0];
  if (positionals.length !== 1 || !["plan", "apply", "credentials", "destroy"].includes(command)) {
    throw new UsageError(
      "Give one command: plan, apply, credentials or destroy (see deno task ec2 --help).",
    );
  }
  const config = loadConfig({ flags: { region: values.region, endpoint: values.endpoint } });
  const name = stringFlag("name", values.name) ?? DEFAULT_EC2_NAME;
  const client = () =>
    nameDeniedActions(
      new EC2Client({
        region: config.region,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      }),
    );

  const ssm = () =>
    nameDeniedActions(
      new SSMClient({
        region: config.region,
        ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      }),
    );
  if (command === "credentials") {
    const brokers = await findBootstrap(client(), name);
    if (!brokers) {
      throw new Ec2Error(
        `No running instance is tagged Name=${name}: run \`deno task ec2 apply\` first (or pass its --name).`,
      );
    }
    const credentials = await fetchKafkaCredentials(ssm(), name);
    const { envFile, caFile } = await writeClientEnv({
      dir: stringFlag("out", values.out) ?? `.cache/ec2/${name}`,
      brokers,
      credentials,
    });
    console.log(
      `Wrote ${envFile} (KAFKA_BROKERS=${brokers}, SASL_SSL, SCRAM-SHA-512, user ${credentials.username}) and ${caFile}.\n` +
        `Use it with: set -a; source ${envFile}; set +a   (the password is not printed)`,
    );
    return 0;
  }

  if (command === "destroy") {
    const result = await destroyEc2(name, { client: client(), logger: consoleLogger });
    console.log(
      `Destroyed: ${result.instances.length} instance(s) ${result.instances.join(" ")}, ` +
        `${result.securityGroups.length} security group(s) ${result.securityGroups.join(" ")}`,
    );
    return 0;
  }

  const myIp = stringFlag("my-ip", values["my-ip"]) ?? await detectMyIp();
  const plan = planEc2({
    myIp,
    region: config.region,
    instanceType: stringFlag("instance-type", values["instance-type"]),
    keyName: stringFlag("key-name", values["key-name"]),
    instanceProfile: stringFlag("instance-profile", values["instance-profile"]),
    ami: stringFlag("ami", values.ami),
    name,
    volumeGb: int("volume-gb", values["volume-gb"]),
    partitions: int("partitions", values.partitions),
    kafkaSha512: stringFlag("kafka-sha512", values["kafka-sha512"]),
  });
  if (command === "plan") {
    if (values["user-data"]) console.log(plan.instance.userData.trimEnd());
    else if (values.json) console.log(JSON.stringify(plan, null, 2));
    else console.log(formatPlan(plan, { userData: true }).trimEnd());
    return 0;
  }
  consoleLogger.info(formatPlan(plan).trimEnd());
  const deployment = await applyEc2(plan, {
    client: client(),
    ssm: ssm(),
    logger: consoleLogger,
  });
  consoleLogger.info(
    `Instance ${deployment.instanceId} runs ${deployment.ami}. Kafka needs 2-4 minutes after boot to ` +
      "install and start; then `deno task ec2 credentials` fetches its CA and password.",
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
  runCommand(COMMAND, ec2, { explain: (error) => redact(explainError(error), secretsFromEnv()) });
}
