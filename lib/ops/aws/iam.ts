/**
 * Least-privilege IAM policy documents for each role of the pipeline, generated from the
 * configuration (lake bucket and prefix, Glue database and table, Athena workgroup and output).
 * `deno task iam` prints them; {@linkcode validatePolicy} refuses wildcards where AWS does not
 * force them.
 *
 * @module
 */

import type { PipelineConfig } from "../../config.ts";
import { parseS3Uri } from "../../lake/layout.ts";
import { kafkaParameterPath } from "./ssm_parameters.ts";

/** The names of the policies {@linkcode buildPolicies} returns, in order. */
export const POLICY_NAMES = [
  "producer-host",
  "consumer",
  "glue-crawler",
  "catalog",
  "athena-query",
  "ec2-operator",
] as const;

/** One of {@linkcode POLICY_NAMES}. */
export type PolicyName = typeof POLICY_NAMES[number];

/** One statement of an IAM policy. */
export interface PolicyStatement {
  /** Statement id, saying what it is for. */
  Sid: string;
  /** Always `Allow` here. */
  Effect: "Allow" | "Deny";
  /** Actions, never `*` or `service:*`. */
  Action: string[];
  /** ARNs; `*` only for actions AWS does not scope to resources. */
  Resource: string[] | string;
  /** Optional condition block. */
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** An IAM policy document. */
export interface PolicyDocument {
  /** Policy language version. */
  Version: "2012-10-17";
  /** Statements. */
  Statement: PolicyStatement[];
}

/** A trust policy: who may assume a role. */
export interface TrustPolicy {
  /** Policy language version. */
  Version: "2012-10-17";
  /** One statement letting a service assume the role. */
  Statement: {
    Effect: "Allow";
    Principal: { Service: string };
    Action: "sts:AssumeRole";
  }[];
}

/** A named policy with what it is for and, for roles that services assume, its trust policy. */
export interface PipelinePolicy {
  /** Short name, e.g. `consumer`. */
  name: PolicyName;
  /** Who gets it and why. */
  purpose: string;
  /** The permissions. */
  policy: PolicyDocument;
  /** For a service role: who may assume it. */
  trust?: TrustPolicy;
}

/** Raised for a policy that is too broad or malformed, or a config that cannot be scoped. */
export class PolicyError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PolicyError";
  }
}

/**
 * Actions that AWS does not scope to a resource, so they may (must) use `Resource: "*"`.
 * Session Manager's instance-side calls are the only ones the pipeline needs.
 */
export const ACTIONS_WITHOUT_RESOURCES: ReadonlySet<string> = new Set([
  "ssm:UpdateInstanceInformation",
  "ssmmessages:CreateControlChannel",
  "ssmmessages:CreateDataChannel",
  "ssmmessages:OpenControlChannel",
  "ssmmessages:OpenDataChannel",
  // EC2's Describe* calls and the caller's own identity cannot be scoped to resources.
  "ec2:DescribeInstances",
  "ec2:DescribeSecurityGroups",
  "ec2:DescribeVpcs",
]);

/**
 * Checks a policy: version, a Sid on each statement, no `*` or `service:*` actions, and
 * `Resource: "*"` only for {@linkcode ACTIONS_WITHOUT_RESOURCES}.
 *
 * @throws {PolicyError} listing every problem.
 */
export function validatePolicy(policy: PolicyDocument, label = "policy"): void {
  const problems: string[] = [];
  if (policy.Version !== "2012-10-17") problems.push(`Version must be "2012-10-17"`);
  if (!Array.isArray(policy.Statement) || policy.Statement.length === 0) {
    problems.push("it has no statements");
  }
  for (const [i, s] of (policy.Statement ?? []).entries()) {
    const where = `statement ${s.Sid ?? i + 1}`;
    if (!s.Sid || !/^[A-Za-z0-9]+$/.test(s.Sid)) {
      problems.push(`${where} needs an alphanumeric Sid`);
    }
    if (!Array.isArray(s.Action) || s.Action.length === 0) problems.push(`${where} has no actions`);
    for (const action of s.Action ?? []) {
      if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) {
        problems.push(
          `${where}: action "${action}" is a wildcard or malformed; list actions one by one`,
        );
      }
    }
    const resources = typeof s.Resource === "string" ? [s.Resource] : s.Resource ?? [];
    if (resources.length === 0) problems.push(`${where} has no resources`);
    for (const resource of resources) {
      if (resource === "*") {
        const scoped = (s.Action ?? []).filter((a) => !ACTIONS_WITHOUT_RESOURCES.has(a));
        if (scoped.length > 0) {
          problems.push(
            `${where}: Resource "*" with ${scoped.join(", ")}, which can be scoped to ARNs`,
          );
        }
      } else if (!/^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12})?:.+$/.test(resource)) {
        problems.push(`${where}: "${resource}" is not an ARN`);
      } else if (/^\*/.test(resource.split(":").slice(5).join(":"))) {
        problems.push(`${where}: "${resource}" is a wildcard over a whole service or account`);
      }
    }
  }
  if (problems.length > 0) {
    throw new PolicyError(`The ${label} is too broad or malformed: ${problems.join("; ")}.`);
  }
}

