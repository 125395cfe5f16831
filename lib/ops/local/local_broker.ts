/**
 * A real Apache Kafka broker on this machine, without Docker or a tarball: Maven fetches the broker
 * jars from Maven Central into `.cache/kafka/jars`, and the broker runs as a detached `java`
 * process (single-node KRaft) that outlives the command that started it. {@linkcode LocalCluster}
 * runs several such nodes as one KRaft cluster (combined broker + controller nodes, static voters)
 * for failure drills.
 *
 * Files under the cache folder: `pom.xml`, `jars/`, and for the single broker
 * `server.properties` (from {@linkcode renderServerProperties}), `log4j.properties`, `data/`
 * (topics), `broker.log`, `broker.pid`. A cluster keeps the same files per node in `node-<id>/`,
 * plus `cluster.json` (its id and size).
 *
 * Ports: node `i` (from 1) of a cluster whose first client port is `P` takes client port
 * `P + i - 1` and controller port `P + 100 + i - 1`; so the default 3-node cluster listens on
 * 9092–9094 with controllers on 9192–9194, and the single broker on 9092 with its controller on
 * 9192.
 *
 * With `security` the broker is the secure one of `deno task up --secure`: its only client listener
 * is `SASL_SSL` (SCRAM-SHA-512, the certificates of {@linkcode ensureBrokerTls}), its SCRAM user
 * is created when the storage is formatted, and inter-broker traffic logs in as that user.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { type Logger, silentLogger } from "../../log.ts";
import {
  KAFKA_VERSION,
  type QuorumVoter,
  renderServerProperties,
  SCALA_VERSION,
  type ScramCredential,
  scramFormatArgs,
} from "../broker_config.ts";
import type { BrokerTls } from "./broker_tls.ts";
import {
  alreadyRunningNote,
  isAlive,
  livePid,
  portAcceptsConnections,
  removePidFile,
  spawnDetached,
  stopOurService,
  tailFile,
  waitUntilReady,
  writePidFile,
} from "./daemon.ts";
import { MAVEN_HINT, requireJava, requireMaven, runTool } from "./java.ts";
import { sleep } from "../../time.ts";
import { tlsHandshakes } from "../../kafka/tls_probe.ts";

/** The Maven artifacts whose runtime dependencies form the broker's classpath. */
export const KAFKA_ARTIFACTS: readonly string[] = [
  `org.apache.kafka:kafka_${SCALA_VERSION}:${KAFKA_VERSION}`,
  // Kafka's tools, e.g. org.apache.kafka.tools.ProducerPerformance for the benchmark.
  `org.apache.kafka:kafka-tools:${KAFKA_VERSION}`,
  // Kafka 3.9 logs through slf4j 1.7 + log4j 1 API; reload4j is the maintained log4j 1.
  "org.slf4j:slf4j-reload4j:1.7.36",
];

/** Options of {@linkcode LocalBroker}. */
export interface LocalBrokerOptions {
  /** Folder for the jars, config, data, log and pid file. @default {".cache/kafka"} */
  cacheDir?: string;
  /** Folder of the resolved jars; tests point this at the shared one to skip downloading. @default {"<cacheDir>/jars"} */
  jarsDir?: string;
  /** Address the broker binds to and advertises. @default {"127.0.0.1"} */
  host?: string;
  /** Client port. @default {9092} */
  port?: number;
  /** KRaft controller port. @default {port + 100} (9192) */
  controllerPort?: number;
  /** Folder of this node's `server.properties`, `data/`, log and pid file. @default {cacheDir} */
  stateDir?: string;
  /** This node's `node.id`. @default {1} */
  nodeId?: number;
  /** Every controller of the cluster, this node included. @default {this node alone} */
  voters?: readonly QuorumVoter[];
  /** The cluster id its storage is formatted with (once). @default {a random one} */
  clusterId?: string;
  /** JVM options of the broker. @default {["-Xmx512m"]} */
  javaOpts?: string[];
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
  /** How long {@linkcode LocalBroker.start} waits for the broker to answer. @default {60000} */
  startTimeoutMs?: number;
  /** How long {@linkcode LocalBroker.stop} waits after SIGTERM before SIGKILL. @default {30000} */
  stopTimeoutMs?: number;
  /** The Java launcher. @default {"java"} */
  java?: string;
  /** The Maven launcher. @default {"mvn"} */
  mvn?: string;
  /** Run the secure broker (single node only): SASL_SSL + SCRAM-SHA-512, no PLAINTEXT client listener. */
  security?: LocalBrokerSecurity;
}

/** The secrets of a secure {@linkcode LocalBroker}. */
export interface LocalBrokerSecurity {
  /** Its certificates and stores, from {@linkcode ensureBrokerTls}. */
  tls: Omit<BrokerTls, "created">;
  /**
   * Its SCRAM user: a super user, created at format time, also used for inter-broker traffic.
   * Changing it later needs a fresh data folder (SCRAM users live in the metadata log).
   */
  user: ScramCredential;
}

