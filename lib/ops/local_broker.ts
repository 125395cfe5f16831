/**
 * A real Apache Kafka broker on this machine, without Docker or a tarball: Maven fetches the broker
 * jars from Maven Central into `.cache/kafka/jars`, and the broker runs as a detached `java`
 * process (single-node KRaft) that outlives the command that started it.
 *
 * Files under the cache folder: `pom.xml`, `jars/`, `server.properties` (from
 * {@linkcode renderServerProperties}), `log4j.properties`, `data/` (topics), `broker.log`,
 * `broker.pid`.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { type Logger, silentLogger } from "../log.ts";
import { KAFKA_VERSION, renderServerProperties, SCALA_VERSION } from "./broker_config.ts";
import {
  alreadyRunningNote,
  livePid,
  portAcceptsConnections,
  spawnDetached,
  stopOurService,
  waitUntilReady,
  writePidFile,
} from "./daemon.ts";
import { MAVEN_HINT, requireJava, requireMaven, runTool } from "./java.ts";

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
  /** KRaft controller port. @default {9093} */
  controllerPort?: number;
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

/** Raised when the local broker cannot be set up, started or stopped; the message says what to do. */
export class LocalBrokerError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "LocalBrokerError";
  }
}

/**
 * Controls a local single-node Kafka broker.
 *
 * @example
 * ```ts
 * import { LocalBroker } from "./local_broker.ts";
 * import { consoleLogger } from "../log.ts";
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
  #javaOpts: string[];
  #logger: Logger;
  #startTimeoutMs: number;
  #stopTimeoutMs: number;
  #java: string;
  #mvn: string;

  /** Creates a controller; nothing happens until a method is called. */
  constructor(options: LocalBrokerOptions = {}) {
    this.cacheDir = resolve(options.cacheDir ?? ".cache/kafka");
    this.jarsDir = resolve(options.jarsDir ?? join(this.cacheDir, "jars"));
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 9092;
    this.controllerPort = options.controllerPort ?? 9093;
    this.bootstrap = `${this.host}:${this.port}`;
    this.logFile = join(this.cacheDir, "broker.log");
    this.pidFile = join(this.cacheDir, "broker.pid");
    this.propertiesFile = join(this.cacheDir, "server.properties");
    this.dataDir = join(this.cacheDir, "data");
    this.#javaOpts = options.javaOpts ?? ["-Xmx512m"];
    this.#logger = options.logger ?? silentLogger;
    this.#startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.#java = options.java ?? "java";
    this.#mvn = options.mvn ?? "mvn";
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
    const ourPid = await this.#ourPid();
    if (await portAcceptsConnections(this.host, this.port)) {
      if (ourPid === undefined && !(await answersMetadata(this.bootstrap, 5_000))) {
        throw new LocalBrokerError(
          `Port ${this.port} on ${this.host} is taken by something that does not answer as Kafka; ` +
            `stop it or choose another port.`,
        );
      }
      this.#logger.info(
        alreadyRunningNote("Kafka", `on ${this.bootstrap}`, ourPid, this.cacheDir, this.logFile),
      );
      return { ...(await this.status()), alreadyRunning: true };
    }
    if (ourPid !== undefined) {
      // Started earlier but not listening yet (or a second `up` while the first is starting).
      this.#logger.info(`Kafka (pid ${ourPid}) is starting; waiting for it …`);
      await this.#waitUntilReady(ourPid);
      return { ...(await this.status()), alreadyRunning: true };
    }

    await requireJava(this.#java);
    const marker = await Deno.readTextFile(join(this.jarsDir, ".resolved")).catch(() => "");
    if (marker === "") {
      throw new LocalBrokerError(
        `No Kafka jars in ${this.jarsDir}: call ensureJars() first (deno task up does).`,
      );
    }
    await Deno.mkdir(this.dataDir, { recursive: true });
    await Deno.writeTextFile(this.propertiesFile, this.#renderProperties());
    const log4j = join(this.cacheDir, "log4j.properties");
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
      cwd: this.cacheDir,
      logFile: this.logFile,
    });
    await writePidFile(this.pidFile, pid);
    this.#logger.info(`Starting Kafka ${KAFKA_VERSION} on ${this.bootstrap} (pid ${pid}) …`);
    await this.#waitUntilReady(pid);
    return { ...(await this.status()), alreadyRunning: false };
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
      randomClusterId(),
      "-c",
      this.propertiesFile,
    ], "");
    if (!success) {
      throw new LocalBrokerError(
        `Could not format the Kafka storage in ${this.dataDir}: ${output}\n` +
          `Delete ${this.dataDir} and try again.`,
      );
    }
  }

  #waitUntilReady(pid: number): Promise<void> {
    return waitUntilReady({
      pid,
      ready: async () =>
        await portAcceptsConnections(this.host, this.port) &&
        await answersMetadata(this.bootstrap, 3_000),
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
      stateDir: this.cacheDir,
      pidFile: this.pidFile,
      marker: this.propertiesFile,
      timeoutMs: this.#stopTimeoutMs,
      logger: this.#logger,
    });
  }
}

/**
 * Whether a Kafka broker at `bootstrap` (`host:port`) answers a Metadata request (v4, no topics)
 * within `timeoutMs` and lists at least one broker.
 *
 * Speaks the Kafka wire protocol directly, so probing needs no client library and prints nothing.
 */
export async function answersMetadata(bootstrap: string, timeoutMs = 3_000): Promise<boolean> {
  const at = bootstrap.lastIndexOf(":");
  const hostname = bootstrap.slice(0, at).replace(/^\[|\]$/g, "");
  const port = Number(bootstrap.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port)) return false;
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
  const exchange = async (): Promise<boolean> => {
    conn = await Deno.connect({ hostname, port });
    if (closed) {
      close(); // The timeout fired while connecting.
      return false;
    }
    await conn.write(new Uint8Array(request.buffer));
    // Response: size | correlation_id | throttle_time_ms | brokers count | …
    const head = new Uint8Array(16);
    for (let read = 0; read < head.length;) {
      const n = await conn.read(head.subarray(read));
      if (n === null) return false;
      read += n;
    }
    const view = new DataView(head.buffer);
    return view.getInt32(4) === correlationId && view.getInt32(12) >= 1;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => {
      close();
      resolve(false);
    }, timeoutMs);
  });
  try {
    return await Promise.race([exchange().catch(() => false), timeout]);
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
    "  <!-- Written by lib/ops/local_broker.ts: the classpath of the local Kafka broker. -->",
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
  "# Written by lib/ops/local_broker.ts: warnings and errors go to stdout, i.e. broker.log.",
  "log4j.rootLogger=WARN, stdout",
  "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
  "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
  "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
  "",
].join("\n");
