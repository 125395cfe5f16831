/**
 * One typed configuration for every stage, read from the environment and overridden by flags.
 *
 * @module
 */

import type { FlagSpec } from "./cli.ts";
import {
  KAFKA_SECURITY_FIELDS,
  type KafkaSecurity,
  KafkaSecurityError,
  parseKafkaSecurity,
  type SaslMechanism,
  type SecurityProtocol,
} from "./kafka/security.ts";
import {
  isValidBucketName,
  parseS3Uri,
  TABLE_PATTERN,
  TABLE_RULE,
  TOPIC_PATTERN,
  TOPIC_RULE,
} from "./lake/layout.ts";

/** Settings shared by the producer, consumer, catalog and query steps. */
export interface PipelineConfig {
  /** Kafka bootstrap servers. Env `KAFKA_BROKERS` (comma-separated), flag `--brokers`. @default ["localhost:9092"] */
  brokers: string[];
  /** Topic carrying the ticks. Env `KAFKA_TOPIC`, flag `--topic`. @default "stock_market" */
  topic: string;
  /** Consumer group of the lake sink. Env `KAFKA_GROUP`, flag `--group`. @default "stock_market_lake" */
  group: string;
  /** Lake root: a folder or `s3://bucket/prefix`. Env `LAKE_URI`, flag `--lake`. @default "./lake" */
  lake: string;
  /** AWS region. Env `AWS_REGION` (or `AWS_DEFAULT_REGION`), flag `--region`. @default "us-east-1" */
  region: string;
  /** Endpoint of an AWS emulator such as moto. Env `AWS_ENDPOINT_URL`, flag `--endpoint`. */
  endpoint?: string;
  /** Glue database. Env `GLUE_DATABASE`, flag `--database`. @default "stock_market" */
  database: string;
  /** Lake table. Env `GLUE_TABLE`, flag `--table`. @default "ticks" */
  table: string;
  /** Athena workgroup. Env `ATHENA_WORKGROUP`, flag `--workgroup`. @default "primary" */
  workgroup: string;
  /** Where Athena writes results, `s3://…`. Env `ATHENA_OUTPUT`, flag `--athena-output`. */
  athenaOutput?: string;
  /**
   * How Kafka clients talk to the brokers: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
   * Env `KAFKA_SECURITY_PROTOCOL`, flag `--security-protocol`. @default "PLAINTEXT"
   */
  securityProtocol: SecurityProtocol;
  /** SASL login: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Env `KAFKA_SASL_MECHANISM`, flag `--sasl-mechanism`. */
  saslMechanism?: SaslMechanism;
  /** SASL user (Confluent Cloud: API key). Env `KAFKA_SASL_USERNAME`, flag `--sasl-username`. */
  saslUsername?: string;
  /** SASL password (Confluent Cloud: API secret), never printed. Env `KAFKA_SASL_PASSWORD`, flag `--sasl-password`. */
  saslPassword?: string;
  /** PEM file of the brokers' CA. Env `KAFKA_SSL_CA_LOCATION`, flag `--ssl-ca-location`. @default the CAs Node trusts */
  sslCaLocation?: string;
}

/** The Kafka client security fields of {@linkcode PipelineConfig}, for {@linkcode configFlags}. */
export const SECURITY_FIELDS: readonly (keyof PipelineConfig & keyof KafkaSecurity)[] =
  KAFKA_SECURITY_FIELDS;

/** Where one {@linkcode PipelineConfig} field comes from, and what it means in `--help`. */
export interface ConfigSource {
  /** The environment variable. */
  env: string;
  /** The flag, without `--`. */
  flag: string;
  /** What the setting is, for `--help`. */
  description: string;
  /** Shown as the default when the field has none in {@linkcode DEFAULT_CONFIG}. */
  unset?: string;
}