/**
 * Where Athena writes query results, as the policies and `deno task teardown` see it:
 * `ATHENA_OUTPUT` when set, else `s3://<lake bucket>/athena-results/`.
 */
export function athenaResultsUri(config: PipelineConfig): string {
  const lake = parseS3Uri(config.lake);
  return config.athenaOutput ?? (lake ? `s3://${lake.bucket}/athena-results/` : "");
}

/** Options of {@linkcode buildPolicies}. */
export interface BuildPoliciesOptions {
  /** The 12-digit AWS account id (Glue and Athena ARNs need it). */
  accountId: string;
  /** The EC2 deployment's `--name` (its parameters and instance role). @default {"stock-market-kafka"} */
  ec2Name?: string;
  /** The Glue crawler's role name (`--crawler-role`). @default {"stock-market-glue-crawler"} */
  crawlerRole?: string;
  /** The Glue crawler's name (`--crawler-name`). @default {"<database>_<table>"} */
  crawlerName?: string;
}

/** The default role of the Glue crawler (`deno task crawl --method crawler --crawler-role`). */
export const DEFAULT_CRAWLER_ROLE = "stock-market-glue-crawler";

/**
 * The instance role (and instance profile) of an EC2 deployment: `<name>-broker`. It holds the
 * `producer-host` policy; `deno task ec2 apply` passes it to the instance.
 */
export function instanceRoleName(ec2Name: string): string {
  return `${ec2Name}-broker`;
}

/** The ARN partition of a region (`aws`, `aws-cn`, `aws-us-gov`). */
export function partitionOf(region: string): string {
  return region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
}

/**
 * Builds the policies of {@linkcode POLICY_NAMES} from the configuration; each passes
 * {@linkcode validatePolicy}.
 *
 * @example
 * ```ts
 * import { buildPolicies } from "./iam.ts";
 * import { loadConfig } from "../../config.ts";
 * const config = loadConfig({ env: { LAKE_URI: "s3://my-lake/stock" } });
 * const [, consumer] = buildPolicies(config, { accountId: "123456789012" });
 * consumer.policy.Statement[0].Resource; // ["arn:aws:s3:::my-lake/stock/*"]
 * ```
 * @throws {PolicyError} when the lake is not in S3 or the account id is malformed.
 */
export function buildPolicies(
  config: PipelineConfig,
  options: BuildPoliciesOptions,
): PipelinePolicy[] {
  const arns = pipelineArns(config, options);
  const policies = [
    producerHostPolicy(arns),
    consumerPolicy(config, arns),
    crawlerPolicy(config, arns),
    catalogPolicy(config, arns),
    athenaQueryPolicy(config, arns),
    ec2OperatorPolicy(arns),
  ];
  for (const p of policies) validatePolicy(p.policy, `${p.name} policy`);
  return policies;
}

/** The ARNs and conditions the policies scope their statements to. */
interface PipelineArns {
  /** ARN partition: `aws`, `aws-cn`, `aws-us-gov`. */
  partition: string;
  region: string;
  account: string;
  bucket: string;
  /** Objects under the lake prefix. */
  lakeObjects: string;
  /** The sink's checkpoint log under the lake prefix. */
  checkpointObjects: string;
  /** The ListBucket condition that keeps listing under the lake prefix (none at the bucket root). */
  lakeList: PolicyStatement["Condition"];
  /** Athena's results location, as given or `s3://<lake bucket>/athena-results/`. */
  output: { bucket: string; prefix: string };
  outputBucket: string;
  outputObjects: string;
  /** The ListBucket condition that keeps listing under the results prefix (none at the root). */
  outputList: PolicyStatement["Condition"];
  /** The Glue catalog, database and table. */
  catalog: string[];
  /** Every table of the database (what `glue:GetTables` is checked against). */
  tablesOfDatabase: string;
  /** The Glue crawler. */
  crawler: string;
  /** The crawler's role. */
  crawlerRole: string;
  /** The EC2 deployment's name. */
  ec2Name: string;
  /** The EC2 instance role. */
  instanceRole: string;
  /** The deployment's parameters in Parameter Store. */
  parameters: string;
}

