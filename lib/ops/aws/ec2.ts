/**
 * The Kafka broker on EC2, as data: {@linkcode planEc2} builds a {@linkcode Ec2Plan} (a security
 * group and one instance) without touching AWS, {@linkcode formatPlan} prints it,
 * {@linkcode applyEc2} creates what is missing and {@linkcode destroyEc2} removes everything it
 * created. Resources are found again by their tags (`Project=stock-market-pipeline` and `Name`),
 * so apply can be run twice and destroy needs no state file.
 *
 * Safety rules built in: inbound traffic is opened only to the caller's address as a /32 (never
 * to the world), and there only to the broker's SASL_SSL listener (see `user_data.ts`); IMDSv2 is
 * required, the root volume is encrypted, T-family instances run with standard CPU credits (no
 * "unlimited" surcharge), every resource is tagged. The instance gets the role `<name>-broker`
 * (the `producer-host` policy of `deno task iam`), which lets it store the broker's CA and
 * credentials in Parameter Store.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type Instance,
  type IpPermission,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  type Tag,
  TerminateInstancesCommand,
  waitUntilInstanceRunning,
  waitUntilInstanceTerminated,
} from "@aws-sdk/client-ec2";
import { heapForInstanceType } from "../broker_config.ts";
import { toHostCidr } from "./my_ip.ts";
import { kafkaParameterPath } from "./ssm_parameters.ts";
import { KAFKA_TARBALL_SHA512, renderUserData, UNPINNED_KAFKA } from "./user_data.ts";
import { instanceRoleName } from "./iam.ts";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { type Logger, silentLogger } from "../../log.ts";
import { sleep } from "../../time.ts";

/** The tag every resource of this project carries; destroy only ever touches resources with it. */
export const PROJECT_TAG = { key: "Project", value: "stock-market-pipeline" } as const;

/** The default `Name` tag (and security group name) of the broker. */
export const DEFAULT_EC2_NAME = "stock-market-kafka";

/** The default instance type: 2 GiB of memory, room for a 768 MiB broker heap. */
export const DEFAULT_INSTANCE_TYPE = "t3.small";

/**
 * Approximate on-demand price in USD per hour **in us-east-1** (Linux), to put a number on the
 * plan; other regions differ (often 10-30% more). Check
 * https://aws.amazon.com/ec2/pricing/on-demand/ for your region.
 */
export const APPROX_HOURLY_USD: Readonly<Record<string, number>> = {
  "t2.micro": 0.0116,
  "t3.micro": 0.0104,
  "t4g.micro": 0.0084,
  "t2.small": 0.023,
  "t3.small": 0.0208,
  "t4g.small": 0.0168,
  "t3.medium": 0.0416,
  "t3.large": 0.0832,
  "m5.large": 0.096,
};

/** Approximate monthly USD for a gp3 GiB and for a public IPv4 address (charged since 2024). */
export const APPROX_MONTHLY_USD = { gp3PerGiB: 0.08, publicIpv4: 3.65 } as const;

/** Raised when the plan cannot be built or applied; the message says what to do. */
export class Ec2Error extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "Ec2Error";
  }
}

/** Options of {@linkcode planEc2}. */
export interface Ec2PlanOptions {
  /** The caller's public address (`203.0.113.7` or `203.0.113.7/32`); the only source let in. */
  myIp: string;
  /** AWS region. */
  region: string;
  /** Instance type; sets the broker heap. @default {"t3.small"} */
  instanceType?: string;
  /** An existing EC2 key pair: opens SSH (port 22) to `myIp`. Without it there is no SSH. */
  keyName?: string;
  /**
   * The instance profile holding the `producer-host` policy of `deno task iam` (stores the broker's
   * credentials in Parameter Store; Session Manager). @default {"<name>-broker"}
   */
  instanceProfile?: string;
  /** The Kafka tarball's SHA-512, when `user_data.ts` has none pinned. */
  kafkaSha512?: string;
  /** A fixed AMI id; by default the latest Amazon Linux 2023, from its public SSM parameter, at apply. */
  ami?: string;
  /** `Name` tag and security group name. @default {"stock-market-kafka"} */
  name?: string;
  /** Root volume size in GiB (gp3, encrypted). @default {16} */
  volumeGb?: number;
  /** Topics the user-data creates. @default {["stock_market", "stock_market.dlq"]} */
  topics?: string[];
  /** Partitions per topic. @default {3} */
  partitions?: number;
}