/** Which environment variable and which flag set each field, for errors and `--help`. */
export const CONFIG_SOURCES: Record<keyof PipelineConfig, ConfigSource> = {
  brokers: {
    env: "KAFKA_BROKERS",
    flag: "brokers",
    description: "Kafka bootstrap servers, host:port[,host:port…]",
  },
  topic: { env: "KAFKA_TOPIC", flag: "topic", description: "Kafka topic of the ticks" },
  group: { env: "KAFKA_GROUP", flag: "group", description: "Consumer group of the lake sink" },
  lake: { env: "LAKE_URI", flag: "lake", description: "Lake root: a folder or s3://bucket/prefix" },
  region: { env: "AWS_REGION", flag: "region", description: "AWS region" },
  endpoint: {
    env: "AWS_ENDPOINT_URL",
    flag: "endpoint",
    description: "Endpoint of an AWS emulator such as moto (S3, Glue, Athena, EC2, STS)",
    unset: "real AWS",
  },
  database: { env: "GLUE_DATABASE", flag: "database", description: "Glue database" },
  table: { env: "GLUE_TABLE", flag: "table", description: "Lake table (Glue table)" },
  workgroup: { env: "ATHENA_WORKGROUP", flag: "workgroup", description: "Athena workgroup" },
  athenaOutput: {
    env: "ATHENA_OUTPUT",
    flag: "athena-output",
    description: "s3:// location for Athena results",
    unset: "the workgroup's",
  },
  securityProtocol: {
    env: "KAFKA_SECURITY_PROTOCOL",
    flag: "security-protocol",
    description: "Kafka security: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
  },
  saslMechanism: {
    env: "KAFKA_SASL_MECHANISM",
    flag: "sasl-mechanism",
    description: "SASL login: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
    unset: "none",
  },
  saslUsername: {
    env: "KAFKA_SASL_USERNAME",
    flag: "sasl-username",
    description: "SASL user name (Confluent Cloud: the API key)",
    unset: "none",
  },
  saslPassword: {
    env: "KAFKA_SASL_PASSWORD",
    flag: "sasl-password",
    description: "SASL password; prefer the variable (flags show in ps)",
    unset: "none",
  },
  sslCaLocation: {
    env: "KAFKA_SSL_CA_LOCATION",
    flag: "ssl-ca-location",
    description: "PEM file of the CA that signed the brokers' certificates",
    unset: "the CAs Node trusts",
  },
};

/** The defaults a fresh clone runs with: everything local. */
export const DEFAULT_CONFIG: Readonly<PipelineConfig> = {
  brokers: ["localhost:9092"],
  topic: "stock_market",
  group: "stock_market_lake",
  lake: "./lake",
  region: "us-east-1",
  database: "stock_market",
  table: "ticks",
  workgroup: "primary",
  securityProtocol: "PLAINTEXT",
};

/**
 * The flags of the given config fields, ready to spread into a script's flag table: each
 * described once, with its default and environment variable (`localhost:9092 (KAFKA_BROKERS)`).
 * {@linkcode loadConfig} reads the parsed values.
 *
 * @example
 * ```ts
 * import { configFlags } from "./config.ts";
 * const FLAGS = { ...configFlags("brokers", "topic"), limit: { type: "string", description: "Stop after N" } } as const;
 * FLAGS.brokers.default; // "localhost:9092 (KAFKA_BROKERS)"
 * ```
 */
export function configFlags(...fields: (keyof PipelineConfig)[]): Record<string, FlagSpec> {
  const flags: Record<string, FlagSpec> = {};
  for (const field of fields) {
    const { env, flag, description, unset } = CONFIG_SOURCES[field];
    const value = DEFAULT_CONFIG[field];
    const shown = Array.isArray(value) ? value.join(",") : value ?? unset;
    flags[flag] = { type: "string", description, default: `${shown} (${env})` };
  }
  return flags;
}

/** Raised for a setting that cannot be used; the message names the variable or flag and what it accepts. */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Options of {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** Parsed flags, by flag name (`brokers`, `lake`, …); these win over the environment. */
  flags?: Record<string, unknown>;
  /** The environment to read. @default Deno.env.toObject() */
  env?: Record<string, string | undefined>;
}

/**
 * Builds the configuration: defaults, then environment variables, then flags.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * const config = loadConfig({ env: { KAFKA_BROKERS: "b1:9092,b2:9092" }, flags: { topic: "t" } });
 * config.brokers; // ["b1:9092", "b2:9092"]
 * ```
 * @throws {ConfigError} naming the variable or flag when a value is malformed.
 */