/** Resolves the lake, results location, catalog and account into ARNs; refuses a local lake. */
function pipelineArns(config: PipelineConfig, options: BuildPoliciesOptions): PipelineArns {
  const { accountId } = options;
  const lake = parseS3Uri(config.lake);
  if (!lake) {
    throw new PolicyError(
      `The lake "${config.lake}" is a local folder: IAM policies need LAKE_URI=s3://bucket/prefix (or --lake).`,
    );
  }
  if (!/^\d{12}$/.test(accountId)) {
    throw new PolicyError(
      `Account id "${accountId}" is not 12 digits: pass --account-id or let the task read it with your credentials.`,
    );
  }
  const partition = partitionOf(config.region);
  const { region } = config;
  const under = (prefix: string) => prefix ? `${prefix}/` : "";
  const bucket = `arn:${partition}:s3:::${lake.bucket}`;
  const output = parseS3Uri(athenaResultsUri(config))!;
  const outputBucket = `arn:${partition}:s3:::${output.bucket}`;
  const glue = (suffix: string) => `arn:${partition}:glue:${region}:${accountId}:${suffix}`;
  const ec2Name = options.ec2Name ?? "stock-market-kafka";
  const listUnder = (prefix: string) =>
    prefix ? { StringLike: { "s3:prefix": [`${prefix}/*`, prefix] } } : undefined;
  return {
    partition,
    region,
    account: accountId,
    bucket,
    lakeObjects: `${bucket}/${under(lake.prefix)}*`,
    checkpointObjects: `${bucket}/${under(lake.prefix)}_sink/*`,
    lakeList: listUnder(lake.prefix),
    output,
    outputBucket,
    outputObjects: `${outputBucket}/${under(output.prefix)}*`,
    outputList: listUnder(output.prefix),
    catalog: [
      glue("catalog"),
      glue(`database/${config.database}`),
      glue(`table/${config.database}/${config.table}`),
    ],
    tablesOfDatabase: glue(`table/${config.database}/*`),
    crawler: glue(`crawler/${options.crawlerName ?? `${config.database}_${config.table}`}`),
    crawlerRole: `arn:${partition}:iam::${accountId}:role/${
      options.crawlerRole ?? DEFAULT_CRAWLER_ROLE
    }`,
    ec2Name,
    instanceRole: `arn:${partition}:iam::${accountId}:role/${instanceRoleName(ec2Name)}`,
    parameters: `arn:${partition}:ssm:${region}:${accountId}:parameter${
      kafkaParameterPath(ec2Name)
    }/*`,
  };
}

function policyDocument(...Statement: PolicyStatement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement };
}

function trustedBy(service: string): TrustPolicy {
  return {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }],
  };
}

/** ListBucket on the lake bucket, under the lake prefix only. */
function listLakePrefix(arns: PipelineArns): PolicyStatement {
  return {
    Sid: "ListLakePrefix",
    Effect: "Allow",
    Action: ["s3:ListBucket"],
    Resource: [arns.bucket],
    ...(arns.lakeList ? { Condition: arns.lakeList } : {}),
  };
}

/** ListBucket on the Athena results bucket, under the results prefix only. */
function listResultsPrefix(arns: PipelineArns): PolicyStatement {
  return {
    Sid: "ListResultsPrefix",
    Effect: "Allow",
    Action: ["s3:ListBucket"],
    Resource: [arns.outputBucket],
    ...(arns.outputList ? { Condition: arns.outputList } : {}),
  };
}

function readLakeObjects(arns: PipelineArns): PolicyStatement {
  return {
    Sid: "ReadLakeObjects",
    Effect: "Allow",
    Action: ["s3:GetObject"],
    Resource: [arns.lakeObjects],
  };
}

/**
 * The EC2 host's instance role: puts the broker's CA and client credentials into its own
 * Parameter Store prefix at first boot, and Session Manager for a shell.
 */
function producerHostPolicy(arns: PipelineArns): PipelinePolicy {
  return {
    name: "producer-host",
    purpose: `Instance role ${
      arns.instanceRole.split("/").pop()
    } of the EC2 broker host: stores the broker's CA and client credentials under its own Parameter Store prefix at first boot, and Session Manager shell access. The producer talks to Kafka, not to AWS APIs.`,
    trust: trustedBy("ec2.amazonaws.com"),
    policy: policyDocument(
      {
        Sid: "PutOwnKafkaParameters",
        Effect: "Allow",
        Action: ["ssm:PutParameter"],
        Resource: [arns.parameters],
      },
      {
        Sid: "SessionManagerShell",
        Effect: "Allow",
        Action: [...ACTIONS_WITHOUT_RESOURCES].filter((a) => !a.startsWith("ec2:")),
        Resource: "*",
      },
    ),
  };
}