/** One inbound rule of the security group. */
export interface IngressRule {
  /** TCP port. */
  port: number;
  /** The only source allowed: a single host (`/32` or `/128`). */
  cidr: string;
  /** Why the port is open (becomes the rule's description). */
  description: string;
}

/** Everything `apply` would create, and how. Built without calling AWS. */
export interface Ec2Plan {
  /** Region the resources go to. */
  region: string;
  /** `Name` tag and security group name. */
  name: string;
  /** Tags put on every resource (security group, instance, volume). */
  tags: Record<string, string>;
  /** The security group, in the region's default VPC. */
  securityGroup: {
    /** Group name. */
    name: string;
    /** Group description. */
    description: string;
    /** Inbound rules; nothing else is let in. Outbound keeps the AWS default (all). */
    ingress: IngressRule[];
  };
  /** The broker instance. */
  instance: {
    /** Instance type. */
    instanceType: string;
    /** Broker heap in MiB for that type. */
    heapMb: number;
    /** AMI id, or `undefined` to resolve the latest Amazon Linux 2023 at apply. */
    ami?: string;
    /** CPU architecture of the AMI to look up. */
    architecture: "x86_64" | "arm64";
    /** Key pair for SSH, if any. */
    keyName?: string;
    /** Instance profile name. */
    instanceProfile: string;
    /** `standard` for T-family types (no "unlimited" CPU credit charges); none for others. */
    cpuCredits?: "standard";
    /** How to get a shell: SSH with the key pair, or SSM Session Manager. */
    access: "ssh" | "ssm";
    /** Root volume size in GiB. */
    volumeGb: number;
    /** Always `required`: IMDSv2 only, hop limit 1. */
    httpTokens: "required";
    /** The user-data script the instance runs at first boot. */
    userData: string;
    /** Whether the user data checks Kafka against a known SHA-512; apply refuses when not. */
    kafkaPinned: boolean;
  };
}

/**
 * The public SSM parameter that names the latest Amazon Linux 2023 AMI (standard, not minimal)
 * for an architecture; AWS keeps it current in every region.
 */
export function amazonLinux2023Parameter(architecture: "x86_64" | "arm64"): string {
  return `/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${architecture}`;
}

/**
 * Builds the plan. Pure: no network, no credentials.
 *
 * @example
 * ```ts
 * import { planEc2 } from "./ec2.ts";
 * const plan = planEc2({ myIp: "203.0.113.7", region: "us-east-1" });
 * plan.securityGroup.ingress[0]; // { port: 9092, cidr: "203.0.113.7/32", description: "…" }
 * ```
 * @throws {Ec2Error} for a bad name, volume size or AMI id; {@linkcode MyIpError} for a bad address;
 * `BrokerConfigError` for an unsupported instance type.
 */