/** What {@linkcode LocalBroker.status} finds. */
export interface BrokerStatus {
  /** Something accepts connections on the broker's port. */
  running: boolean;
  /** It is the broker this cache folder started (its pid file points at a live broker). */
  ours: boolean;
  /** Pid of our broker, when `ours`. */
  pid?: number;
  /** `host:port` for `KAFKA_BROKERS`. */
  bootstrap: string;
  /** The broker's log file. */
  logFile: string;
}

/** What {@linkcode LocalBroker.start} did. */
export interface BrokerStartResult extends BrokerStatus {
  /** A broker was already running on the port, so nothing was started. */
  alreadyRunning: boolean;
}

/** What {@linkcode LocalBroker.stop} did. */
export interface BrokerStopResult {
  /** How our broker ended, or why nothing was stopped. */
  outcome: "stopped" | "killed" | "not running" | "not ours";
  /** Pid of the broker that was stopped. */
  pid?: number;
}

/** What {@linkcode LocalBroker.launch} did. */
export interface BrokerLaunch {
  /** `running`: it answers already; `starting`: our process is still starting; `spawned`: just now. */
  state: "running" | "starting" | "spawned";
  /** Our broker's pid (undefined for a broker that runs but was not started from this folder). */
  pid?: number;
}

/** Raised when the local broker cannot be set up, started or stopped; the message says what to do. */
export class LocalBrokerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "LocalBrokerError";
  }
}

/**
 * Controls a local Kafka broker: a single-node KRaft broker, or (with `nodeId`, `voters`,
 * `stateDir`) one node of a {@linkcode LocalCluster}.
 *
 * @example
 * ```ts
 * import { LocalBroker } from "./local_broker.ts";
 * import { consoleLogger } from "../../log.ts";
 * const broker = new LocalBroker({ logger: consoleLogger });
 * await broker.ensureJars();
 * const { bootstrap } = await broker.start(); // "127.0.0.1:9092"
 * await broker.stop();
 * ```
 */
export class LocalBroker {
  /** Absolute cache folder. */
  readonly cacheDir: string;
  /** Absolute jars folder. */
  readonly jarsDir: string;
  /** Bind and advertised address. */
  readonly host: string;
  /** Client port. */
  readonly port: number;
  /** Controller port. */
  readonly controllerPort: number;
  /** `host:port`. */
  readonly bootstrap: string;
  /** Broker stdout/stderr (WARN and above). */
  readonly logFile: string;
  /** Pid of the broker this cache folder started. */
  readonly pidFile: string;
  /** The rendered `server.properties`. */
  readonly propertiesFile: string;
  /** Topic data (`log.dirs`). */
  readonly dataDir: string;
  /** Folder of this node's files. */
  readonly stateDir: string;
  /** `node.id`. */
  readonly nodeId: number;
  #voters: readonly QuorumVoter[] | undefined;
  #clusterId: string | undefined;
  #javaOpts: string[];
  #logger: Logger;
  #startTimeoutMs: number;
  #stopTimeoutMs: number;
  #java: string;
  #mvn: string;
  #security: LocalBrokerSecurity | undefined;

  /** Creates a controller; nothing happens until a method is called. */
  constructor(options: LocalBrokerOptions = {}) {
    this.cacheDir = resolve(options.cacheDir ?? ".cache/kafka");
    this.jarsDir = resolve(options.jarsDir ?? join(this.cacheDir, "jars"));
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 9092;
    this.controllerPort = options.controllerPort ?? this.port + 100;
    this.bootstrap = `${this.host}:${this.port}`;
    this.stateDir = resolve(options.stateDir ?? this.cacheDir);
    this.nodeId = options.nodeId ?? 1;
    this.#voters = options.voters;
    this.#clusterId = options.clusterId;
    this.logFile = join(this.stateDir, "broker.log");
    this.pidFile = join(this.stateDir, "broker.pid");
    this.propertiesFile = join(this.stateDir, "server.properties");
    this.dataDir = join(this.stateDir, "data");
    this.#javaOpts = options.javaOpts ?? ["-Xmx512m"];
    this.#logger = options.logger ?? silentLogger;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.#java = options.java ?? "java";
    this.#mvn = options.mvn ?? "mvn";
    this.#security = options.security;
    // Fail on bad ports or host now rather than after downloading jars.
    this.#renderProperties();
  }

