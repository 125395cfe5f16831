/**
 * How a Kafka client proves who it is and protects its traffic, named as librdkafka and the
 * Confluent clients name it: `KAFKA_SECURITY_PROTOCOL` (PLAINTEXT, SSL, SASL_PLAINTEXT,
 * SASL_SSL), `KAFKA_SASL_MECHANISM` (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), `KAFKA_SASL_USERNAME`,
 * `KAFKA_SASL_PASSWORD`, `KAFKA_SSL_CA_LOCATION`.
 *
 * This module holds the rules (which values, which combinations) and reads them from the
 * environment; {@linkcode createKafka} in `client.ts` turns them into kafkajs `ssl`/`sasl`
 * options. It imports nothing from kafkajs, so the configuration can use it cheaply.
 *
 * @module
 */

/** How the client talks to the brokers. */
export const SECURITY_PROTOCOLS = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] as const;

/** One of {@linkcode SECURITY_PROTOCOLS}. */
export type SecurityProtocol = typeof SECURITY_PROTOCOLS[number];

/** How the client logs in over SASL. */
export const SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;

/** One of {@linkcode SASL_MECHANISMS}. */
export type SaslMechanism = typeof SASL_MECHANISMS[number];

/** The client's security settings; every field optional (unset means PLAINTEXT, no login). */
export interface KafkaSecurity {
  /** `KAFKA_SECURITY_PROTOCOL`. @default {"PLAINTEXT"} */
  securityProtocol?: SecurityProtocol;
  /** `KAFKA_SASL_MECHANISM`: required with the SASL protocols. */
  saslMechanism?: SaslMechanism;
  /** `KAFKA_SASL_USERNAME` (Confluent Cloud: the API key). */
  saslUsername?: string;
  /** `KAFKA_SASL_PASSWORD` (Confluent Cloud: the API secret). Never printed. */
  saslPassword?: string;
  /**
   * `KAFKA_SSL_CA_LOCATION`: a PEM file of the CA that signed the brokers' certificates. Unset:
   * the CAs Node trusts (right for Amazon MSK and Confluent Cloud).
   */
  sslCaLocation?: string;
}

/** The environment variable of each {@linkcode KafkaSecurity} field. */
export const SECURITY_ENV: Readonly<Record<keyof KafkaSecurity, string>> = {
  securityProtocol: "KAFKA_SECURITY_PROTOCOL",
  saslMechanism: "KAFKA_SASL_MECHANISM",
  saslUsername: "KAFKA_SASL_USERNAME",
  saslPassword: "KAFKA_SASL_PASSWORD",
  sslCaLocation: "KAFKA_SSL_CA_LOCATION",
};

/** The {@linkcode KafkaSecurity} fields, in the order settings are shown. */
export const KAFKA_SECURITY_FIELDS: readonly (keyof KafkaSecurity)[] = [
  "securityProtocol",
  "saslMechanism",
  "saslUsername",
  "saslPassword",
  "sslCaLocation",
];

/** Raised for security settings that cannot work together; the message says what to set. */
export class KafkaSecurityError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "KafkaSecurityError";
  }
}

/** Whether a protocol logs in with SASL. */
export function usesSasl(protocol: SecurityProtocol | undefined): boolean {
  return protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL";
}

/** Whether a protocol encrypts with TLS. */
export function usesTls(protocol: SecurityProtocol | undefined): boolean {
  return protocol === "SSL" || protocol === "SASL_SSL";
}

/**
 * Reads a protocol name (any case); `undefined` for one that is not in {@linkcode SECURITY_PROTOCOLS}.
 */
export function parseSecurityProtocol(text: string): SecurityProtocol | undefined {
  const upper = text.trim().toUpperCase();
  return SECURITY_PROTOCOLS.find((p) => p === upper);
}

/**
 * Reads a mechanism name (any case, `SCRAM_SHA_512` too); `undefined` for one that is not in
 * {@linkcode SASL_MECHANISMS}.
 */
export function parseSaslMechanism(text: string): SaslMechanism | undefined {
  const upper = text.trim().toUpperCase().replaceAll("_", "-");
  return SASL_MECHANISMS.find((m) => m === upper);
}

/**
 * Checks that the settings work together: a SASL protocol has a mechanism, a user name and a
 * password; SASL settings are not given to a protocol without SASL (they would be ignored
 * silently), nor a CA file to one without TLS. `names` says how each field was set, for the
 * messages (default: its environment variable).
 *
 * @example
 * ```ts
 * import { checkKafkaSecurity } from "./security.ts";
 * checkKafkaSecurity({ securityProtocol: "SASL_SSL", saslMechanism: "SCRAM-SHA-512" });
 * // throws: KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD …
 * ```
 * @throws {KafkaSecurityError} naming the setting to change.
 */