export function planEc2(options: Ec2PlanOptions): Ec2Plan {
  const cidr = toHostCidr(options.myIp);
  const name = options.name ?? DEFAULT_EC2_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) {
    throw new Ec2Error(
      `--name "${name}" is not valid: use up to 63 letters, digits, '.', '_' or '-'.`,
    );
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(options.region)) {
    throw new Ec2Error(`Region "${options.region}" is not valid: pass one like us-east-1.`);
  }
  const instanceType = options.instanceType ?? DEFAULT_INSTANCE_TYPE;
  const { heapMb } = heapForInstanceType(instanceType);
  const volumeGb = options.volumeGb ?? 16;
  if (!Number.isInteger(volumeGb) || volumeGb < 8 || volumeGb > 1024) {
    throw new Ec2Error(`--volume-gb must be a whole number from 8 to 1024, got ${volumeGb}.`);
  }
  if (options.ami !== undefined && !/^ami-[0-9a-f]{8,17}$/.test(options.ami)) {
    throw new Ec2Error(
      `--ami "${options.ami}" is not an AMI id: pass one like ami-0abcdef1234567890.`,
    );
  }
  if (options.keyName !== undefined && !/^[\x20-\x7e]{1,255}$/.test(options.keyName)) {
    throw new Ec2Error(`--key-name "${options.keyName}" is not a key pair name.`);
  }
  if (
    options.instanceProfile !== undefined && !/^[\w+=,.@-]{1,128}$/.test(options.instanceProfile)
  ) {
    throw new Ec2Error(
      `--instance-profile "${options.instanceProfile}" is not an instance profile name.`,
    );
  }
  const ingress: IngressRule[] = [{
    port: 9092,
    cidr,
    description: "Kafka clients (EXTERNAL listener) from your address only",
  }];
  if (options.keyName) {
    ingress.push({ port: 22, cidr, description: `SSH with key pair ${options.keyName}` });
  }
  const family = instanceType.split(".")[0];
  const instanceProfile = options.instanceProfile ?? instanceRoleName(name);
  return {
    region: options.region,
    name,
    tags: { [PROJECT_TAG.key]: PROJECT_TAG.value, Name: name, ManagedBy: "deno task ec2" },
    securityGroup: {
      name,
      description: "Kafka broker of the stock market pipeline; open to one address only",
      ingress,
    },
    instance: {
      instanceType,
      heapMb,
      ami: options.ami,
      architecture: /\dg/.test(family) ? "arm64" : "x86_64",
      keyName: options.keyName,
      instanceProfile,
      ...(/^t\d/.test(family) ? { cpuCredits: "standard" as const } : {}),
      access: options.keyName ? "ssh" : "ssm",
      volumeGb,
      httpTokens: "required",
      userData: renderUserData({
        instanceType,
        topics: options.topics,
        partitions: options.partitions,
        name,
        kafkaSha512: options.kafkaSha512,
        allowUnpinned: true,
      }),
      kafkaPinned: (options.kafkaSha512 ?? KAFKA_TARBALL_SHA512).trim() !== "",
    },
  };
}

/**
 * Prints the plan for people: every resource, rule and setting, and a rough cost. The user-data
 * script is printed after a `--- user-data ---` line when `userData` is true.
 */