  #renderProperties(): string {
    return renderServerProperties({
      mode: "local",
      dataDir: this.dataDir,
      host: this.host,
      port: this.port,
      controllerPort: this.controllerPort,
      nodeId: this.nodeId,
      voters: this.#voters,
      security: this.#security && {
        keystorePath: this.#security.tls.keystorePath,
        keystorePassword: this.#security.tls.storePassword,
        truststorePath: this.#security.tls.truststorePath,
        superUsers: [this.#security.user.name],
        interBrokerUser: this.#security.user,
      },
    });
  }

  /** Whether the broker answers: a Kafka metadata request, or for the secure one a TLS handshake. */
  #answers(timeoutMs: number): Promise<boolean> {
    if (this.#security === undefined) return answersMetadata(this.bootstrap, timeoutMs);
    return tlsHandshakes(this.host, this.port, {
      caPemPath: this.#security.tls.caPemPath,
      timeoutMs,
    });
  }

  /**
   * Makes sure the broker jars are in {@linkcode LocalBroker.jarsDir}, running Maven when they are
   * missing or were resolved for other artifacts. Returns whether it downloaded.
   *
   * @throws {MissingToolError} when `mvn` is not installed.
   * @throws {LocalBrokerError} when Maven fails.
   */
  async ensureJars(): Promise<{ downloaded: boolean; jarsDir: string }> {
    const marker = join(this.jarsDir, ".resolved");
    const wanted = KAFKA_ARTIFACTS.join("\n") + "\n";
    const have = await Deno.readTextFile(marker).catch(() => "");
    if (have === wanted) return { downloaded: false, jarsDir: this.jarsDir };

    await requireMaven(this.#mvn);
    this.#logger.info(
      `Downloading the Kafka ${KAFKA_VERSION} jars with Maven into ${this.jarsDir} …`,
    );
    await Deno.mkdir(this.cacheDir, { recursive: true });
    // Jars of another version would end up on the same classpath: start clean.
    await Deno.remove(this.jarsDir, { recursive: true }).catch(() => {});
    const pom = join(this.cacheDir, "pom.xml");
    await Deno.writeTextFile(pom, renderPom());
    const { success, output } = await runTool(this.#mvn, [
      "-q",
      "-B",
      "-f",
      pom,
      "dependency:copy-dependencies",
      "-DincludeScope=runtime",
      `-DoutputDirectory=${this.jarsDir}`,
    ], MAVEN_HINT);
    if (!success) {
      throw new LocalBrokerError(
        `Maven could not download the Kafka jars (${pom}); check access to Maven Central ` +
          `(https://repo.maven.apache.org) or the proxy in ~/.m2/settings.xml. Maven said:\n` +
          output.split("\n").slice(-15).join("\n"),
      );
    }
    const jars = [];
    for await (const entry of Deno.readDir(this.jarsDir)) jars.push(entry.name);
    for (
      const needed of [`kafka_${SCALA_VERSION}-${KAFKA_VERSION}.jar`, "reload4j-", "kafka-tools-"]
    ) {
      if (!jars.some((name) => name.startsWith(needed))) {
        throw new LocalBrokerError(
          `Maven finished but ${needed}* is missing from ${this.jarsDir}; delete that folder and run again.`,
        );
      }
    }
    await Deno.writeTextFile(marker, wanted);
    this.#logger.info(`Resolved ${jars.length} jars.`);
    return { downloaded: true, jarsDir: this.jarsDir };
  }

  /** Whether a broker runs on the port and whether this cache folder started it. */
  async status(): Promise<BrokerStatus> {
    const pid = await this.#ourPid();
    const running = await portAcceptsConnections(this.host, this.port);
    return {
      running,
      ours: running && pid !== undefined,
      pid: running ? pid : undefined,
      bootstrap: this.bootstrap,
      logFile: this.logFile,
    };
  }

  /**
   * The pid of the broker this folder started while that process is alive (answering or still
   * starting), else `undefined`; clears a stale pid file.
   */
  ownPid(): Promise<number | undefined> {
    return this.#ourPid();
  }

  /** The pid from the pid file if that process is our broker; clears a stale pid file. */
  #ourPid(): Promise<number | undefined> {
    return livePid(this.pidFile, this.propertiesFile);
  }

  /**
   * Starts the broker unless one already answers on the port, and waits until it answers a Kafka
   * metadata request. Idempotent: a second call reports `alreadyRunning`.
   *
   * @throws {MissingToolError} / {JavaVersionError} when Java 17+ is missing.
   * @throws {LocalBrokerError} when the jars are missing, the port is taken by something that is
   * not Kafka, or the broker does not come up in time (the message quotes its log).
   */
  async start(): Promise<BrokerStartResult> {
    const launch = await this.launch();
    if (launch.state === "starting") {
      this.#logger.info(`Kafka (pid ${launch.pid}) is starting; waiting for it …`);
    }
    if (launch.state !== "running") await this.waitUntilReady(launch.pid!);
    return { ...(await this.status()), alreadyRunning: launch.state !== "spawned" };
  }

  /**
   * The first half of {@linkcode LocalBroker.start}: spawns the broker unless it runs or is
   * starting, without waiting for it to answer (the nodes of a cluster must all be spawned before
   * any of them can answer). Follow with {@linkcode LocalBroker.waitUntilReady}.
   *
   * @throws as {@linkcode LocalBroker.start}, except for the wait.
   */
  async launch(): Promise<BrokerLaunch> {
    const ourPid = await this.#ourPid();
    if (await portAcceptsConnections(this.host, this.port)) {
      if (ourPid === undefined && !(await this.#answers(5_000))) {
        throw new LocalBrokerError(
          `Port ${this.port} on ${this.host} is taken by something that does not answer as Kafka; ` +
            `stop it or choose another port.`,
        );
      }
      this.#logger.info(
        alreadyRunningNote("Kafka", `on ${this.bootstrap}`, ourPid, this.stateDir, this.logFile),
      );
      return { state: "running", pid: ourPid };
    }
    // Started earlier but not listening yet (or a second `up` while the first is starting).
    if (ourPid !== undefined) return { state: "starting", pid: ourPid };

    await requireJava(this.#java);
    const marker = await Deno.readTextFile(join(this.jarsDir, ".resolved")).catch(() => "");
    if (marker === "") {
      throw new LocalBrokerError(
        `No Kafka jars in ${this.jarsDir}: call ensureJars() first (deno task up does).`,
      );
    }
    await Deno.mkdir(this.dataDir, { recursive: true });
    // The secure broker's file holds passwords: owner only.
    await Deno.writeTextFile(this.propertiesFile, this.#renderProperties(), { mode: 0o600 });
    await Deno.chmod(this.propertiesFile, 0o600);
    const log4j = join(this.stateDir, "log4j.properties");
    await Deno.writeTextFile(log4j, LOG4J_PROPERTIES);
    const classpath = join(this.jarsDir, "*");
    await this.#formatStorage(classpath);

    await Deno.writeTextFile(
      this.logFile,
      `# Kafka ${KAFKA_VERSION} started ${
        new Date().toISOString()
      } on ${this.bootstrap} (WARN and above)\n`,
    );
    const pid = await spawnDetached({
      command: this.#java,
      args: [
        ...this.#javaOpts,
        "-Djava.awt.headless=true",
        `-Dlog4j.configuration=file:${log4j}`,
        "-cp",
        classpath,
        "kafka.Kafka",
        this.propertiesFile,
      ],
      cwd: this.stateDir,
      logFile: this.logFile,
    });
    await writePidFile(this.pidFile, pid);
    this.#logger.info(`Starting Kafka ${KAFKA_VERSION} on ${this.bootstrap} (pid ${pid}) …`);
    return { state: "spawned", pid };
  }

  /** Formats the KRaft storage once (a `meta.properties` in the data folder means it is done). */
  async #formatStorage(classpath: string): Promise<void> {
    try {
      await Deno.stat(join(this.dataDir, "meta.properties"));
      return;
    } catch {
      // Not formatted yet.
    }
    const { success, output } = await runTool(this.#java, [
      "-cp",
      classpath,
      "kafka.tools.StorageTool",
      "format",
      "--ignore-formatted",
      "-t",
      this.#clusterId ?? randomClusterId(),
      "-c",
      this.propertiesFile,
      ...(this.#security ? scramFormatArgs([this.#security.user]) : []),
    ], "");
    if (!success) {
      const shown = this.#security
        ? output.replaceAll(this.#security.user.password, "[redacted]")
        : output;
      throw new LocalBrokerError(
        `Could not format the Kafka storage in ${this.dataDir}: ${shown}\n` +
          `Delete ${this.dataDir} and try again.`,
      );
    }
  }

  /**
   * Waits until the broker with `pid` (ours, just launched) answers a metadata request; stops it
   * and throws, quoting its log, when it exits or does not answer within the start timeout.
   */
  waitUntilReady(pid: number): Promise<void> {
    return waitUntilReady({
      pid,
      ready: async () =>
        await portAcceptsConnections(this.host, this.port) && await this.#answers(3_000),
      timeoutMs: this.#startTimeoutMs,
      intervalMs: 250,
      what: "Kafka",
      where: `on ${this.bootstrap}`,
      logFile: this.logFile,
      pidFile: this.pidFile,
      error: (message) => new LocalBrokerError(message),
    });
  }

  /**
   * Stops the broker this cache folder started (SIGTERM, then SIGKILL after the stop timeout) and
   * removes its pid file. A broker started some other way is left alone (`"not ours"`).
   */
  async stop(): Promise<BrokerStopResult> {
    return stopOurService({
      pid: await this.#ourPid(),
      running: () => portAcceptsConnections(this.host, this.port),
      what: "Kafka",
      where: `on ${this.bootstrap}`,
      stateDir: this.stateDir,
      pidFile: this.pidFile,
      marker: this.propertiesFile,
      timeoutMs: this.#stopTimeoutMs,
      logger: this.#logger,
    });
  }

  /**
   * Kills the broker this folder started with SIGKILL, at once: a crash, for failure drills (no
   * controlled shutdown, partitions it leads lose their leader until the cluster notices). Its data
   * stays for the next start; the pid file is removed.
   */
  async kill(): Promise<BrokerStopResult> {
    const pid = await this.#ourPid();
    if (pid === undefined) {
      const running = await portAcceptsConnections(this.host, this.port);
      return { outcome: running ? "not ours" : "not running" };
    }
    this.#logger.info(`Killing Kafka node ${this.nodeId} (pid ${pid}) on ${this.bootstrap} …`);
    try {
      Deno.kill(pid, "SIGKILL");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const deadline = Date.now() + 10_000;
    while (await isAlive(pid)) {
      if (Date.now() > deadline) {
        throw new LocalBrokerError(`Kafka (pid ${pid}) did not exit after SIGKILL.`);
      }
      await sleep(50);
    }
    await removePidFile(this.pidFile);
    return { outcome: "killed", pid };
  }
}

/** The most nodes {@linkcode LocalCluster} runs (client ports `port` … `port + 8`). */
export const MAX_LOCAL_BROKERS = 9;

/** Options of {@linkcode LocalCluster}. */
export interface LocalClusterOptions {
  /** Folder for the jars and the nodes' files. @default {".cache/kafka"} */
  cacheDir?: string;
  /** Folder of the resolved jars. @default {"<cacheDir>/jars"} */
  jarsDir?: string;
  /** Address every node binds to and advertises. @default {"127.0.0.1"} */
  host?: string;
  /**
   * Number of nodes. 1 is the single broker of {@linkcode LocalBroker} (its files directly in
   * `cacheDir`); 2 to {@linkcode MAX_LOCAL_BROKERS} make a cluster with a folder per node.
   * @default {1}
   */
  brokers?: number;
  /** Client port of node 1; node `i` listens on `port + i - 1`. @default {9092} */
  port?: number;
  /** Controller port of node 1; node `i` uses `controllerPort + i - 1`. @default {port + 100} */
  controllerPort?: number;
  /** JVM options of each node. @default {["-Xmx512m"]} for one node, {["-Xmx384m"]} per node of a cluster */
  javaOpts?: string[];
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
  /** How long {@linkcode LocalCluster.start} waits for every node. @default {60000} per node count up to 3 */
  startTimeoutMs?: number;
  /** How long a graceful stop waits after SIGTERM before SIGKILL. @default {30000} */
  stopTimeoutMs?: number;
  /** The Java launcher. @default {"java"} */
  java?: string;
  /** The Maven launcher. @default {"mvn"} */
  mvn?: string;
  /**
   * A single node only: run the secure broker (see {@linkcode LocalBrokerSecurity}), with its
   * files in `stateDir`.
   */
  security?: LocalBrokerSecurity;
  /** A single node only: the folder of its files. @default {cacheDir} */
  stateDir?: string;
}

/** One node in {@linkcode ClusterStatus}. */
export interface ClusterNodeStatus extends BrokerStatus {
  /** The node's `node.id` (1, 2, …). */
  id: number;
}

/** What {@linkcode LocalCluster.status} finds. */
export interface ClusterStatus {
  /** Number of nodes of the cluster. */
  brokers: number;
  /** `host:port,host:port,…` of every node, for `KAFKA_BROKERS`. */
  bootstrap: string;
  /** Each node, by id. */
  nodes: ClusterNodeStatus[];
}

/** What {@linkcode LocalCluster.start} did. */
export interface ClusterStartResult extends ClusterStatus {
  /** Ids of the nodes this call started (the missing ones); empty when all were running. */
  started: number[];
  /** Nothing had to be started. */
  alreadyRunning: boolean;
  /** Every node runs from this cache folder (pid files), so `stop` can stop them. */
  ours: boolean;
}

/** What stopping or killing one node did. */
export interface NodeStopResult extends BrokerStopResult {
  /** The node's id. */
  id: number;
}

/** What `cluster.json` in the cache folder records about a multi-node cluster. */
export interface ClusterRecord {
  /** The KRaft cluster id every node's storage is formatted with. */
  clusterId: string;
  /** Number of nodes. */
  brokers: number;
  /** Bind address. */
  host: string;
  /** Client port of node 1. */
  port: number;
  /** Controller port of node 1. */
  controllerPort: number;
}

/**
 * A local Kafka of one or more nodes from the same jars. With one node it is exactly the single
 * {@linkcode LocalBroker} of `deno task up`; with more, each node is broker and controller
 * (combined mode) in a static quorum of all nodes, with its own folder `node-<id>/` under the
 * cache folder and one shared cluster id. Topics and internal topics get the replication of
 * {@linkcode replicationForBrokers} (3 nodes: 3 replicas, `min.insync.replicas=2`).
 *
 * `start()` starts whichever nodes are missing (so it also restarts a killed node), `stop()` stops
 * all, `stopNode(id)` / `killNode(id)` one: failure drills.
 *
 * @example
 * ```ts
 * import { LocalCluster } from "./local_broker.ts";
 * const cluster = new LocalCluster({ brokers: 3 });
 * await cluster.ensureJars();
 * const { bootstrap } = await cluster.start(); // "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"
 * await cluster.killNode(2); // SIGKILL node 2
 * await cluster.start(); // starts node 2 again
 * await cluster.stop();
 * ```
 */
export class LocalCluster {
  /** Absolute cache folder. */
  readonly cacheDir: string;
  /** Number of nodes. */
  readonly brokers: number;
  #nodes: LocalBroker[];
  /** `host:port,…` of every node. */
  readonly bootstrap: string;
  /** Where a multi-node cluster records its id and size. */
  readonly recordFile: string;
  #host: string;
  #port: number;
  #controllerPort: number;
  #logger: Logger;
  #startTimeoutMs: number;
  #nodeOptions: LocalBrokerOptions;

  /** Creates a controller; nothing happens until a method is called. */
  constructor(options: LocalClusterOptions = {}) {
    const brokers = options.brokers ?? 1;
    if (!Number.isInteger(brokers) || brokers < 1 || brokers > MAX_LOCAL_BROKERS) {
      throw new LocalBrokerError(
        `The number of brokers must be a whole number from 1 to ${MAX_LOCAL_BROKERS}, got ${brokers}.`,
      );
    }
    this.brokers = brokers;
    if (brokers > 1 && (options.security !== undefined || options.stateDir !== undefined)) {
      throw new LocalBrokerError(
        "The secure local broker (and a stateDir) is a single node: use brokers 1.",
      );
    }
    this.cacheDir = resolve(options.cacheDir ?? ".cache/kafka");
    this.recordFile = join(this.cacheDir, "cluster.json");
    this.#host = options.host ?? "127.0.0.1";
    this.#port = options.port ?? 9092;
    this.#controllerPort = options.controllerPort ?? this.#port + 100;
    this.#logger = options.logger ?? silentLogger;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000 * Math.min(brokers, 3);
    const ids = Array.from({ length: brokers }, (_, i) => i + 1);
    const voters = ids.map((id) => ({
      id,
      host: this.#host,
      port: this.#controllerPort + id - 1,
    }));
    this.#nodeOptions = {
      cacheDir: this.cacheDir,
      jarsDir: options.jarsDir,
      host: this.#host,
      javaOpts: options.javaOpts ?? (brokers === 1 ? undefined : ["-Xmx384m"]),
      logger: this.#logger,
      startTimeoutMs: this.#startTimeoutMs,
      stopTimeoutMs: options.stopTimeoutMs,
      java: options.java,
      mvn: options.mvn,
      security: options.security,
      stateDir: options.stateDir,
    };
    this.#nodes = ids.map((id) => this.#createNode(id, voters));
    this.bootstrap = this.nodes.map((node) => node.bootstrap).join(",");
  }

  /** The nodes, node `i` at index `i - 1`. */
  get nodes(): readonly LocalBroker[] {
    return this.#nodes;
  }

  #createNode(id: number, voters: QuorumVoter[], clusterId?: string): LocalBroker {
    return new LocalBroker({
      ...this.#nodeOptions,
      port: this.#port + id - 1,
      controllerPort: this.#controllerPort + id - 1,
      ...(this.brokers === 1 ? {} : {
        nodeId: id,
        voters,
        stateDir: join(this.cacheDir, `node-${id}`),
        clusterId,
      }),
    });
  }

  /**
   * The multi-node cluster recorded in `cluster.json` of the cache folder (its size and ports),
   * or `undefined` when none was ever started there.
   */
  static async recorded(
    options: Omit<LocalClusterOptions, "brokers" | "port" | "controllerPort" | "host"> = {},
  ): Promise<LocalCluster | undefined> {
    const record = await readClusterRecord(resolve(options.cacheDir ?? ".cache/kafka"));
    if (record === undefined) return undefined;
    return new LocalCluster({
      ...options,
      brokers: record.brokers,
      host: record.host,
      port: record.port,
      controllerPort: record.controllerPort,
    });
  }

  /** Node `id` (from 1). @throws {LocalBrokerError} for an id the cluster does not have. */
  node(id: number): LocalBroker {
    const node = Number.isInteger(id) ? this.nodes[id - 1] : undefined;
    if (node === undefined) {
      throw new LocalBrokerError(
        `There is no node ${id}: this local Kafka has ${this.brokers} node(s), 1 to ${this.brokers}.`,
      );
    }
    return node;
  }

  /** Makes sure the jars are there (see {@linkcode LocalBroker.ensureJars}). */
  ensureJars(): Promise<{ downloaded: boolean; jarsDir: string }> {
    return this.nodes[0].ensureJars();
  }

  /** Each node: whether it answers and whether this folder started it. */
  async status(): Promise<ClusterStatus> {
    const nodes = await Promise.all(
      this.nodes.map(async (node, i) => ({ id: i + 1, ...(await node.status()) })),
    );
    return { brokers: this.brokers, bootstrap: this.bootstrap, nodes };
  }

  /**
   * Starts every node that is not running (all of them the first time; a killed one later) and
   * waits until each answers and, on a cluster, lists every node as a live broker.
   *
   * @throws {LocalBrokerError} when a Kafka of another size runs from this cache folder, the
   * recorded cluster has another size, a port is taken, or a node does not come up in time (the
   * message quotes its log).
   */
  async start(): Promise<ClusterStartResult> {
    // The secure broker has its own folder and ports: it may run beside the plain one.
    const running = this.#nodeOptions.stateDir === undefined
      ? await runningLocalKafka(this.cacheDir)
      : undefined;
    if (running !== undefined && running !== this.brokers) {
      const what = (n: number) => n === 1 ? "a single broker" : `a ${n}-broker cluster`;
      throw new LocalBrokerError(
        `The local Kafka started from ${this.cacheDir} runs as ${what(running)}; stop it with ` +
          `\`deno task down\` before starting ${what(this.brokers)}.`,
      );
    }
    if (this.brokers > 1) await this.#useClusterRecord();

    const launches: BrokerLaunch[] = [];
    for (const [i, node] of this.nodes.entries()) {
      const launch = await node.launch();
      if (this.brokers > 1 && launch.state === "running" && launch.pid === undefined) {
        throw new LocalBrokerError(
          `Port ${node.port} (node ${i + 1}) is used by a Kafka broker not started from ` +
            `${node.stateDir}; stop it or choose another port.`,
        );
      }
      launches.push(launch);
    }
    const waits = await Promise.allSettled(
      launches.map((launch, i) =>
        launch.state === "running" ? undefined : this.nodes[i].waitUntilReady(launch.pid!)
      ),
    );
    const failed = waits.find((w): w is PromiseRejectedResult => w.status === "rejected");
    if (failed) throw failed.reason;
    if (this.brokers > 1) await this.#waitForAllBrokers();
    const status = await this.status();
    const started = launches.flatMap((launch, i) => launch.state === "spawned" ? [i + 1] : []);
    return {
      ...status,
      started,
      alreadyRunning: started.length === 0,
      ours: status.nodes.every((node) => node.ours),
    };
  }

  /** Reads `cluster.json` (or writes it with a new cluster id) and hands the id to the nodes. */
  async #useClusterRecord(): Promise<void> {
    let record = await readClusterRecord(this.cacheDir);
    if (record !== undefined && record.brokers !== this.brokers) {
      throw new LocalBrokerError(
        `${this.recordFile} records a cluster of ${record.brokers} brokers, not ${this.brokers}. ` +
          `Start it with --brokers ${record.brokers}, or stop it (deno task down) and delete ` +
          `${join(this.cacheDir, "node-*")} and ${this.recordFile} to make a new one.`,
      );
    }
    const clusterId = record?.clusterId ?? randomClusterId();
    record = {
      clusterId,
      brokers: this.brokers,
      host: this.#host,
      port: this.#port,
      controllerPort: this.#controllerPort,
    };
    await Deno.mkdir(this.cacheDir, { recursive: true });
    await Deno.writeTextFile(this.recordFile, JSON.stringify(record, null, 2) + "\n");
    // The nodes format their storage with the cluster's id (once, on their first start).
    const voters = this.#nodes.map((node) => ({
      id: node.nodeId,
      host: node.host,
      port: node.controllerPort,
    }));
    this.#nodes = this.#nodes.map((node) => this.#createNode(node.nodeId, voters, clusterId));
  }

  /** Waits until every node lists all nodes as live brokers (all registered and unfenced). */
  async #waitForAllBrokers(): Promise<void> {
    const deadline = Date.now() + this.#startTimeoutMs;
    let counts: number[] = [];
    while (Date.now() < deadline) {
      counts = await Promise.all(this.nodes.map((node) => metadataBrokerCount(node.bootstrap)));
      if (counts.every((count) => count === this.brokers)) return;
      await sleep(250);
    }
    const logs = await Promise.all(
      this.nodes.map(async (node) => `${node.logFile}:\n${await tailFile(node.logFile, 10)}`),
    );
    throw new LocalBrokerError(
      `The ${this.brokers} Kafka nodes did not all see each other within ${
        this.#startTimeoutMs / 1000
      } s (live brokers seen by node 1…${this.brokers}: ${counts.join(", ")}). ` +
        `Their logs end with:\n${logs.join("\n")}`,
    );
  }

  /**
   * Stops every node this folder started (SIGTERM, then SIGKILL after the stop timeout), all at
   * once so that no node is left waiting for a quorum that is shutting down.
   */
  async stop(): Promise<NodeStopResult[]> {
    return await Promise.all(
      this.nodes.map(async (node, i) => ({ id: i + 1, ...(await node.stop()) })),
    );
  }

  /**
   * Stops one node: gracefully (`TERM`, controlled shutdown: its partitions move first) or as a
   * crash (`KILL`). Its data stays; {@linkcode LocalCluster.start} starts it again.
   */
  async stopNode(id: number, signal: "TERM" | "KILL" = "TERM"): Promise<NodeStopResult> {
    const node = this.node(id);
    return { id, ...(signal === "KILL" ? await node.kill() : await node.stop()) };
  }

  /** SIGKILLs node `id` (see {@linkcode LocalCluster.stopNode}). */
  killNode(id: number): Promise<NodeStopResult> {
    return this.stopNode(id, "KILL");
  }
}

