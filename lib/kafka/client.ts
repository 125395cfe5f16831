/**
 * Creates the kafkajs client every Kafka stage shares, with its logs routed to a {@linkcode Logger}
 * and its errors turned into messages that say what to check.
 *
 * @module
 */

import { Kafka, type LogEntry, logLevel } from "kafkajs";
import { type Logger, silentLogger } from "../log.ts";

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
  /** Retries of the initial connection and of retriable requests. @default 5 */
  retries?: number;
}

/**
 * Creates a kafkajs client. Retried, transient protocol errors (a coordinator still loading, a
 * leader moving) are not logged: if they persist they surface as an exception.
 *
 * @example
 * ```ts
 * import { createKafka } from "./client.ts";
 * const kafka = createKafka({ brokers: ["localhost:9092"] });
 * ```
 */
export function createKafka(options: KafkaClientOptions): Kafka {
  const logger = options.logger ?? silentLogger;
  return new Kafka({
    clientId: options.clientId ?? "stock-market-pipeline",
    brokers: options.brokers,
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
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

/** Raised when the brokers cannot be reached or refuse the client; says what to check. */
export class KafkaUnavailableError extends Error {
  /** Creates the error from the underlying kafkajs error. */
  constructor(brokers: string[], cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `Cannot use Kafka at ${brokers.join(",")}: ${reason}. Check that the broker is running ` +
        "(`deno task up` starts a local one), that KAFKA_BROKERS (or --brokers) names it, and that " +
        "the broker's advertised.listeners is an address this machine can reach (on EC2: the " +
        "instance's public DNS, with port 9092 open to your IP).",
      { cause },
    );
    this.name = "KafkaUnavailableError";
  }
}

/** True for the kafkajs errors that mean "no broker answered" rather than a bad request. */
export function isConnectionError(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? "";
  return [
    "KafkaJSConnectionError",
    "KafkaJSNumberOfRetriesExceeded",
    "KafkaJSNonRetriableError",
    "KafkaJSBrokerNotFound",
    "KafkaJSRequestTimeoutError",
    "KafkaJSConnectionClosedError",
  ].includes(name);
}