export function formatPlan(plan: Ec2Plan, options: { userData?: boolean } = {}): string {
  const { instance, securityGroup } = plan;
  const hourly = APPROX_HOURLY_USD[instance.instanceType];
  const monthlyFixed = instance.volumeGb * APPROX_MONTHLY_USD.gp3PerGiB +
    APPROX_MONTHLY_USD.publicIpv4;
  const cost = hourly === undefined
    ? `see https://aws.amazon.com/ec2/pricing/on-demand/ for ${instance.instanceType}, plus ~$${
      monthlyFixed.toFixed(2)
    }/month for disk and public IPv4`
    : `~$${hourly.toFixed(4)}/hour for ${instance.instanceType} (~$${
      (hourly * 730).toFixed(2)
    }/month running) + ~$${
      monthlyFixed.toFixed(2)
    }/month for the disk and public IPv4 (us-east-1 on-demand prices${
      plan.region === "us-east-1" ? "" : `; ${plan.region} differs, see the pricing page`
    })`;
  const access = instance.access === "ssh"
    ? `SSH as ec2-user with key pair "${instance.keyName}" from ${securityGroup.ingress[0].cidr}`
    : `no SSH; SSM Session Manager through instance profile "${instance.instanceProfile}"`;
  const lines = [
    `Plan for ${plan.region} (nothing has been changed; \`deno task ec2 apply\` with the same flags creates this):`,
    "",
    `+ security group "${securityGroup.name}" in the default VPC`,
    ...securityGroup.ingress.map((r) =>
      `    inbound  tcp ${String(r.port).padEnd(5)} from ${r.cidr}  (${r.description})`
    ),
    "    inbound  nothing else",
    "    outbound all (the AWS default rule): packages, the Kafka download, SSM",
    `+ EC2 instance "${plan.name}"`,
    `    type      ${instance.instanceType}, broker heap ${instance.heapMb} MiB${
      instance.cpuCredits ? ", standard CPU credits (never billed as unlimited)" : ""
    }`,
    `    image     ${
      instance.ami ??
        `latest Amazon Linux 2023 ${instance.architecture} (SSM parameter ${
          amazonLinux2023Parameter(instance.architecture)
        }), looked up at apply`
    }`,
    `    disk      ${instance.volumeGb} GiB gp3, encrypted, deleted with the instance`,
    "    metadata  IMDSv2 required (HttpTokens=required, hop limit 1)",
    "    network   default subnet, public IP and DNS name",
    `    access    ${access}`,
    `    role      "${instance.instanceProfile}" (producer-host policy of \`deno task iam\`): stores the broker's CA and credentials in Parameter Store`,
    instance.kafkaPinned
      ? `    user-data ${
        new TextEncoder().encode(instance.userData).length
      } bytes of bash: Java 17, Kafka 3.9.1 (pinned SHA-512), hardened systemd unit, topics, ACLs`
      : `    user-data NOT READY: ${UNPINNED_KAFKA} Apply refuses until then.`,
    `    kafka     SASL_SSL + SCRAM-SHA-512 on 9092 (CA and password generated on the instance, kept in SSM Parameter Store ${
      kafkaParameterPath(plan.name)
    }/); ACLs, no allow.everyone; PLAINTEXT only on 127.0.0.1`,
    `+ tags on every resource: ${
      Object.entries(plan.tags).map(([k, v]) => `${k}=${v}`).join(", ")
    }`,
    "",
    `Cost: ${cost}.`,
    "After apply: `deno task ec2 credentials` writes .cache/ec2/<name>/client.env (broker address, SCRAM user, password, CA) once the broker has booted. Remove it all with `deno task teardown`.",
  ];
  if (options.userData) lines.push("", "--- user-data ---", instance.userData.trimEnd());
  return `${lines.join("\n")}\n`;
}

function toTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

function tagFilters(name: string) {
  return [
    { Name: `tag:${PROJECT_TAG.key}`, Values: [PROJECT_TAG.value] },
    { Name: "tag:Name", Values: [name] },
  ];
}

/**
 * The latest Amazon Linux 2023 AMI (standard, not minimal) for an architecture, from the public
 * SSM parameter AWS keeps current ({@linkcode amazonLinux2023Parameter}).
 *
 * @throws {Ec2Error} when the region has no such parameter, suggesting `--ami`.
 */
export async function resolveAmi(
  ssm: SSMClient,
  architecture: "x86_64" | "arm64" = "x86_64",
): Promise<string> {
  const name = amazonLinux2023Parameter(architecture);
  try {
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name }));
    if (Parameter?.Value && /^ami-[0-9a-f]+$/.test(Parameter.Value)) return Parameter.Value;
  } catch (error) {
    if ((error as Error).name !== "ParameterNotFound") throw error;
  }
  throw new Ec2Error(
    `Found no Amazon Linux 2023 ${architecture} image in this region (SSM parameter ${name}): pass one with --ami ami-….`,
  );
}

/** Options of {@linkcode applyEc2} and {@linkcode destroyEc2}. */
export interface Ec2RunOptions {
  /** The EC2 client (credentials from the SDK's default chain; region set). */
  client: EC2Client;
  /** The SSM client that reads the AMI parameter (apply only, when the plan has no AMI). */
  ssm?: SSMClient;
  /** Where progress goes. @default silentLogger */
  logger?: Logger;
  /** How long to wait for the instance to run (apply) or terminate (destroy). @default {300000} */
  timeoutMs?: number;
  /** Pause between polls. @default {5000} */
  pollMs?: number;
}