/** Reads `cluster.json` of a cache folder; `undefined` when there is none. */
export async function readClusterRecord(cacheDir: string): Promise<ClusterRecord | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(cacheDir, "cluster.json"));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const record = JSON.parse(text) as ClusterRecord;
  if (
    typeof record.clusterId !== "string" || !Number.isInteger(record.brokers) ||
    !Number.isInteger(record.port) || !Number.isInteger(record.controllerPort)
  ) {
    throw new LocalBrokerError(
      `${
        join(cacheDir, "cluster.json")
      } is not a cluster record; delete it and the node-* folders.`,
    );
  }
  return { ...record, host: record.host ?? "127.0.0.1" };
}

/**
 * The size of the local Kafka started from `cacheDir` that has at least one live node (its pid
 * file points at a running broker): the recorded cluster's size, 1 for the single broker, or
 * `undefined` when none runs.
 */
export async function runningLocalKafka(
  cacheDir = ".cache/kafka",
): Promise<number | undefined> {
  const dir = resolve(cacheDir);
  const record = await readClusterRecord(dir);
  for (let id = 1; id <= (record?.brokers ?? 0); id++) {
    const nodeDir = join(dir, `node-${id}`);
    if (await livePid(join(nodeDir, "broker.pid"), join(nodeDir, "server.properties"))) {
      return record!.brokers;
    }
  }
  return await livePid(join(dir, "broker.pid"), join(dir, "server.properties")) === undefined
    ? undefined
    : 1;
}