/** The lake sink: writes lake objects, reads and prunes its checkpoint log. */
function consumerPolicy(config: PipelineConfig, arns: PipelineArns): PipelinePolicy {
  return {
    name: "consumer",
    purpose:
      `The lake sink (deno task consume): writes objects under ${config.lake}; lists, reads, writes and prunes its checkpoint log under _sink/.`,
    policy: policyDocument(
      {
        Sid: "WriteLakeObjects",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
        Resource: [arns.lakeObjects],
      },
      {
        Sid: "ReadAndPruneCheckpointLog",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:DeleteObject"],
        Resource: [arns.checkpointObjects],
      },
      listLakePrefix(arns),
    ),
  };
}

/** The Glue crawler's role: reads the lake, writes the table and its partitions, logs. */
function crawlerPolicy(config: PipelineConfig, arns: PipelineArns): PipelinePolicy {
  const { partition, region, account } = arns;
  return {
    name: "glue-crawler",
    purpose:
      `Role the Glue crawler assumes: reads ${config.lake}, writes table ${config.database}.${config.table} and its partitions, logs to CloudWatch.`,
    trust: trustedBy("glue.amazonaws.com"),
    policy: policyDocument(
      readLakeObjects(arns),
      listLakePrefix(arns),
      {
        Sid: "WriteCatalogTable",
        Effect: "Allow",
        Action: [
          "glue:GetDatabase",
          "glue:GetTable",
          "glue:CreateTable",
          "glue:UpdateTable",
          "glue:GetPartition",
          "glue:GetPartitions",
          "glue:BatchGetPartition",
          "glue:CreatePartition",
          "glue:BatchCreatePartition",
          "glue:UpdatePartition",
          "glue:BatchUpdatePartition",
        ],
        Resource: arns.catalog,
      },
      {
        Sid: "CrawlerLogs",
        Effect: "Allow",
        Action: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        Resource: [`arn:${partition}:logs:${region}:${account}:log-group:/aws-glue/crawlers:*`],
      },
    ),
  };
}

/** Whoever queries on Athena: the workgroup, the catalog, the lake and the results location. */
function athenaQueryPolicy(config: PipelineConfig, arns: PipelineArns): PipelinePolicy {
  const { partition, region, account, output } = arns;
  return {
    name: "athena-query",
    purpose:
      `Whoever runs \`deno task query --engine athena\`: queries in workgroup ${config.workgroup}, reads the lake and catalog, writes results to s3://${output.bucket}/${output.prefix}.`,
    policy: policyDocument(
      {
        Sid: "RunQueriesInWorkgroup",
        Effect: "Allow",
        Action: [
          "athena:StartQueryExecution",
          "athena:GetQueryExecution",
          "athena:GetQueryResults",
          "athena:StopQueryExecution",
          "athena:GetWorkGroup",
        ],
        Resource: [`arn:${partition}:athena:${region}:${account}:workgroup/${config.workgroup}`],
      },
      {
        Sid: "ReadCatalog",
        Effect: "Allow",
        Action: [
          "glue:GetDatabase",
          "glue:GetTable",
          "glue:GetPartition",
          "glue:GetPartitions",
          "glue:BatchGetPartition",
        ],
        Resource: arns.catalog,
      },
      readLakeObjects(arns),
      listLakePrefix(arns),
      {
        Sid: "WriteQueryResults",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
        Resource: [arns.outputObjects],
      },
      {
        Sid: "LocateResultsBucket",
        Effect: "Allow",
        Action: ["s3:GetBucketLocation"],
        Resource: [arns.outputBucket],
      },
      listResultsPrefix(arns),
    ),
  };
}