/** What {@linkcode applyEc2} created or found. */
export interface Ec2Deployment {
  /** The security group id. */
  securityGroupId: string;
  /** The instance id. */
  instanceId: string;
  /** The AMI the instance runs. */
  ami: string;
  /** The instance's public DNS name (empty if AWS gave it none). */
  publicDns: string;
  /** What to put in `KAFKA_BROKERS`. */
  bootstrap: string;
  /** Human-readable list of what this run created. */
  created: string[];
  /** Human-readable list of what already existed and was kept. */
  kept: string[];
}

async function findInstances(
  client: EC2Client,
  name: string,
  states: string[],
): Promise<Instance[]> {
  const found: Instance[] = [];
  let NextToken: string | undefined;
  do {
    const page = await client.send(
      new DescribeInstancesCommand({
        Filters: [...tagFilters(name), { Name: "instance-state-name", Values: states }],
        NextToken,
      }),
    );
    for (const reservation of page.Reservations ?? []) found.push(...(reservation.Instances ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}

/**
 * Waits with the SDK's EC2 waiters (`waitUntilInstanceRunning` / `waitUntilInstanceTerminated`,
 * polling every `pollMs`) until every instance of `ids` is in `state`; returns them as last
 * described. A timeout, or an instance that stops or terminates while starting, is an
 * {@linkcode Ec2Error} that says what to do.
 */
async function waitFor(
  client: EC2Client,
  ids: string[],
  state: "running" | "terminated",
  options: Ec2RunOptions,
): Promise<Instance[]> {
  const timeoutMs = options.timeoutMs ?? 300_000;
  const delay = (options.pollMs ?? 5000) / 1000;
  const waiter = { client, maxWaitTime: timeoutMs / 1000, minDelay: delay, maxDelay: delay };
  const input = { InstanceIds: ids };
  try {
    const result = state === "running"
      ? await waitUntilInstanceRunning(waiter, input)
      : await waitUntilInstanceTerminated(waiter, input);
    const described = result.reason as DescribeInstancesCommandOutput | undefined;
    return (described?.Reservations ?? []).flatMap((r) => r.Instances ?? []);
  } catch (error) {
    if ((error as Error).name === "TimeoutError") {
      throw new Ec2Error(
        `Instance ${ids.join(", ")} is not ${state} after ${
          timeoutMs / 1000
        } s: check the EC2 console, then run the command again.`,
        { cause: error },
      );
    }
    if (state === "running") {
      throw new Ec2Error(
        `Instance ${
          ids.join(", ")
        } stopped or terminated while starting: see its system log in the EC2 console.`,
        { cause: error },
      );
    }
    throw error;
  }
}

function sameRule(permission: IpPermission, rule: IngressRule): boolean {
  const ranges = rule.cidr.endsWith("/128")
    ? (permission.Ipv6Ranges ?? []).map((r) => r.CidrIpv6)
    : (permission.IpRanges ?? []).map((r) => r.CidrIp);
  return permission.IpProtocol === "tcp" && permission.FromPort === rule.port &&
    permission.ToPort === rule.port && ranges.includes(rule.cidr);
}

function toPermission(rule: IngressRule): IpPermission {
  const range = rule.cidr.endsWith("/128")
    ? { Ipv6Ranges: [{ CidrIpv6: rule.cidr, Description: rule.description }] }
    : { IpRanges: [{ CidrIp: rule.cidr, Description: rule.description }] };
  return { IpProtocol: "tcp", FromPort: rule.port, ToPort: rule.port, ...range };
}

/** Splits a described permission into one permission per source, so each can be compared and revoked. */
function splitPermission(p: IpPermission): IpPermission[] {
  const base = { IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort };
  return [
    ...(p.IpRanges ?? []).map((r) => ({ ...base, IpRanges: [{ CidrIp: r.CidrIp }] })),
    ...(p.Ipv6Ranges ?? []).map((r) => ({ ...base, Ipv6Ranges: [{ CidrIpv6: r.CidrIpv6 }] })),
    ...(p.UserIdGroupPairs ?? []).map((g) => ({
      ...base,
      UserIdGroupPairs: [{ GroupId: g.GroupId }],
    })),
    ...(p.PrefixListIds ?? []).map((l) => ({
      ...base,
      PrefixListIds: [{ PrefixListId: l.PrefixListId }],
    })),
  ];
}

/** What one {@linkcode applyEc2} run created and kept, for its report. */
interface ApplyLedger {
  created: string[];
  kept: string[];
  logger: Logger;
}

/**
 * Creates what the plan lists and is missing: the security group (its inbound rules made exactly
 * the plan's, so a changed `--my-ip` replaces the old address) and the instance. Waits until the
 * instance runs and returns its bootstrap address. An instance that already exists is kept as is:
 * destroy it first to change its type or user-data.
 *
 * @throws {Ec2Error} when the region has no default VPC, no AMI is found, or the instance does not start.
 */
export async function applyEc2(plan: Ec2Plan, options: Ec2RunOptions): Promise<Ec2Deployment> {
  const { client } = options;
  if (!plan.instance.kafkaPinned) throw new Ec2Error(UNPINNED_KAFKA);
  const ledger: ApplyLedger = { created: [], kept: [], logger: options.logger ?? silentLogger };
  const vpcId = await defaultVpcId(client, plan.region);
  const groupId = await ensureSecurityGroup(client, plan, vpcId, ledger);
  const { instanceId, ami } = await ensureInstance(options, plan, groupId, ledger);
  const [instance] = await waitFor(client, [instanceId], "running", options);
  const publicDns = instance?.PublicDnsName ?? "";
  if (!publicDns) {
    ledger.logger.warn(
      `Instance ${instanceId} has no public DNS name: clients outside AWS cannot reach it. Check that the default subnet assigns public IPs and the VPC has DNS hostnames enabled.`,
    );
  }
  return {
    securityGroupId: groupId,
    instanceId,
    ami: ami ?? instance?.ImageId ?? "",
    publicDns,
    bootstrap: publicDns ? `${publicDns}:9092` : "",
    created: ledger.created,
    kept: ledger.kept,
  };
}

async function defaultVpcId(client: EC2Client, region: string): Promise<string> {
  const { Vpcs = [] } = await client.send(
    new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] }),
  );
  const vpcId = Vpcs[0]?.VpcId;
  if (!vpcId) {
    throw new Ec2Error(
      `Region ${region} has no default VPC: create one with \`aws ec2 create-default-vpc --region ${region}\` and apply again.`,
    );
  }
  return vpcId;
}

