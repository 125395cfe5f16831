/**
 * `deno task doctor`: checks that each service the pipeline needs answers — AWS credentials, the
 * Kafka broker, the S3 lake bucket, the Glue catalog and Athena — and explains the usual reasons
 * when one does not (credentials, region, security group, `advertised.listeners`, missing bucket).
 *
 * Every check takes its client as an argument and returns a {@linkcode CheckResult}; none throws.
 *
 * @module
 */

import { GetCallerIdentityCommand, type STSClient } from "@aws-sdk/client-sts";
import { HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { GetDatabaseCommand, GetTableCommand, type GlueClient } from "@aws-sdk/client-glue";
import { type AthenaClient, GetWorkGroupCommand } from "@aws-sdk/client-athena";
import type { PipelineConfig } from "../../config.ts";
import { classifyKafkaFailure, createKafka, KafkaUnavailableError } from "../../kafka/client.ts";
import type { KafkaSecurity } from "../../kafka/security.ts";
import { parseS3Uri } from "../../lake/layout.ts";
import { tcpProbe } from "../tcp_probe.ts";

/** The outcome of one check. */
export interface CheckResult {
  /** What was checked, e.g. `Kafka broker`. */
  name: string;
  /** `ok`, `fail`, or `skip` when the check does not apply (e.g. S3 with a local lake). */
  status: "ok" | "fail" | "skip";
  /** What was found, in one sentence. */
  detail: string;
  /** For a failure: the likely causes and what to do. */
  hint?: string;
}

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
  errors?: unknown[];
}

/** The network error code (ECONNREFUSED, ENOTFOUND, …) behind an error, if any. */
function networkCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const e = current as AwsErrorShape;
    if (e.code && /^E[A-Z]+$/.test(e.code)) return e.code;
    const match = /\b(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET|EAI_AGAIN|EHOSTUNREACH)\b/.exec(
      e.message ?? "",
    );
    if (match) return match[1];
    if (e.name === "ConnectionRefused") return "ECONNREFUSED";
    if (e.name === "TimeoutError") return "ETIMEDOUT";
    current = e.cause ?? e.errors?.[0];
  }
  return undefined;
}

/**
 * Turns an error from the AWS SDK, kafkajs or this project into one readable line that says what
 * to do. Never includes credentials (the SDK's messages do not carry them).
 *
 * @example
 * ```ts
 * import { explainError } from "./doctor.ts";
 * explainError(Object.assign(new Error("x"), { name: "ExpiredToken" }));
 * // "Your AWS session has expired: …"
 * ```
 */
export function explainError(error: unknown): string {
  const e = (error ?? {}) as AwsErrorShape;
  const message = e.message ?? String(error);
  switch (e.name) {
    case "CredentialsProviderError":
      return "No AWS credentials found. Set AWS_PROFILE (after `aws configure` or `aws sso login`), " +
        "or run on an instance with a role; never put keys in files in this repository.";
    case "ExpiredToken":
    case "ExpiredTokenException":
    case "RequestExpired":
      return `Your AWS session has expired (${message}): run \`aws sso login\` or refresh your credentials.`;
    case "InvalidClientTokenId":
    case "UnrecognizedClientException":
    case "SignatureDoesNotMatch":
    case "AuthFailure":
      return `AWS rejected your credentials (${e.name}): check AWS_PROFILE or the keys in your environment, and that the clock is right.`;
    case "AccessDenied":
    case "AccessDeniedException":
    case "UnauthorizedOperation":
      return `AWS denied the call (${message}): give your identity the policy \`deno task iam\` prints for this step.`;
  }
  const code = networkCode(error);
  if (code === "ECONNREFUSED") {
    return `Connection refused (${message}): nothing listens there. Is the service running, and is AWS_ENDPOINT_URL (if set) right?`;
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return `Host not found (${message}): check the region (AWS_REGION) and the endpoint or broker name.`;
  }
  if (code === "ETIMEDOUT" || code === "EHOSTUNREACH") {
    return `No answer (${message}): a firewall or security group drops the traffic, or the machine is stopped.`;
  }
  return message;
}

