/**
 * Brings up and down the local services the pipeline and its tests run against: the Kafka broker
 * ({@linkcode LocalBroker}) and, for AWS work, moto ({@linkcode MotoServer}) from the project's
 * Python environment. Services that are already running are used as they are and never stopped by
 * the code that found them; services configured elsewhere (`KAFKA_BROKERS`, `AWS_ENDPOINT_URL`
 * pointing away from the local defaults) are not started at all.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log.ts";
import { KAFKA_VERSION } from "./broker_config.ts";
import { LocalBroker } from "./local_broker.ts";
import { awsEmulatorEnv, MotoServer } from "./moto.ts";
import { ensurePythonEnv, type PythonEnv } from "./python_env.ts";

/** `KAFKA_BROKERS` values that mean "the local broker". */
export const LOCAL_BROKERS: readonly string[] = ["localhost:9092", "127.0.0.1:9092"];

/** `AWS_ENDPOINT_URL` values that mean "the local moto". */
export const LOCAL_ENDPOINTS: readonly string[] = [
  "http://127.0.0.1:5000",
  "http://localhost:5000",
];

/** Whether `KAFKA_BROKERS` is unset or names the local default broker. */
export function isLocalBrokers(value: string | undefined): boolean {
  return value === undefined || value.trim() === "" ||
    LOCAL_BROKERS.includes(value.trim().replace(/\/$/, ""));
}

/** Whether `AWS_ENDPOINT_URL` is unset or names the local default moto. */
export function isLocalEndpoint(value: string | undefined): boolean {
  return value === undefined || value.trim() === "" ||
    LOCAL_ENDPOINTS.includes(value.trim().replace(/\/$/, ""));
}

/** What happened to one service. */
export interface ServiceReport {
  /** `started`: by this call; `running`: found running; `external`: configured elsewhere, untouched. */
  action: "started" | "running" | "external";
  /** `host:port` (Kafka) or `http://host:port` (moto). */
  address: string;
  /** Whether the running service was started by this project (pid file), so `down` can stop it. */
  ours: boolean;
  /** The log file of a local service. */
  logFile?: string;
  /** Milliseconds spent getting it ready (downloads included). */
  elapsedMs: number;
}

/** Options of {@linkcode upLocalServices}. */
export interface UpOptions {
  /** Also set up the Python environment and moto. @default {false} */
  aws?: boolean;
  /** The environment that may point elsewhere (`KAFKA_BROKERS`, `AWS_ENDPOINT_URL`). @default {Deno.env.toObject()} */
  env?: Record<string, string | undefined>;
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
  /** The broker to control. @default {new LocalBroker({ logger })} */
  broker?: LocalBroker;
  /** The moto server to control. @default {new MotoServer({ logger })} */
  moto?: MotoServer;
}

/** What {@linkcode upLocalServices} did. */
export interface UpResult {
  /** The Kafka broker. */
  kafka: ServiceReport;
  /** moto, with `aws`. */
  moto?: ServiceReport;
  /** The Python environment, with `aws`. */
  python?: PythonEnv;
  /** The variables that point a process at these services (`KAFKA_BROKERS`, `AWS_*`). */
  env: Record<string, string>;
}

/**
 * Makes the local services available: ensures the Kafka jars and starts the broker (unless
 * `KAFKA_BROKERS` points elsewhere), and with `aws` ensures the Python environment and starts moto
 * (unless `AWS_ENDPOINT_URL` points elsewhere).
 *
 * @example
 * ```ts
 * import { upLocalServices } from "./local_services.ts";
 * const { kafka, env } = await upLocalServices({ aws: true });
 * kafka.action; // "started" | "running" | "external"
 * env.AWS_ENDPOINT_URL; // "http://127.0.0.1:5000"
 * ```
 * @throws {MissingToolError} / {LocalBrokerError} / {PythonEnvError} / {MotoError} with what to do.
 */