/** Finds or creates the plan's security group in `vpcId` and makes its inbound rules the plan's. */
async function ensureSecurityGroup(
  client: EC2Client,
  plan: Ec2Plan,
  vpcId: string,
  ledger: ApplyLedger,
): Promise<string> {
  const { SecurityGroups = [] } = await client.send(
    new DescribeSecurityGroupsCommand({
      Filters: [...tagFilters(plan.name), { Name: "vpc-id", Values: [vpcId] }],
    }),
  );
  const group = SecurityGroups.at(0);
  let groupId = group?.GroupId;
  if (!groupId) {
    const result = await client.send(
      new CreateSecurityGroupCommand({
        GroupName: plan.securityGroup.name,
        Description: plan.securityGroup.description,
        VpcId: vpcId,
        TagSpecifications: [{ ResourceType: "security-group", Tags: toTags(plan.tags) }],
      }),
    );
    groupId = result.GroupId!;
    ledger.created.push(`security group ${groupId}`);
    ledger.logger.info(
      `Created security group ${groupId} (${plan.securityGroup.name}) in ${vpcId}.`,
    );
  } else {
    ledger.kept.push(`security group ${groupId}`);
    ledger.logger.info(`Security group ${groupId} (${plan.securityGroup.name}) already exists.`);
  }
  await syncIngress(client, groupId, group?.IpPermissions ?? [], plan, ledger.logger);
  return groupId;
}

