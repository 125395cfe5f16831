/**
 * Brings up and down the local services the pipeline and its tests run against: the Kafka broker
 * ({@linkcode LocalBroker}), or a local cluster of several ({@linkcode LocalCluster}), and, for AWS
 * work, moto ({@linkcode MotoServer}) from the project's Python environment. Services that are already running are used as they are and never stopped by
 * the code that found them; services configured elsewhere (`KAFKA_BROKERS`, `AWS_ENDPOINT_URL`
 * pointing away from the local defaults) are not started at all. With `secure` the broker is the
 * secure one of {@linkcode prepareSecureKafka} (SASL_SSL + SCRAM-SHA-512 on 9096), and its
 * client settings are written to `.cache/kafka/client.env`.
 *
 * @module
 */

import { type Logger, silentLogger } from "../../log.ts";
import { KAFKA_VERSION } from "../broker_config.ts";
import {
  LocalBrokerError,
  LocalCluster,
  MAX_LOCAL_BROKERS,
  type NodeStopResult,
  runningLocalKafka,
} from "./local_broker.ts";
import { awsEmulatorEnv, MotoServer } from "./moto.ts";
import { prepareSecureKafka, secureKafkaToStop, writeSecureClientEnv } from "./secure_kafka.ts";
import { createKafka } from "../../kafka/client.ts";
import {
  KAFKA_SECURITY_FIELDS,
  type KafkaSecurity,
  SECURITY_ENV,
  usesSasl,
} from "../../kafka/security.ts";
import { ensurePythonEnv, type PythonEnv } from "./python_env.ts";

/** `KAFKA_BROKERS` values that mean "the local broker" (each node of a local cluster counts too). */
export const LOCAL_BROKERS: readonly string[] = ["localhost", "127.0.0.1"].flatMap((host) =>
  Array.from({ length: MAX_LOCAL_BROKERS }, (_, i) => `${host}:${9092 + i}`)
);

/** `AWS_ENDPOINT_URL` values that mean "the local moto". */
export const LOCAL_ENDPOINTS: readonly string[] = [
  "http://127.0.0.1:5000",
  "http://localhost:5000",
];

/**
 * Whether `KAFKA_BROKERS` is unset or names only the local default broker or nodes of the local
 * default cluster (`127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094`).
 */
export function isLocalBrokers(value: string | undefined): boolean {
  return value === undefined || value.trim() === "" ||
    value.split(",").every((entry) => LOCAL_BROKERS.includes(entry.trim().replace(/\/$/, "")));
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
  /** The log file of a local service (`…/node-<id>/broker.log` for a cluster). */
  logFile?: string;
  /** Milliseconds spent getting it ready (downloads included). */
  elapsedMs: number;
  /** Kafka: number of nodes of the local Kafka. */
  brokers?: number;
  /** Kafka: ids of the nodes this call started (all on a fresh start, the missing ones later). */
  startedNodes?: number[];
  /** Kafka: the secure broker's client settings file (`.cache/kafka/client.env`). */
  clientEnvFile?: string;
}