export async function upLocalServices(options: UpOptions = {}): Promise<UpResult> {
  const env = options.env ?? Deno.env.toObject();
  const logger = options.logger ?? silentLogger;
  const result: Partial<UpResult> & { env: Record<string, string> } = { env: {} };

  let started = Date.now();
  if (!isLocalBrokers(env.KAFKA_BROKERS)) {
    logger.info(`KAFKA_BROKERS=${env.KAFKA_BROKERS}: using that broker, not starting a local one.`);
    result.kafka = { action: "external", address: env.KAFKA_BROKERS!, ours: false, elapsedMs: 0 };
    result.env.KAFKA_BROKERS = env.KAFKA_BROKERS!;
  } else {
    const broker = options.broker ?? new LocalBroker({ logger });
    await broker.ensureJars();
    const status = await broker.start();
    result.kafka = {
      action: status.alreadyRunning ? "running" : "started",
      address: status.bootstrap,
      ours: status.ours,
      logFile: status.logFile,
      elapsedMs: Date.now() - started,
    };
    result.env.KAFKA_BROKERS = status.bootstrap;
  }

  if (options.aws) {
    started = Date.now();
    result.python = await ensurePythonEnv({ logger });
    if (!isLocalEndpoint(env.AWS_ENDPOINT_URL)) {
      logger.info(
        `AWS_ENDPOINT_URL=${env.AWS_ENDPOINT_URL}: using that endpoint, not starting moto.`,
      );
      result.moto = {
        action: "external",
        address: env.AWS_ENDPOINT_URL!,
        ours: false,
        elapsedMs: 0,
      };
    } else {
      const moto = options.moto ?? new MotoServer({ logger });
      const status = await moto.start();
      result.moto = {
        action: status.alreadyRunning ? "running" : "started",
        address: status.endpoint,
        ours: status.ours,
        logFile: status.logFile,
        elapsedMs: Date.now() - started,
      };
      Object.assign(result.env, awsEmulatorEnv(status.endpoint));
    }
  }
  return result as UpResult;
}

/** Options of {@linkcode downLocalServices}. */
export interface DownOptions {
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
  /** Which services to stop. @default {["kafka", "moto"]} */
  only?: ("kafka" | "moto")[];
  /** The broker to control. @default {new LocalBroker({ logger })} */
  broker?: LocalBroker;
  /** The moto server to control. @default {new MotoServer({ logger })} */
  moto?: MotoServer;
}

/** One line per service saying what {@linkcode downLocalServices} did. */
export interface DownResult {
  /** The broker's outcome. */
  kafka?: "stopped" | "killed" | "not running" | "not ours";
  /** moto's outcome. */
  moto?: "stopped" | "killed" | "not running" | "not ours";
}

/**
 * Stops the local broker and moto if this project started them (pid files under `.cache/`);
 * services started some other way are left running.
 */
export async function downLocalServices(options: DownOptions = {}): Promise<DownResult> {
  const logger = options.logger ?? silentLogger;
  const only = options.only ?? ["kafka", "moto"];
  const result: DownResult = {};
  if (only.includes("kafka")) {
    result.kafka = (await (options.broker ?? new LocalBroker({ logger })).stop()).outcome;
  }
  if (only.includes("moto")) {
    result.moto = (await (options.moto ?? new MotoServer({ logger })).stop()).outcome;
  }
  return result;
}

/** A one-line summary of a service report, e.g. `Kafka 3.9.1 ready on 127.0.0.1:9092 (log: …)`. */
export function describeService(name: "kafka" | "moto", report: ServiceReport): string {
  const label = name === "kafka" ? `Kafka ${KAFKA_VERSION}` : "moto";
  const where = name === "kafka" ? "on" : "at";
  if (report.action === "external") {
    return `${label}: using ${report.address} (configured, not started here)`;
  }
  const how = report.action === "started"
    ? `started in ${(report.elapsedMs / 1000).toFixed(1)} s`
    : report.ours
    ? "already running"
    : "already running, started outside this project";
  return `${label} ready ${where} ${report.address} (${how}${
    report.logFile && report.ours ? `; log: ${report.logFile}` : ""
  })`;
}