/** Revokes the inbound rules the plan no longer has and opens the ones it lacks. */
async function syncIngress(
  client: EC2Client,
  groupId: string,
  permissions: IpPermission[],
  plan: Ec2Plan,
  logger: Logger,
): Promise<void> {
  const current = permissions.flatMap(splitPermission);
  const stale = current.filter((p) => !plan.securityGroup.ingress.some((r) => sameRule(p, r)));
  if (stale.length > 0) {
    await client.send(
      new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: stale }),
    );
    logger.info(`Removed ${stale.length} inbound rule(s) the plan no longer has.`);
  }
  const missing = plan.securityGroup.ingress.filter((r) => !current.some((p) => sameRule(p, r)));
  if (missing.length > 0) {
    await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: missing.map(toPermission),
      }),
    );
    for (const r of missing) logger.info(`Opened tcp ${r.port} to ${r.cidr}.`);
  }
}

/**
 * Keeps the plan's instance when one exists (refusing a stopped one) or launches it; returns its
 * id and the AMI it runs when known.
 */
async function ensureInstance(
  { client, ssm }: Ec2RunOptions,
  plan: Ec2Plan,
  groupId: string,
  ledger: ApplyLedger,
): Promise<{ instanceId: string; ami: string | undefined }> {
  let [instance] = await findInstances(client, plan.name, [
    "pending",
    "running",
    "stopping",
    "stopped",
  ]);
  let ami = instance?.ImageId ?? plan.instance.ami;
  if (instance?.InstanceId) {
    ledger.kept.push(`instance ${instance.InstanceId}`);
    ledger.logger.info(
      `Instance ${instance.InstanceId} (${plan.name}) already exists and is ${instance.State?.Name}; keeping it (destroy it to change its type or user-data).`,
    );
  } else {
    if (ami === undefined) {
      if (!ssm) throw new Ec2Error("applyEc2 needs an SSM client to look up the AMI, or --ami.");
      ami = await resolveAmi(ssm, plan.instance.architecture);
    }
    ledger.logger.info(`Starting a ${plan.instance.instanceType} instance from ${ami}.`);
    instance = await launchInstance(client, plan, ami, groupId);
    ledger.created.push(`instance ${instance.InstanceId}`);
    ledger.logger.info(`Created instance ${instance.InstanceId}; waiting for it to run.`);
  }
  const instanceId = instance.InstanceId!;
  if (instance.State?.Name === "stopped" || instance.State?.Name === "stopping") {
    throw new Ec2Error(
      `Instance ${instanceId} is ${instance.State.Name}: start it with \`aws ec2 start-instances --instance-ids ${instanceId}\` (its public DNS name will change; the broker picks up the new one) or destroy it.`,
    );
  }
  return { instanceId, ami };
}

/** Runs the plan's instance: IMDSv2, an encrypted gp3 root volume, the user data, the tags. */
async function launchInstance(
  client: EC2Client,
  plan: Ec2Plan,
  ami: string,
  groupId: string,
): Promise<Instance> {
  const result = await client.send(
    runInstancesCommand(plan, ami, groupId),
  ).catch((error) => {
    const text = `${(error as Error).name} ${(error as Error).message}`;
    if (/NoSuchEntity|iamInstanceProfile|Instance profile/i.test(text)) {
      throw new Ec2Error(
        `Instance profile "${plan.instance.instanceProfile}" does not exist or cannot be passed (${
          (error as Error).message
        }): create the role and profile with the producer-host policy of \`deno task iam\` (README, "The broker's instance role"), or pass --instance-profile.`,
        { cause: error },
      );
    }
    throw error;
  });
  return result.Instances![0];
}