/** Options of {@linkcode upLocalServices}. */
export interface UpOptions {
  /** Also set up the Python environment and moto. @default {false} */
  aws?: boolean;
  /** The environment that may point elsewhere (`KAFKA_BROKERS`, `AWS_ENDPOINT_URL`). @default {Deno.env.toObject()} */
  env?: Record<string, string | undefined>;
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
  /**
   * Nodes of the local Kafka: 1 (the single broker) or a cluster of up to
   * {@linkcode MAX_LOCAL_BROKERS}. @default {the size of the one running from .cache/kafka, else 1}
   */
  brokers?: number;
  /**
   * First client port of the local Kafka (node `i` listens on `port + i - 1`, its controller 100
   * higher). @default {9092, or the recorded cluster's}
   */
  port?: number;
  /** The local Kafka to control (overrides `brokers` and `port`). @default {new LocalCluster({ brokers, logger })} */
  cluster?: LocalCluster;
  /**
   * Run the secure broker (SASL_SSL + SCRAM-SHA-512, single node, port 9096 unless `port`) and
   * write `.cache/kafka/client.env`. @default {true when the environment asks for a SASL protocol
   * (`KAFKA_SECURITY_PROTOCOL`, e.g. after loading client.env) for a local broker}
   */
  secure?: boolean;
  /** With `secure`: the Kafka cache folder. @default {".cache/kafka"} */
  cacheDir?: string;
  /** With `secure`: the jars folder (tests share the project's). @default {"<cacheDir>/jars"} */
  jarsDir?: string;
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
 * Makes the local services available: ensures the Kafka jars and starts the broker, or every
 * missing node of a local cluster (unless `KAFKA_BROKERS` points elsewhere), and with `aws`
 * ensures the Python environment and starts moto (unless `AWS_ENDPOINT_URL` points elsewhere).
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
  } else if (options.secure ?? usesSasl(asProtocol(env.KAFKA_SECURITY_PROTOCOL))) {
    if (options.brokers !== undefined && options.brokers > 1) {
      throw new LocalBrokerError("The secure local broker is a single node: leave out --brokers.");
    }
    const secure = await prepareSecureKafka({
      cacheDir: options.cacheDir,
      jarsDir: options.jarsDir,
      port: options.port,
      logger,
    });
    await secure.cluster.ensureJars();
    const status = await secure.cluster.start();
    await checkLogin(status.bootstrap, secure.client);
    const clientEnvFile = await writeSecureClientEnv(secure);
    result.kafka = {
      action: status.alreadyRunning ? "running" : "started",
      address: status.bootstrap,
      ours: status.ours,
      logFile: status.nodes[0].logFile,
      elapsedMs: Date.now() - started,
      brokers: 1,
      startedNodes: status.started,
      clientEnvFile,
    };
    result.env.KAFKA_BROKERS = status.bootstrap;
    for (const field of KAFKA_SECURITY_FIELDS) {
      const value = secure.client[field];
      if (value !== undefined) result.env[SECURITY_ENV[field]] = value;
    }
  } else {
    const cluster = options.cluster ?? await localKafkaToStart(options, logger);
    await cluster.ensureJars();
    const status = await cluster.start();
    result.kafka = {
      action: status.alreadyRunning ? "running" : "started",
      address: status.bootstrap,
      ours: status.ours,
      logFile: cluster.brokers === 1
        ? status.nodes[0].logFile
        : `${cluster.cacheDir}/node-*/broker.log`,
      elapsedMs: Date.now() - started,
      brokers: cluster.brokers,
      startedNodes: status.started,
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

function asProtocol(text: string | undefined): KafkaSecurity["securityProtocol"] {
  return text?.trim().toUpperCase() as KafkaSecurity["securityProtocol"];
}

/**
 * Logs in to the secure broker as its client would (TLS with the CA, SCRAM), so `up --secure`
 * ends only when the settings it writes work.
 *
 * @throws {LocalBrokerError} saying what failed.
 */
async function checkLogin(bootstrap: string, security: KafkaSecurity): Promise<void> {
  const admin = createKafka({ brokers: bootstrap.split(","), security, retries: 2 }).admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (error) {
    throw new LocalBrokerError(
      `The secure broker on ${bootstrap} runs but refuses its own client settings ` +
        `(${(error as Error).message}). Stop it (deno task down) and delete .cache/kafka/secure ` +
        "to start afresh.",
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * The local Kafka `up` starts: of `brokers` nodes (default: the size of the one running, else 1)
 * on `port`; a cluster of the recorded size keeps its recorded ports unless `port` is given.
 */
async function localKafkaToStart(options: UpOptions, logger: Logger): Promise<LocalCluster> {
  const brokers = options.brokers ?? await runningLocalKafka() ?? 1;
  if (brokers > 1 && options.port === undefined) {
    const recorded = await LocalCluster.recorded({ logger });
    if (recorded?.brokers === brokers) return recorded;
  }
  return new LocalCluster({ brokers, port: options.port, logger });
}

/** Options of {@linkcode downLocalServices}. */
export interface DownOptions {
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
  /** Which services to stop. @default {["kafka", "moto"]} */
  only?: ("kafka" | "moto")[];
  /**
   * The local Kafka to stop. @default {the single broker and the recorded cluster of .cache/kafka,
   * both}
   */
  cluster?: LocalCluster;
  /** The Kafka cache folder whose brokers to stop. @default {".cache/kafka"} */
  cacheDir?: string;
  /** Stop only this node of the local Kafka (a drill); moto is left alone. */
  node?: number;
  /** How `node` stops: `TERM` (controlled shutdown) or `KILL` (a crash). @default {"TERM"} */
  signal?: "TERM" | "KILL";
  /** The moto server to control. @default {new MotoServer({ logger })} */
  moto?: MotoServer;
}

/** How a stop went for one service. */
export type StopOutcome = "stopped" | "killed" | "not running" | "not ours";

/** One line per service saying what {@linkcode downLocalServices} did. */
export interface DownResult {
  /** The broker's outcome (over all nodes: stopped if any was, else not ours if any is). */
  kafka?: StopOutcome;
  /** Each Kafka node's outcome, by id. */
  kafkaNodes?: NodeStopResult[];
  /** The secure broker's outcome (`deno task up --secure`), when it was running. */
  secureKafka?: StopOutcome;
  /** moto's outcome. */
  moto?: StopOutcome;
}

/**
 * Stops the local Kafka (every node; or with `node` just that one, with `signal`), the secure
 * broker of `deno task up --secure`, and moto if this project started them (pid files under `.cache/`); services started some other way are left
 * running.
 *
 * @throws {LocalBrokerError} for a `node` the local Kafka does not have.
 */
export async function downLocalServices(options: DownOptions = {}): Promise<DownResult> {
  const logger = options.logger ?? silentLogger;
  const only = options.node === undefined ? options.only ?? ["kafka", "moto"] : ["kafka"];
  const result: DownResult = {};
  if (only.includes("kafka")) {
    if (options.node !== undefined) {
      const cluster = options.cluster ?? await localKafkaOfThisProject(logger);
      result.kafkaNodes = [await cluster.stopNode(options.node, options.signal ?? "TERM")];
    } else {
      const clusters = options.cluster
        ? [options.cluster]
        : await localKafkasToStop(logger, options.cacheDir);
      result.kafkaNodes = [];
      for (const cluster of clusters) result.kafkaNodes.push(...await cluster.stop());
      if (options.cluster === undefined) {
        const secure = secureKafkaToStop({ logger, cacheDir: options.cacheDir });
        if (await secure.nodes[0].ownPid() !== undefined) {
          result.secureKafka = (await secure.stop())[0].outcome;
        }
      }
    }
    result.kafka = combinedOutcome(result.kafkaNodes.map((node) => node.outcome));
  }
  if (only.includes("moto")) {
    result.moto = (await (options.moto ?? new MotoServer({ logger })).stop()).outcome;
  }
  return result;
}

/**
 * The local Kafkas of `.cache/kafka` (the single broker, the recorded cluster) with a node this
 * project started that is alive; the single broker when none is, to report on.
 */
async function localKafkasToStop(logger: Logger, cacheDir?: string): Promise<LocalCluster[]> {
  const candidates = [
    new LocalCluster({ logger, cacheDir }),
    ...[await LocalCluster.recorded({ logger, cacheDir })].filter((c) => c !== undefined),
  ];
  const live = [];
  for (const cluster of candidates) {
    const pids = await Promise.all(cluster.nodes.map((node) => node.ownPid()));
    if (pids.some((pid) => pid !== undefined)) live.push(cluster);
  }
  return live.length > 0 ? live : candidates.slice(0, 1);
}

/** The local Kafka of `.cache/kafka` that runs (a cluster or the single broker), else the recorded cluster, else the single broker. */
async function localKafkaOfThisProject(logger: Logger): Promise<LocalCluster> {
  const running = await runningLocalKafka();
  const recorded = await LocalCluster.recorded({ logger });
  if (running === 1 || recorded === undefined) return new LocalCluster({ logger });
  return recorded;
}

function combinedOutcome(outcomes: StopOutcome[]): StopOutcome {
  if (outcomes.includes("stopped")) return "stopped";
  if (outcomes.includes("killed")) return "killed";
  return outcomes.includes("not ours") ? "not ours" : "not running";
}

/** A one-line summary of a service report, e.g. `Kafka 3.9.1 ready on 127.0.0.1:9092 (log: …)`. */
export function describeService(name: "kafka" | "moto", report: ServiceReport): string {
  const label = name === "kafka" ? `Kafka ${KAFKA_VERSION}` : "moto";
  const where = name === "kafka" ? "on" : "at";
  if (report.action === "external") {
    return `${label}: using ${report.address} (configured, not started here)`;
  }
  const nodes = report.brokers !== undefined && report.brokers > 1
    ? `${report.brokers} brokers; `
    : "";
  const restarted = report.action === "started" && report.brokers !== undefined &&
      report.brokers > 1 && report.startedNodes !== undefined &&
      report.startedNodes.length < report.brokers
    ? ` node ${report.startedNodes.join(", ")}`
    : "";
  const how = report.action === "started"
    ? `started${restarted} in ${(report.elapsedMs / 1000).toFixed(1)} s`
    : report.ours
    ? "already running"
    : "already running, started outside this project";
  return `${label} ready ${where} ${report.address} (${nodes}${how}${
    report.logFile && report.ours ? `; log: ${report.logFile}` : ""
  })`;
}
