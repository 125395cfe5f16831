/**
 * Creates the kafkajs client every Kafka stage shares, with its logs routed to a {@linkcode Logger},
 * its security settings ({@linkcode KafkaSecurity}: TLS, SASL) turned into kafkajs `ssl`/`sasl`
 * options here and nowhere else, and its errors turned into messages that say what to check.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { connect as netConnect, isIP } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import { type ISocketFactory, Kafka, type LogEntry, logLevel, type SASLOptions } from "kafkajs";
import { type Logger, silentLogger } from "../log.ts";
import {
  type KafkaSecurity,
  KafkaSecurityError,
  kafkaSecurityFromEnv,
  parseKafkaSecurity,
  SECURITY_ENV,
  usesSasl,
  usesTls,
} from "./security.ts";

/** Options of {@linkcode createKafka}. */
export interface KafkaClientOptions {
  /** Bootstrap servers, `host:port`. */
  brokers: string[];
  /** Client id shown in broker logs. @default "stock-market-pipeline" */
  clientId?: string;
  /** Where kafkajs warnings and errors go. @default silentLogger */
  logger?: Logger;
  /** TCP connect timeout. @default 3000 */
  connectionTimeoutMs?: number;
  /** How long a request may wait for its response. @default {kafkajs' 30000} */
  requestTimeoutMs?: number;
  /** Retries of the initial connection and of retriable requests. @default 5 */
  retries?: number;
  /**
   * TLS and SASL settings, e.g. the {@linkcode PipelineConfig} from `loadConfig` (which carries
   * them). @default {the `KAFKA_SECURITY_PROTOCOL` … environment variables, so a notebook's
   * `createKafka({ brokers })` uses them too}
   */
  security?: KafkaSecurity;
}

/** The kafkajs options for a {@linkcode KafkaSecurity}: `ssl` and `sasl`, when used. */
export interface KafkaJsSecurity {
  /** TLS: `true` (the CAs Node trusts) or the CA of `KAFKA_SSL_CA_LOCATION`. */
  ssl?: ConnectionOptions | true;
  /** SASL login. */
  sasl?: SASLOptions;
}

/**
 * Turns security settings into kafkajs `ssl`/`sasl` options, reading the CA file.
 *
 * @example
 * ```ts
 * import { kafkaJsSecurity } from "./client.ts";
 * kafkaJsSecurity({ securityProtocol: "SASL_SSL", saslMechanism: "PLAIN",
 *   saslUsername: "API_KEY", saslPassword: "API_SECRET" });
 * // { ssl: true, sasl: { mechanism: "plain", username: "API_KEY", password: "API_SECRET" } }
 * ```
 * @throws {KafkaSecurityError} for settings that do not work together, or a CA file that cannot
 * be read or holds no PEM certificate.
 */
export function kafkaJsSecurity(security: KafkaSecurity): KafkaJsSecurity {
  // The same rules as the configuration, for settings built in code.
  const checked = parseKafkaSecurity((field) => security[field]);
  const result: KafkaJsSecurity = {};
  if (usesTls(checked.securityProtocol)) {
    result.ssl = checked.sslCaLocation === undefined
      ? true
      : { ca: [readCaFile(checked.sslCaLocation)] };
  }
  if (usesSasl(checked.securityProtocol)) {
    const username = checked.saslUsername!;
    const password = checked.saslPassword!;
    const mechanism = checked.saslMechanism!;
    result.sasl = mechanism === "PLAIN"
      ? { mechanism: "plain", username, password }
      : mechanism === "SCRAM-SHA-256"
      ? { mechanism: "scram-sha-256", username, password }
      : { mechanism: "scram-sha-512", username, password };
  }
  return result;
}

function readCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new KafkaSecurityError(
      `${SECURITY_ENV.sslCaLocation}=${path}: cannot read it (${(error as Error).message}). ` +
        "Point it at the PEM file of the CA that signed the brokers' certificates (the local " +
        "secure broker's is .cache/kafka/secure/tls/ca.pem), or unset it to trust the CAs Node " +
        "knows (Amazon MSK, Confluent Cloud).",
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new KafkaSecurityError(
      `${SECURITY_ENV.sslCaLocation}=${path} holds no PEM certificate ("-----BEGIN ` +
        'CERTIFICATE-----"): export the CA certificate as PEM (keytool -exportcert -rfc, ' +
        "openssl x509 -outform PEM).",
    );
  }
  return text;
}

/**
 * Brokers (`host:port`) that answered a client without TLS with a TLS record: a PLAINTEXT client
 * at a TLS listener. {@linkcode KafkaUnavailableError} then says to switch to TLS.
 */
const tlsSpeakers = new Set<string>();

/**
 * kafkajs' own socket factory, plus a look at the first bytes a plaintext connection receives: a
 * TLS alert record (`0x15 0x03`) means the listener speaks TLS.
 */
const watchingSocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : netConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  if (!ssl) {
    socket.once("data", (chunk: Uint8Array) => {
      if (chunk[0] === 0x15 && chunk[1] === 0x03) tlsSpeakers.add(`${host}:${port}`);
    });
  }
  return socket;
};

/**
 * Creates a kafkajs client. Retried, transient protocol errors (a coordinator still loading, a
 * leader moving) are not logged: if they persist they surface as an exception.
 *
 * Security settings come from `options.security`, else from the `KAFKA_SECURITY_PROTOCOL` …
 * environment variables; the password is never logged.
 *
 * @example
 * ```ts
 * import { createKafka } from "./client.ts";
 * const kafka = createKafka({ brokers: ["localhost:9092"] });
 * ```
 * @throws {KafkaSecurityError} for security settings that cannot work (see {@linkcode kafkaJsSecurity}).
 */
export function createKafka(options: KafkaClientOptions): Kafka {
  const logger = options.logger ?? silentLogger;
  const security = kafkaJsSecurity(options.security ?? kafkaSecurityFromEnv());
  return new Kafka({
    clientId: options.clientId ?? "stock-market-pipeline",
    brokers: options.brokers,
    ...security,
    socketFactory: watchingSocketFactory,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeout: options.requestTimeoutMs }),
    retry: { retries: options.retries ?? 5, initialRetryTime: 200, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, error } = entry.log as { message: string; error?: string };
      // Responses with retriable errors are logged by kafkajs before it retries them; not news.
      if (message.startsWith("[Connection] Response")) return;
      if (message.includes("switched default partitioner")) return;
      // Retries are bounded on purpose so a dead broker ends in a clear error, not a hang; the
      // idempotent producer still de-duplicates the retries it makes.
      if (message.includes("Limiting retries for the idempotent producer")) return;
      const text = `kafka: ${message}${error ? ` (${error})` : ""}`;
      if (entry.level === logLevel.ERROR) logger.warn(text);
      else logger.info(text);
    },
  });
}

// kafkajs' request queue arms timers with a negative delay when a request is already late; Node
// (and Deno's Node layer) then print a TimeoutNegativeWarning and use 1 ms, which is what kafkajs
// wants. Drop only that warning so it does not look like a failure.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof warning === "string" ? rest[0] : warning.name;
  if (name === "TimeoutNegativeWarning") return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

/**
 * Why the brokers could not be used: `unreachable` (no answer), `authentication` (SASL login
 * refused), `tls-expected` (a client without TLS at a TLS listener), `tls-untrusted` (the broker's
 * certificate does not verify), `tls-unexpected` (a TLS client at a listener without TLS).
 */
export type KafkaFailure =
  | "unreachable"
  | "authentication"
  | "tls-expected"
  | "tls-untrusted"
  | "tls-unexpected";