function runInstancesCommand(plan: Ec2Plan, ami: string, groupId: string): RunInstancesCommand {
  return (
    new RunInstancesCommand({
      ImageId: ami,
      InstanceType: plan.instance.instanceType as RunInstancesCommand["input"]["InstanceType"],
      MinCount: 1,
      MaxCount: 1,
      KeyName: plan.instance.keyName,
      IamInstanceProfile: { Name: plan.instance.instanceProfile },
      ...(plan.instance.cpuCredits
        ? { CreditSpecification: { CpuCredits: plan.instance.cpuCredits } }
        : {}),
      SecurityGroupIds: [groupId],
      MetadataOptions: {
        HttpTokens: plan.instance.httpTokens,
        HttpEndpoint: "enabled",
        HttpPutResponseHopLimit: 1,
      },
      BlockDeviceMappings: [{
        DeviceName: "/dev/xvda",
        Ebs: {
          VolumeSize: plan.instance.volumeGb,
          VolumeType: "gp3",
          Encrypted: true,
          DeleteOnTermination: true,
        },
      }],
      UserData: Buffer.from(plan.instance.userData, "utf8").toString("base64"),
      TagSpecifications: [
        { ResourceType: "instance", Tags: toTags(plan.tags) },
        { ResourceType: "volume", Tags: toTags(plan.tags) },
      ],
    })
  );
}

/** The instances (not yet terminated) and security groups of deployment `name`. */
export async function findDeployment(
  client: EC2Client,
  name: string,
): Promise<{ instances: string[]; securityGroups: string[] }> {
  const instances = (await findInstances(client, name, [
    "pending",
    "running",
    "stopping",
    "stopped",
    "shutting-down",
  ])).map((i) => i.InstanceId!);
  const { SecurityGroups = [] } = await client.send(
    new DescribeSecurityGroupsCommand({ Filters: tagFilters(name) }),
  );
  return { instances, securityGroups: SecurityGroups.map((g) => g.GroupId!) };
}

/**
 * The bootstrap address (`<public DNS>:9092`) of the running instance of deployment `name`, or
 * `undefined` when none runs.
 */
export async function findBootstrap(client: EC2Client, name: string): Promise<string | undefined> {
  const [instance] = await findInstances(client, name, ["running"]);
  return instance?.PublicDnsName ? `${instance.PublicDnsName}:9092` : undefined;
}

/** What {@linkcode destroyEc2} removed. */
export interface Ec2Teardown {
  /** Instances terminated. */
  instances: string[];
  /** Security groups deleted. */
  securityGroups: string[];
}

/**
 * Terminates the tagged instances and deletes the tagged security groups of one `name`. Only
 * resources carrying both `Project=stock-market-pipeline` and `Name=<name>` are touched; running it
 * again when nothing is left does nothing.
 */
export async function destroyEc2(
  name: string,
  options: Ec2RunOptions,
): Promise<Ec2Teardown> {
  const { client } = options;
  const logger = options.logger ?? silentLogger;
  const { instances, securityGroups } = await findDeployment(client, name);
  if (instances.length > 0) {
    await client.send(new TerminateInstancesCommand({ InstanceIds: instances }));
    logger.info(`Terminating ${instances.join(", ")}; waiting until they are gone.`);
    await waitFor(client, instances, "terminated", options);
  }
  const groups: string[] = [];
  for (const groupId of securityGroups) {
    const deadline = Date.now() + (options.timeoutMs ?? 300_000);
    for (;;) {
      try {
        await client.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
        break;
      } catch (error) {
        // The network interface of a just-terminated instance can hold the group for a while.
        if ((error as Error).name !== "DependencyViolation" || Date.now() > deadline) throw error;
        await sleep(options.pollMs ?? 5000);
      }
    }
    groups.push(groupId);
    logger.info(`Deleted security group ${groupId}.`);
  }
  if (instances.length === 0 && groups.length === 0) {
    logger.info(`Nothing tagged ${PROJECT_TAG.key}=${PROJECT_TAG.value}, Name=${name} is left.`);
  }
  return { instances, securityGroups: groups };
}