/**
 * Whether a Kafka broker at `bootstrap` (`host:port`) answers a Metadata request (v4, no topics)
 * within `timeoutMs` and lists at least one broker.
 *
 * Speaks the Kafka wire protocol directly, so probing needs no client library and prints nothing.
 */
export async function answersMetadata(bootstrap: string, timeoutMs = 3_000): Promise<boolean> {
  return await metadataBrokerCount(bootstrap, timeoutMs) >= 1;
}

/**
 * How many live brokers the Kafka broker at `bootstrap` lists in a Metadata response (v4, no
 * topics), or 0 when it does not answer within `timeoutMs`. On a cluster, every node lists every
 * registered, unfenced broker once they have all joined.
 */
export async function metadataBrokerCount(bootstrap: string, timeoutMs = 3_000): Promise<number> {
  const at = bootstrap.lastIndexOf(":");
  const hostname = bootstrap.slice(0, at).replace(/^\[|\]$/g, "");
  const port = Number(bootstrap.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) return 0;
  const clientId = new TextEncoder().encode("lake-ops-probe");
  const correlationId = 0x6b61666b;
  // size | api_key=3 (Metadata) | api_version=4 | correlation_id | client_id | topics=[] | allow_auto_create=false
  const request = new DataView(new ArrayBuffer(4 + 2 + 2 + 4 + 2 + clientId.length + 4 + 1));
  request.setInt32(0, request.byteLength - 4);
  request.setInt16(4, 3);
  request.setInt16(6, 4);
  request.setInt32(8, correlationId);
  request.setInt16(12, clientId.length);
  new Uint8Array(request.buffer).set(clientId, 14);
  request.setInt32(14 + clientId.length, 0);
  request.setInt8(18 + clientId.length, 0);

  let conn: Deno.TcpConn | undefined;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  };
  const exchange = async (): Promise<number> => {
    conn = await Deno.connect({ hostname, port });
    if (closed) {
      close(); // The timeout fired while connecting.
      return 0;
    }
    await conn.write(new Uint8Array(request.buffer));
    // Response: size | correlation_id | throttle_time_ms | brokers count | …
    const head = new Uint8Array(16);
    for (let read = 0; read < head.length;) {
      const n = await conn.read(head.subarray(read));
      if (n === null) return 0;
      read += n;
    }
    const view = new DataView(head.buffer);
    return view.getInt32(4) === correlationId ? Math.max(0, view.getInt32(12)) : 0;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<0>((resolve) => {
    timer = setTimeout(() => {
      close();
      resolve(0);
    }, timeoutMs);
  });
  try {
    return await Promise.race([exchange().catch(() => 0), timeout]);
  } finally {
    clearTimeout(timer);
    close();
  }
}