/** Raised when the brokers cannot be reached or refuse the client; says what to check. */
export class KafkaUnavailableError extends Error {
  /** What went wrong, to act on in code; the message says it for people. */
  readonly failure: KafkaFailure;
  /** Creates the error from the underlying kafkajs error. */
  constructor(brokers: string[], cause: unknown) {
    const failure = classifyKafkaFailure(brokers, cause);
    const reason = cause instanceof Error ? cause.message : String(cause);
    const where = `Kafka at ${brokers.join(",")}`;
    super(
      failure === "authentication"
        ? `${where}: authentication failed: check KAFKA_SASL_USERNAME/PASSWORD (and ` +
          `KAFKA_SASL_MECHANISM, which must be one the broker enables). The broker said: ${reason}.`
        : failure === "tls-expected"
        ? `${where}: the broker speaks TLS: set KAFKA_SECURITY_PROTOCOL=SASL_SSL (with ` +
          "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD), or SSL if it needs no " +
          "login; the local secure broker's settings are in .cache/kafka/client.env."
        : failure === "tls-untrusted"
        ? `${where}: the broker's TLS certificate is not trusted (${reason}): set ` +
          "KAFKA_SSL_CA_LOCATION to the PEM file of the CA that signed it (the local secure " +
          "broker's: .cache/kafka/secure/tls/ca.pem), and check that KAFKA_BROKERS uses a name " +
          "the certificate is for."
        : failure === "tls-unexpected"
        ? `${where}: the TLS handshake failed (${reason}): that listener may not speak TLS. ` +
          "Check the port (Amazon MSK: 9096 for SASL/SCRAM, 9094 for TLS) or set " +
          "KAFKA_SECURITY_PROTOCOL=PLAINTEXT for a broker without TLS."
        : `Cannot use ${where}: ${reason}. Check that the broker is running ` +
          "(`deno task up` starts a local one), that KAFKA_BROKERS (or --brokers) names it, and that " +
          "the broker's advertised.listeners is an address this machine can reach (on EC2: the " +
          "instance's public DNS, with port 9092 open to your IP); a broker that needs TLS or a " +
          "login also needs KAFKA_SECURITY_PROTOCOL and the KAFKA_SASL_* settings.",
      { cause },
    );
    this.name = "KafkaUnavailableError";
    this.failure = failure;
  }
}

/** Every error in a kafkajs error's chain (`cause`, `originalError`), outermost first. */
function errorChain(error: unknown): { name: string; message: string }[] {
  const chain = [];
  let current = error as {
    name?: string;
    message?: string;
    cause?: unknown;
    originalError?: unknown;
  };
  for (let depth = 0; current && depth < 10; depth++) {
    chain.push({ name: String(current.name ?? ""), message: String(current.message ?? current) });
    current = (current.cause ?? current.originalError) as typeof current;
  }
  return chain;
}

/** Reads the cause of a failed connection out of a kafkajs error (see {@linkcode KafkaFailure}). */
export function classifyKafkaFailure(brokers: readonly string[], error: unknown): KafkaFailure {
  const chain = errorChain(error);
  if (chain.some((e) => e.name === "KafkaJSSASLAuthenticationError")) return "authentication";
  if (
    brokers.some((broker) => tlsSpeakers.has(broker)) ||
    (brokers.length === 0 && tlsSpeakers.size > 0)
  ) {
    return "tls-expected";
  }
  const text = chain.map((e) => e.message).join(" ");
  if (
    /certificate|unable to verify|self[- ]signed|Hostname\/IP does not match|ERR_TLS_CERT/i.test(
      text,
    )
  ) {
    return "tls-untrusted";
  }
  if (
    /wrong version number|before secure TLS connection|ssl3_get_record|packet length too long/i
      .test(text)
  ) {
    return "tls-unexpected";
  }
  return "unreachable";
}

/**
 * True for the kafkajs errors that mean "no broker answered" (or it refused the login) rather than
 * a bad request.
 */
export function isConnectionError(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? "";
  return [
    "KafkaJSSASLAuthenticationError",
    "KafkaJSConnectionError",
    "KafkaJSNumberOfRetriesExceeded",
    "KafkaJSNonRetriableError",
    "KafkaJSBrokerNotFound",
    "KafkaJSRequestTimeoutError",
    "KafkaJSConnectionClosedError",
  ].includes(name);
}
