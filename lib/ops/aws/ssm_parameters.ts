/**
 * Where the EC2 broker keeps the client settings it generates at first boot: SSM Parameter Store,
 * as `SecureString`s under one prefix per deployment, `/stock-market-pipeline/<name>/kafka/`
 * (`ca.pem`, `username`, `password`). The instance writes them (its role may put only under that
 * prefix); {@linkcode fetchKafkaCredentials} reads them back on the learner's machine and
 * {@linkcode writeClientEnv} turns them into the `client.env` + CA file every command reads.
 *
 * @module
 */

import {
  DeleteParametersCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
} from "@aws-sdk/client-ssm";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { renderClientEnv } from "../../kafka/security.ts";
import { SCRAM_MECHANISM } from "../broker_config.ts";

/** The root of every parameter this project creates (the `Project` tag's value). */
export const PARAMETER_ROOT = "/stock-market-pipeline";

/** The three parameters the broker's user data puts, relative to {@linkcode kafkaParameterPath}. */
export const KAFKA_PARAMETERS = ["ca.pem", "username", "password"] as const;

/** The SCRAM user the pipeline's producer and consumer log in as (ACLs are granted to it). */
export const PIPELINE_KAFKA_USER = "pipeline";

/**
 * The parameter folder of one deployment, e.g. `/stock-market-pipeline/stock-market-kafka/kafka`.
 *
 * @example
 * ```ts
 * import { kafkaParameterPath } from "./ssm_parameters.ts";
 * kafkaParameterPath("stock-market-kafka"); // "/stock-market-pipeline/stock-market-kafka/kafka"
 * ```
 */
export function kafkaParameterPath(name: string): string {
  return `${PARAMETER_ROOT}/${name}/kafka`;
}

/** The part of an SSM client this module uses (the SDK's `SSMClient` fits). */
export interface SsmLike {
  /** Sends one command. */
  send(command: unknown): Promise<unknown>;
}

/** Raised when the parameters are missing or unreadable; the message says what to do. */
export class KafkaCredentialsError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KafkaCredentialsError";
  }
}

/** The client settings of a secure broker, as read from Parameter Store. */
export interface KafkaCredentials {
  /** The CA certificate (PEM) that signed the broker's certificate. */
  caPem: string;
  /** SCRAM user name. */
  username: string;
  /** SCRAM password. */
  password: string;
}

/**
 * Reads the CA, user name and password of deployment `name` (decrypted). Needs
 * `ssm:GetParameters` on the prefix (the `ec2-operator` policy of `deno task iam`).
 *
 * @throws {KafkaCredentialsError} when a parameter is missing (the broker has not finished its
 * first boot, or its instance role cannot put parameters) — the message says what to check.
 */
export async function fetchKafkaCredentials(
  ssm: SsmLike,
  name: string,
): Promise<KafkaCredentials> {
  const path = kafkaParameterPath(name);
  const names = KAFKA_PARAMETERS.map((p) => `${path}/${p}`);
  const result = await ssm.send(
    new GetParametersCommand({ Names: names, WithDecryption: true }),
  ) as { Parameters?: { Name?: string; Value?: string }[]; InvalidParameters?: string[] };
  const values = new Map((result.Parameters ?? []).map((p) => [p.Name, p.Value ?? ""]));
  const missing = names.filter((n) => !values.get(n));
  if (missing.length > 0) {
    throw new KafkaCredentialsError(
      `Parameter Store has no ${
        missing.join(", ")
      }: the broker writes them at the end of its first boot ` +
        `(2-4 minutes after \`deno task ec2 apply\`). If it is older than that, read its log with SSM ` +
        `Session Manager (sudo cat /var/log/kafka-setup.log): its instance role needs ssm:PutParameter on ${path}/*.`,
    );
  }
  return {
    caPem: values.get(`${path}/ca.pem`)!,
    username: values.get(`${path}/username`)!,
    password: values.get(`${path}/password`)!,
  };
}

/** Options of {@linkcode writeClientEnv}. */
export interface WriteClientEnvOptions {
  /** The folder to write `client.env` and `ca.pem` to; created owner-only (0700). */
  dir: string;
  /** The bootstrap address, e.g. `ec2-….compute.amazonaws.com:9092`. */
  brokers: string;
  /** What {@linkcode fetchKafkaCredentials} returned. */
  credentials: KafkaCredentials;
}

/**
 * Writes `<dir>/ca.pem` and `<dir>/client.env` (both 0600, the folder 0700); returns their paths.
 */
export async function writeClientEnv(
  options: WriteClientEnvOptions,
): Promise<{ envFile: string; caFile: string }> {
  const dir = resolve(options.dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caFile = join(dir, "ca.pem");
  const envFile = join(dir, "client.env");
  await writeFile(caFile, options.credentials.caPem.trimEnd() + "\n", { mode: 0o600 });
  const { username, password } = options.credentials;
  const text = "# Kafka client settings of the EC2 broker (deno task ec2 credentials). " +
    "Secret: keep it out of git.\n" +
    renderClientEnv(options.brokers.split(","), {
      securityProtocol: "SASL_SSL",
      saslMechanism: SCRAM_MECHANISM,
      saslUsername: username,
      saslPassword: password,
      sslCaLocation: caFile,
    });
  await writeFile(envFile, text, { mode: 0o600 });
  return { envFile, caFile };
}

/**
 * Deletes the parameters of deployment `name` that exist; returns their names. Needs
 * `ssm:GetParametersByPath` and `ssm:DeleteParameters` on the prefix.
 */
export async function deleteKafkaParameters(ssm: SsmLike, name: string): Promise<string[]> {
  const found = await listKafkaParameters(ssm, name);
  if (found.length > 0) await ssm.send(new DeleteParametersCommand({ Names: found }));
  return found;
}

/** The names of the parameters deployment `name` has in Parameter Store. */
export async function listKafkaParameters(ssm: SsmLike, name: string): Promise<string[]> {
  const found: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({
        Path: kafkaParameterPath(name),
        Recursive: true,
        NextToken,
      }),
    ) as { Parameters?: { Name?: string }[]; NextToken?: string };
    for (const p of page.Parameters ?? []) if (p.Name) found.push(p.Name);
    NextToken = page.NextToken;
  } while (NextToken);
  return found;
}