function fail(name: string, detail: string, hint: string): CheckResult {
  return { name, status: "fail", detail, hint };
}

/**
 * Checks that the SDK's default credential chain yields credentials AWS accepts (STS
 * GetCallerIdentity needs no permission). Reports the account and identity ARN, never the keys.
 */
export async function checkCredentials(sts: STSClient): Promise<CheckResult> {
  const name = "AWS credentials";
  try {
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    return { name, status: "ok", detail: `Account ${identity.Account}, identity ${identity.Arn}.` };
  } catch (error) {
    return fail(
      name,
      "AWS did not accept a call with the default credential chain.",
      explainError(error),
    );
  }
}

/** Options of {@linkcode checkBroker}. */
export interface CheckBrokerOptions {
  /** Topic that must exist. @default {"stock_market"} */
  topic?: string;
  /** Give up connecting after this many milliseconds. @default {5000} */
  timeoutMs?: number;
  /** TLS and SASL settings of the client. @default {the KAFKA_SECURITY_PROTOCOL … variables} */
  security?: KafkaSecurity;
}

/**
 * Explains a broker whose bootstrap address answers but whose advertised addresses (what it tells
 * clients to connect to next) do not — the EC2 `advertised.listeners` mistake. Returns `undefined`
 * when every advertised address was reachable.
 */
export function diagnoseAdvertised(
  bootstrap: string,
  advertised: { host: string; port: number; error?: string }[],
): string | undefined {
  const bad = advertised.filter((b) => b.error);
  if (bad.length === 0) return undefined;
  const list = bad.map((b) => `${b.host}:${b.port} (${b.error})`).join(", ");
  const privateName = bad.some((b) =>
    /^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|ip-\d+-\d+-\d+-\d+)/.test(b.host)
  );
  return `${bootstrap} answers, but the broker tells clients to connect to ${list}, which this machine cannot reach. ` +
    (privateName
      ? "That is a private or local name: set advertised.listeners to the instance's public DNS name (the EC2 user-data of `deno task ec2` does this at every boot; restart the broker after a stop/start)."
      : "Check advertised.listeners on the broker and that the security group opens that port to your IP.");
}

/**
 * The command that starts the local broker these client settings talk to: the SASL_SSL one of
 * `deno task up --secure` when the client uses SASL_SSL, else the plaintext one.
 */
function localUpCommand(security: KafkaSecurity | undefined): string {
  return security?.securityProtocol === "SASL_SSL" ? "deno task up --secure" : "deno task up";
}

/**
 * Checks the Kafka broker: TCP reachability of each bootstrap address, the metadata it returns
 * (advertised addresses must be reachable too) and that the topic exists.
 */