export function loadConfig(options: LoadConfigOptions = {}): PipelineConfig {
  const env = options.env ?? Deno.env.toObject();
  const flags = options.flags ?? {};
  const pick = (field: keyof PipelineConfig): { value?: string; from: string } => {
    const { env: name, flag } = CONFIG_SOURCES[field];
    const fromFlag = flags[flag];
    if (fromFlag !== undefined && fromFlag !== null) {
      if (typeof fromFlag !== "string") throw new ConfigError(`--${flag} needs a value.`);
      return { value: fromFlag, from: `--${flag}` };
    }
    let fromEnv = env[name];
    if (field === "region" && !fromEnv) fromEnv = env.AWS_DEFAULT_REGION;
    return fromEnv ? { value: fromEnv, from: name } : { from: name };
  };
  const text = (
    field: keyof PipelineConfig,
    valid?: RegExp | ((value: string) => boolean),
    accepted?: string,
  ): string => {
    const { value, from } = pick(field);
    const result = value?.trim() || String(DEFAULT_CONFIG[field] ?? "");
    if (value !== undefined && value.trim() === "") {
      throw new ConfigError(`${from} is empty; unset it to use the default "${result}".`);
    }
    const ok = typeof valid === "function" ? valid(result) : valid?.test(result) ?? true;
    if (value !== undefined && !ok) {
      throw new ConfigError(`${from}="${value}" is not valid: expected ${accepted}.`);
    }
    return result;
  };
  const optional = (field: keyof PipelineConfig, pattern: RegExp, accepted: string) => {
    const { value, from } = pick(field);
    if (value === undefined || value.trim() === "") return undefined;
    if (!pattern.test(value.trim())) {
      throw new ConfigError(`${from}="${value}" is not valid: expected ${accepted}.`);
    }
    return value.trim();
  };

  const brokersSource = pick("brokers");
  const brokers = brokersSource.value === undefined
    ? [...DEFAULT_CONFIG.brokers]
    : brokersSource.value.split(",").map((b) => b.trim()).filter((b) => b !== "");
  for (const broker of brokers) {
    if (!/^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$/.test(broker)) {
      throw new ConfigError(
        `${brokersSource.from}="${brokersSource.value}" is not valid: expected host:port[,host:port…], e.g. localhost:9092.`,
      );
    }
  }
  if (brokers.length === 0) {
    throw new ConfigError(
      `${brokersSource.from} is empty: expected host:port, e.g. localhost:9092.`,
    );
  }
  let security: KafkaSecurity;
  try {
    const from = Object.fromEntries(SECURITY_FIELDS.map((field) => [field, pick(field).from]));
    security = parseKafkaSecurity((field) => pick(field).value?.trim() || undefined, from);
  } catch (error) {
    if (error instanceof KafkaSecurityError) throw new ConfigError(error.message);
    throw error;
  }
  return {
    ...security,
    securityProtocol: security.securityProtocol ?? DEFAULT_CONFIG.securityProtocol,
    brokers,
    topic: text("topic", TOPIC_PATTERN, TOPIC_RULE),
    group: text("group", /^[^\s]+$/, "a group id without spaces"),
    lake: text("lake", isLakeUri, "a folder or s3://bucket/prefix"),
    region: text("region", /^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region such as us-east-1"),
    endpoint: optional(
      "endpoint",
      /^https?:\/\/.+/,
      "an http(s):// URL such as http://127.0.0.1:5000",
    ),
    database: text("database", TABLE_PATTERN, TABLE_RULE),
    table: text("table", TABLE_PATTERN, TABLE_RULE),
    workgroup: text("workgroup", /^[A-Za-z0-9._-]{1,128}$/, "an Athena workgroup name"),
    athenaOutput: optional("athenaOutput", /^s3:\/\/.+/, "an s3://bucket/prefix/ location"),
  };
}

/** A folder, a `file://` URL, or `s3://` with a valid bucket name (the lake's own rules decide the rest). */
function isLakeUri(uri: string): boolean {
  const s3 = parseS3Uri(uri);
  if (s3) return isValidBucketName(s3.bucket);
  return /^([^:]+|file:\/\/.+)$/.test(uri);
}