/**
 * A KRaft cluster id as `kafka-storage.sh random-uuid` prints it: 16 random bytes, URL-safe
 * base64 without padding, never starting with `-` (the CLI would read it as a flag).
 */
export function randomClusterId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    const id = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
      .replace(/=+$/, "");
    if (!id.startsWith("-") && bytes.some((b) => b !== 0)) return id;
  }
}

/** The pom whose runtime dependencies are {@linkcode KAFKA_ARTIFACTS}. */
export function renderPom(): string {
  const dependencies = KAFKA_ARTIFACTS.map((coordinates) => {
    const [groupId, artifactId, version] = coordinates.split(":");
    return `    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId>` +
      `<version>${version}</version></dependency>`;
  });
  return [
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    "  <modelVersion>4.0.0</modelVersion>",
    "  <!-- Written by lib/ops/local/local_broker.ts: the classpath of the local Kafka broker. -->",
    "  <groupId>local</groupId><artifactId>kafka-broker</artifactId><version>1</version>",
    "  <packaging>pom</packaging>",
    "  <dependencies>",
    ...dependencies,
    "  </dependencies>",
    "</project>",
    "",
  ].join("\n");
}

const LOG4J_PROPERTIES = [
  "# Written by lib/ops/local/local_broker.ts: warnings and errors go to stdout, i.e. broker.log.",
  "log4j.rootLogger=WARN, stdout",
  "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
  "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
  "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
  "",
].join("\n");