export async function checkBroker(
  brokers: string[],
  options: CheckBrokerOptions = {},
): Promise<CheckResult> {
  const name = "Kafka broker";
  const timeoutMs = options.timeoutMs ?? 5000;
  const topic = options.topic ?? "stock_market";
  const bootstrap = brokers.join(",");
  for (const broker of brokers) {
    const at = broker.lastIndexOf(":");
    const error = await tcpProbe(broker.slice(0, at), Number(broker.slice(at + 1)), timeoutMs);
    if (!error) continue;
    const hint = error === "ECONNREFUSED"
      ? `Nothing listens there: start the local broker with \`${
        localUpCommand(options.security)
      }\`, or on EC2 wait for the user-data to finish (\`sudo tail /var/log/kafka-setup.log\`) and check \`systemctl status kafka\`.`
      : error === "ENOTFOUND"
      ? "The name does not resolve: copy KAFKA_BROKERS again from `deno task ec2 apply` (the public DNS name changes when an instance is stopped and started)."
      : "No answer: the security group must open 9092 to your current public IP (re-run `deno task ec2 apply --my-ip <your ip>` after your IP changes), and the instance must be running.";
    return fail(name, `Cannot connect to ${broker} (${error}).`, hint);
  }
  const kafka = createKafka({
    clientId: "stock-market-doctor",
    brokers,
    connectionTimeoutMs: timeoutMs,
    requestTimeoutMs: timeoutMs,
    retries: 0,
    security: options.security,
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const advertised = [];
    for (const b of cluster.brokers) {
      advertised.push({ ...b, error: await tcpProbe(b.host, b.port, timeoutMs) });
    }
    const problem = diagnoseAdvertised(bootstrap, advertised);
    if (problem) {
      return fail(name, "The broker advertises an address this machine cannot reach.", problem);
    }
    const topics = await admin.listTopics();
    if (!topics.includes(topic)) {
      return fail(
        name,
        `${bootstrap} answers, but topic "${topic}" does not exist.`,
        `Topics are created up front (auto-creation is off): \`${
          localUpCommand(options.security)
        }\` does it locally, the EC2 user-data on first boot; or set KAFKA_TOPIC to the topic you use.`,
      );
    }
    return {
      name,
      status: "ok",
      detail: `${bootstrap} answers (advertised ${
        cluster.brokers.map((b) => `${b.host}:${b.port}`).join(", ")
      }); topic "${topic}" exists.`,
    };
  } catch (error) {
    if (classifyKafkaFailure(brokers, error) !== "unreachable") {
      // TLS or login trouble: the client's security settings are the cause, and the error says which.
      return fail(
        name,
        `${bootstrap} accepts connections but refuses this client.`,
        new KafkaUnavailableError(brokers, error).message,
      );
    }
    return fail(
      name,
      `${bootstrap} accepts connections but Kafka calls fail.`,
      explainError(error),
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/** Checks that the lake bucket exists, is reachable with these credentials, and is in this region. */
export async function checkS3(s3: S3Client, lake: string): Promise<CheckResult> {
  const name = "S3 lake";
  const location = parseS3Uri(lake);
  if (!location) {
    return {
      name,
      status: "skip",
      detail: `The lake is the local folder ${lake}; S3 is not used.`,
    };
  }
  try {
    await s3.send(new HeadBucketCommand({ Bucket: location.bucket }));
    return { name, status: "ok", detail: `Bucket ${location.bucket} exists and is reachable.` };
  } catch (error) {
    const status = (error as AwsErrorShape).$metadata?.httpStatusCode;
    if (status === 404 || (error as AwsErrorShape).name === "NotFound") {
      return fail(
        name,
        `Bucket ${location.bucket} does not exist.`,
        `Create it in your region (\`aws s3 mb s3://${location.bucket}\`), or fix LAKE_URI (now ${lake}).`,
      );
    }
    if (status === 301) {
      return fail(
        name,
        `Bucket ${location.bucket} is in another region.`,
        "Set AWS_REGION to the bucket's region (`aws s3api get-bucket-location --bucket …`); Glue and Athena must use that region too.",
      );
    }
    if (status === 403) {
      return fail(
        name,
        `Access to bucket ${location.bucket} is denied.`,
        "Your identity lacks s3:ListBucket on it (or the bucket belongs to another account): attach the policies from `deno task iam`.",
      );
    }
    return fail(name, `Cannot reach bucket ${location.bucket}.`, explainError(error));
  }
}

/** Checks that the Glue database and table exist. */
export async function checkGlue(
  glue: GlueClient,
  database: string,
  table: string,
): Promise<CheckResult> {
  const name = "Glue catalog";
  try {
    await glue.send(new GetDatabaseCommand({ Name: database }));
  } catch (error) {
    if ((error as AwsErrorShape).name === "EntityNotFoundException") {
      return fail(
        name,
        `Database ${database} does not exist in this region.`,
        "Run `deno task crawl` after the consumer has written to the lake; check AWS_REGION matches the bucket's.",
      );
    }
    return fail(name, "Cannot reach AWS Glue.", explainError(error));
  }
  try {
    await glue.send(new GetTableCommand({ DatabaseName: database, Name: table }));
    return { name, status: "ok", detail: `Table ${database}.${table} exists.` };
  } catch (error) {
    if ((error as AwsErrorShape).name === "EntityNotFoundException") {
      return fail(
        name,
        `Database ${database} exists but table ${table} does not.`,
        "Run `deno task crawl` once the consumer has written Parquet files to the lake.",
      );
    }
    return fail(name, "Cannot read the Glue table.", explainError(error));
  }
}

/** Checks that the Athena workgroup exists and that query results have somewhere to go. */
export async function checkAthena(
  athena: AthenaClient,
  workgroup: string,
  athenaOutput?: string,
): Promise<CheckResult> {
  const name = "Athena";
  try {
    const { WorkGroup } = await athena.send(new GetWorkGroupCommand({ WorkGroup: workgroup }));
    const output = athenaOutput ??
      WorkGroup?.Configuration?.ResultConfiguration?.OutputLocation;
    if (!output) {
      return fail(
        name,
        `Workgroup ${workgroup} has no query result location.`,
        "Set ATHENA_OUTPUT=s3://<bucket>/athena-results/ (a bucket in the same region), or configure one on the workgroup.",
      );
    }
    if (WorkGroup?.State === "DISABLED") {
      return fail(
        name,
        `Workgroup ${workgroup} is disabled.`,
        "Enable it in the Athena console or use another.",
      );
    }
    return {
      name,
      status: "ok",
      detail: `Workgroup ${workgroup} is ready; results go to ${output}.`,
    };
  } catch (error) {
    const e = error as AwsErrorShape;
    if (e.name === "InvalidRequestException" && /not found|does not exist/i.test(e.message ?? "")) {
      return fail(
        name,
        `Workgroup ${workgroup} does not exist in this region.`,
        "Set ATHENA_WORKGROUP to an existing workgroup (`primary` always exists).",
      );
    }
    return fail(name, "Cannot reach Athena.", explainError(error));
  }
}

/** The clients {@linkcode runDoctor} uses; leave one out to skip its checks. */
export interface DoctorClients {
  /** For the credentials check. */
  sts?: STSClient;
  /** For the lake bucket check. */
  s3?: S3Client;
  /** For the catalog check. */
  glue?: GlueClient;
  /** For the Athena check. */
  athena?: AthenaClient;
}

/**
 * Runs every check in order: credentials, broker, S3, Glue, Athena. AWS checks are skipped for a
 * local lake (nothing in AWS is needed then).
 */
export async function runDoctor(
  config: PipelineConfig,
  clients: DoctorClients,
  options: CheckBrokerOptions = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const local = parseS3Uri(config.lake) === undefined;
  const skip = (name: string, why: string): CheckResult => ({ name, status: "skip", detail: why });
  const localWhy = `The lake is the local folder ${config.lake}; AWS is not used.`;
  results.push(
    local || !clients.sts ? skip("AWS credentials", localWhy) : await checkCredentials(clients.sts),
  );
  results.push(
    await checkBroker(config.brokers, { topic: config.topic, security: config, ...options }),
  );
  results.push(!clients.s3 ? skip("S3 lake", localWhy) : await checkS3(clients.s3, config.lake));
  results.push(
    local || !clients.glue
      ? skip("Glue catalog", localWhy)
      : await checkGlue(clients.glue, config.database, config.table),
  );
  results.push(
    local || !clients.athena
      ? skip("Athena", localWhy)
      : await checkAthena(clients.athena, config.workgroup, config.athenaOutput),
  );
  return results;
}

/** Formats results as lines: `ok   Kafka broker: …`, with the hint indented under a failure. */
export function formatReport(results: CheckResult[]): string {
  return results.map((r) =>
    `${r.status.padEnd(4)} ${r.name}: ${r.detail}${r.hint ? `\n       → ${r.hint}` : ""}`
  ).join("\n") + "\n";
}