/** Whoever runs `deno task crawl --target aws`: `--method table` and `--method crawler`. */
function catalogPolicy(config: PipelineConfig, arns: PipelineArns): PipelinePolicy {
  return {
    name: "catalog",
    purpose:
      `Whoever runs \`deno task crawl --target aws\`: --method table reads the lake and creates or updates ${config.database}.${config.table}; --method crawler creates, updates and runs crawler ${
        arns.crawler.split("/").pop()
      } as role ${arns.crawlerRole.split("/").pop()}.`,
    policy: policyDocument(
      readLakeObjects(arns),
      listLakePrefix(arns),
      {
        Sid: "DefineCatalogTable",
        Effect: "Allow",
        Action: [
          "glue:GetDatabase",
          "glue:CreateDatabase",
          "glue:GetTable",
          "glue:GetTables",
          "glue:CreateTable",
          "glue:UpdateTable",
        ],
        Resource: [...arns.catalog, arns.tablesOfDatabase],
      },
      {
        Sid: "RunCrawler",
        Effect: "Allow",
        Action: [
          "glue:CreateCrawler",
          "glue:UpdateCrawler",
          "glue:StartCrawler",
          "glue:GetCrawler",
          "glue:ListCrawls",
        ],
        Resource: [arns.crawler],
      },
      {
        Sid: "PassCrawlerRoleToGlue",
        Effect: "Allow",
        Action: ["iam:PassRole"],
        Resource: [arns.crawlerRole],
        Condition: { StringEquals: { "iam:PassedToService": "glue.amazonaws.com" } },
      },
    ),
  };
}

/**
 * Whoever runs `deno task ec2 apply|destroy|credentials` and `deno task teardown`: EC2 resources
 * tagged by the project, the instance role passed to EC2 only, the deployment's parameters, and
 * what teardown removes (Glue table, database and crawler; Athena results).
 */
function ec2OperatorPolicy(arns: PipelineArns): PipelinePolicy {
  const { partition, region, account } = arns;
  const ec2 = (suffix: string) => `arn:${partition}:ec2:${region}:${account}:${suffix}`;
  const tagged = { StringEquals: { "aws:ResourceTag/Project": "stock-market-pipeline" } };
  return {
    name: "ec2-operator",
    purpose:
      `Whoever runs \`deno task ec2 apply|destroy|credentials\` and \`deno task teardown\` for deployment ${arns.ec2Name}: creates and removes the tagged security group and instance, passes role ${
        arns.instanceRole.split("/").pop()
      } to EC2 only, reads and deletes the broker's parameters, and removes the Glue table, database and crawler and the Athena results.`,
    policy: policyDocument(
      {
        Sid: "DescribeEc2",
        Effect: "Allow",
        Action: [
          "ec2:DescribeInstances",
          "ec2:DescribeSecurityGroups",
          "ec2:DescribeVpcs",
        ],
        Resource: "*",
      },
      {
        Sid: "ReadAmazonLinuxAmiParameter",
        Effect: "Allow",
        Action: ["ssm:GetParameters", "ssm:GetParameter"],
        Resource: [
          `arn:${partition}:ssm:${region}::parameter/aws/service/ami-amazon-linux-latest/*`,
        ],
      },
      {
        Sid: "CreateTaggedResources",
        Effect: "Allow",
        Action: ["ec2:CreateSecurityGroup", "ec2:RunInstances", "ec2:CreateTags"],
        Resource: [
          ec2("security-group/*"),
          ec2("instance/*"),
          ec2("volume/*"),
          ec2("network-interface/*"),
          ec2("subnet/*"),
          ec2("vpc/*"),
          ec2("key-pair/*"),
          `arn:${partition}:ec2:${region}::image/*`,
        ],
      },
      {
        Sid: "ChangeOnlyProjectResources",
        Effect: "Allow",
        Action: [
          "ec2:AuthorizeSecurityGroupIngress",
          "ec2:RevokeSecurityGroupIngress",
          "ec2:DeleteSecurityGroup",
          "ec2:TerminateInstances",
        ],
        Resource: [ec2("security-group/*"), ec2("instance/*")],
        Condition: tagged,
      },
      {
        Sid: "PassInstanceRoleToEc2",
        Effect: "Allow",
        Action: ["iam:PassRole"],
        Resource: [arns.instanceRole],
        Condition: { StringEquals: { "iam:PassedToService": "ec2.amazonaws.com" } },
      },
      {
        Sid: "ReadAndDeleteKafkaParameters",
        Effect: "Allow",
        Action: [
          "ssm:GetParameters",
          "ssm:GetParametersByPath",
          "ssm:DeleteParameters",
        ],
        Resource: [arns.parameters, arns.parameters.replace(/\/\*$/, "")],
      },
      {
        Sid: "TeardownCatalog",
        Effect: "Allow",
        Action: [
          "glue:GetDatabase",
          "glue:GetTables",
          "glue:DeleteTable",
          "glue:DeleteDatabase",
          "glue:GetCrawler",
          "glue:DeleteCrawler",
        ],
        Resource: [...arns.catalog, arns.tablesOfDatabase, arns.crawler],
      },
      {
        Sid: "TeardownAthenaResults",
        Effect: "Allow",
        Action: ["s3:DeleteObject"],
        Resource: [arns.outputObjects],
      },
      listResultsPrefix(arns),
    ),
  };
}