export function checkKafkaSecurity(
  security: KafkaSecurity,
  names: Partial<Record<keyof KafkaSecurity, string>> = {},
): void {
  const name = (field: keyof KafkaSecurity) => names[field] ?? SECURITY_ENV[field];
  const protocol = security.securityProtocol ?? "PLAINTEXT";
  if (!SECURITY_PROTOCOLS.includes(protocol)) {
    throw new KafkaSecurityError(
      `${name("securityProtocol")}="${protocol}" is not valid: use ${
        SECURITY_PROTOCOLS.join(", ")
      }.`,
    );
  }
  const mechanism = security.saslMechanism;
  if (mechanism !== undefined && !SASL_MECHANISMS.includes(mechanism)) {
    throw new KafkaSecurityError(
      `${name("saslMechanism")}="${mechanism}" is not valid: use ${SASL_MECHANISMS.join(", ")}.`,
    );
  }
  const given = (["saslMechanism", "saslUsername", "saslPassword"] as const)
    .filter((field) => security[field] !== undefined);
  if (usesSasl(protocol)) {
    const missing = (["saslMechanism", "saslUsername", "saslPassword"] as const)
      .filter((field) => !security[field]);
    if (missing.length > 0) {
      throw new KafkaSecurityError(
        `${name("securityProtocol")}=${protocol} needs ${
          missing.map(name).join(" and ")
        } (Amazon MSK: SCRAM-SHA-512 and the secret's user name and password; Confluent Cloud: ` +
          "PLAIN with the API key and secret).",
      );
    }
  } else if (given.length > 0) {
    throw new KafkaSecurityError(
      `${given.map(name).join(", ")} ${given.length === 1 ? "is" : "are"} set but ` +
        `${name("securityProtocol")} is ${protocol}, which does not log in: set it to SASL_SSL ` +
        "(or SASL_PLAINTEXT), or unset the SASL settings.",
    );
  }
  if (security.sslCaLocation !== undefined && !usesTls(protocol)) {
    throw new KafkaSecurityError(
      `${name("sslCaLocation")} is set but ${name("securityProtocol")} is ${protocol}, which ` +
        "does not use TLS: set it to SASL_SSL (or SSL), or unset the CA.",
    );
  }
}

/**
 * The security settings in an environment (`KAFKA_SECURITY_PROTOCOL` …), checked with
 * {@linkcode checkKafkaSecurity}. Blank variables count as unset.
 *
 * @example
 * ```ts
 * import { kafkaSecurityFromEnv } from "./security.ts";
 * kafkaSecurityFromEnv({ KAFKA_SECURITY_PROTOCOL: "sasl_ssl", KAFKA_SASL_MECHANISM: "PLAIN",
 *   KAFKA_SASL_USERNAME: "key", KAFKA_SASL_PASSWORD: "secret" }).securityProtocol; // "SASL_SSL"
 * ```
 * @throws {KafkaSecurityError} naming the variable for an unknown protocol or mechanism, or a
 * combination that cannot work.
 */
export function kafkaSecurityFromEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  names: Partial<Record<keyof KafkaSecurity, string>> = {},
): KafkaSecurity {
  const raw = (field: keyof KafkaSecurity) => env[SECURITY_ENV[field]]?.trim() || undefined;
  return parseKafkaSecurity(raw, names);
}

/**
 * Builds {@linkcode KafkaSecurity} from raw text values (a flag, else an environment variable),
 * parsing names in any case, then checks it with {@linkcode checkKafkaSecurity}. `names` says
 * where each value came from, for the messages.
 *
 * @throws {KafkaSecurityError} as {@linkcode kafkaSecurityFromEnv}.
 */
export function parseKafkaSecurity(
  raw: (field: keyof KafkaSecurity) => string | undefined,
  names: Partial<Record<keyof KafkaSecurity, string>> = {},
): KafkaSecurity {
  const security: KafkaSecurity = {};
  const protocol = raw("securityProtocol");
  // An unknown name is kept as given, for checkKafkaSecurity to name in its error.
  if (protocol !== undefined) {
    security.securityProtocol = parseSecurityProtocol(protocol) ?? protocol as SecurityProtocol;
  }
  const mechanism = raw("saslMechanism");
  if (mechanism !== undefined) {
    security.saslMechanism = parseSaslMechanism(mechanism) ?? mechanism as SaslMechanism;
  }
  for (const field of ["saslUsername", "saslPassword", "sslCaLocation"] as const) {
    const value = raw(field);
    if (value !== undefined) security[field] = value;
  }
  checkKafkaSecurity(security, names);
  return security;
}

/**
 * The settings as `KEY=value` lines for a sourceable env file (`set -a; . file; set +a`), with
 * the password in it: write such a file readable by its owner only. A value with characters a
 * shell would change is single-quoted.
 *
 * @example
 * ```ts
 * import { renderClientEnv } from "./security.ts";
 * renderClientEnv(["127.0.0.1:9096"], { securityProtocol: "SASL_SSL", saslMechanism: "SCRAM-SHA-512",
 *   saslUsername: "pipeline", saslPassword: "s3cret", sslCaLocation: "/abs/ca.pem" });
 * // KAFKA_BROKERS=127.0.0.1:9096\nKAFKA_SECURITY_PROTOCOL=SASL_SSL\n…
 * ```
 * @throws {KafkaSecurityError} for settings that do not work together, or a value with a line break.
 */
export function renderClientEnv(brokers: readonly string[], security: KafkaSecurity): string {
  checkKafkaSecurity(security);
  const lines = [`KAFKA_BROKERS=${shellValue("KAFKA_BROKERS", brokers.join(","))}`];
  for (const field of KAFKA_SECURITY_FIELDS) {
    const value = security[field];
    if (value !== undefined) {
      lines.push(`${SECURITY_ENV[field]}=${shellValue(SECURITY_ENV[field], value)}`);
    }
  }
  return lines.join("\n") + "\n";
}

/** `value` as a shell reads it back unchanged: bare when safe, else single-quoted. */
function shellValue(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) {
    throw new KafkaSecurityError(`${name} has a line break; an env file cannot hold it.`);
  }
  if (/^[A-Za-z0-9_.,:\/@+=~-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}
