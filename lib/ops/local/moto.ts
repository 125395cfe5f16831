/**
 * The moto AWS emulator (S3, Glue, Athena, EC2, IAM, STS on one port) as a detached local server,
 * run from the project's Python environment ({@linkcode ensurePythonEnv}). State lives in memory:
 * it is gone when the server stops. Pid and log in `.cache/moto/`.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { type Logger, silentLogger } from "../../log.ts";
import {
  alreadyRunningNote,
  livePid,
  spawnDetached,
  stopOurService,
  waitUntilReady,
  writePidFile,
} from "./daemon.ts";
import { venvBin } from "./python_env.ts";

/** Options of {@linkcode MotoServer}. */
export interface MotoServerOptions {
  /** Folder of the pid and log files. @default {".cache/moto"} */
  stateDir?: string;
  /** The Python environment that has `moto_server`. @default {".cache/venv"} */
  venvDir?: string;
  /** Address to listen on. @default {"127.0.0.1"} */
  host?: string;
  /** Port to listen on. @default {5000} */
  port?: number;
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
  /** How long {@linkcode MotoServer.start} waits for HTTP answers. @default {30000} */
  startTimeoutMs?: number;
  /** How long {@linkcode MotoServer.stop} waits after SIGTERM before SIGKILL. @default {10000} */
  stopTimeoutMs?: number;
}

/** What {@linkcode MotoServer.status} finds. */
export interface MotoStatus {
  /** Something answers on the endpoint as moto's S3 does. */
  running: boolean;
  /** It is the server this state folder started (its pid file points at a live moto_server). */
  ours: boolean;
  /** Pid of our server, when `ours`. */
  pid?: number;
  /** `http://host:port`, for `AWS_ENDPOINT_URL`. */
  endpoint: string;
  /** The server's log file. */
  logFile: string;
}

/** What {@linkcode MotoServer.start} did. */
export interface MotoStartResult extends MotoStatus {
  /** A server already answered, so nothing was started. */
  alreadyRunning: boolean;
}

/** What {@linkcode MotoServer.stop} did. */
export interface MotoStopResult {
  /** How our server ended, or why nothing was stopped. */
  outcome: "stopped" | "killed" | "not running" | "not ours";
  /** Pid of the server that was stopped. */
  pid?: number;
}

/** Raised when moto cannot be started or reset; the message says what to do. */
export class MotoError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "MotoError";
  }
}

/**
 * The environment that points the AWS SDK (and this project) at an emulator endpoint, with the
 * dummy credentials moto accepts.
 *
 * @example
 * ```ts
 * import { awsEmulatorEnv } from "./moto.ts";
 * awsEmulatorEnv("http://127.0.0.1:5000");
 * // { AWS_ENDPOINT_URL: "http://127.0.0.1:5000", AWS_ACCESS_KEY_ID: "test", … }
 * ```
 */
export function awsEmulatorEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: "us-east-1",
  };
}

/**
 * Controls a local `moto_server`.
 *
 * @example
 * ```ts
 * import { MotoServer } from "./moto.ts";
 * import { ensurePythonEnv } from "./python_env.ts";
 * await ensurePythonEnv();
 * const moto = new MotoServer();
 * const { endpoint } = await moto.start(); // "http://127.0.0.1:5000"
 * await moto.stop();
 * ```
 */
export class MotoServer {
  /** Absolute folder of the pid and log files. */
  readonly stateDir: string;
  /** Listen address. */
  readonly host: string;
  /** Listen port. */
  readonly port: number;
  /** `http://host:port`. */
  readonly endpoint: string;
  /** The server's stdout/stderr. */
  readonly logFile: string;
  /** Pid of the server this state folder started. */
  readonly pidFile: string;
  /** The `moto_server` program. */
  readonly program: string;
  #logger: Logger;
  #startTimeoutMs: number;
  #stopTimeoutMs: number;

  /** Creates a controller; nothing happens until a method is called. */
  constructor(options: MotoServerOptions = {}) {
    this.stateDir = resolve(options.stateDir ?? ".cache/moto");
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 5000;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535) {
      throw new MotoError(`port must be a port number from 1 to 65535, got ${options.port}.`);
    }
    this.endpoint = `http://${this.host}:${this.port}`;
    this.logFile = join(this.stateDir, "moto.log");
    this.pidFile = join(this.stateDir, "moto.pid");
    this.program = venvBin("moto_server", options.venvDir);
    this.#logger = options.logger ?? silentLogger;
    this.#startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  }

  /** Our pid, if the pid file points at a live moto_server on our port; clears a stale pid file. */
  #ourPid(): Promise<number | undefined> {
    return livePid(this.pidFile, `moto_server -H ${this.host} -p ${this.port}`);
  }

  /** Whether the endpoint answers an S3 ListBuckets as moto does. */
  async #answers(): Promise<boolean> {
    try {
      const response = await fetch(`${this.endpoint}/`, { signal: AbortSignal.timeout(2_000) });
      const body = await response.text();
      return response.ok && body.includes("ListAllMyBucketsResult");
    } catch {
      return false;
    }
  }

  /** Whether moto answers on the endpoint and whether this state folder started it. */
  async status(): Promise<MotoStatus> {
    const pid = await this.#ourPid();
    const running = await this.#answers();
    return {
      running,
      ours: running && pid !== undefined,
      pid: running ? pid : undefined,
      endpoint: this.endpoint,
      logFile: this.logFile,
    };
  }

  /**
   * Starts moto unless it already answers on the endpoint, and waits until it answers HTTP.
   * Idempotent: a second call reports `alreadyRunning`.
   *
   * @throws {MotoError} when moto is not installed (run `ensurePythonEnv()` / `deno task up --aws`),
   * the port is taken, or the server does not come up in time (the message quotes its log).
   */
  async start(): Promise<MotoStartResult> {
    const ourPid = await this.#ourPid();
    if (await this.#answers()) {
      this.#logger.info(
        alreadyRunningNote("moto", `at ${this.endpoint}`, ourPid, this.stateDir, this.logFile),
      );
      return { ...(await this.status()), alreadyRunning: true };
    }
    if (ourPid !== undefined) {
      this.#logger.info(`moto (pid ${ourPid}) is starting; waiting for it …`);
      await this.#waitUntilReady(ourPid);
      return { ...(await this.status()), alreadyRunning: true };
    }
    try {
      await Deno.stat(this.program);
    } catch {
      throw new MotoError(
        `${this.program} is missing: create the Python environment first (ensurePythonEnv(), or deno task up --aws).`,
      );
    }
    await Deno.mkdir(this.stateDir, { recursive: true });
    await Deno.writeTextFile(
      this.logFile,
      `# moto started ${new Date().toISOString()} at ${this.endpoint}\n`,
    );
    const pid = await spawnDetached({
      command: this.program,
      args: ["-H", this.host, "-p", String(this.port)],
      cwd: this.stateDir,
      logFile: this.logFile,
    });
    await writePidFile(this.pidFile, pid);
    this.#logger.info(`Starting moto at ${this.endpoint} (pid ${pid}) …`);
    await this.#waitUntilReady(pid);
    return { ...(await this.status()), alreadyRunning: false };
  }

  #waitUntilReady(pid: number): Promise<void> {
    return waitUntilReady({
      pid,
      ready: () => this.#answers(),
      timeoutMs: this.#startTimeoutMs,
      what: "moto",
      where: `at ${this.endpoint}`,
      logFile: this.logFile,
      pidFile: this.pidFile,
      exitHint: ` (is port ${this.port} taken?)`,
      error: (message) => new MotoError(message),
    });
  }

  /**
   * Stops the server this state folder started and removes its pid file. A server started some
   * other way is left alone (`"not ours"`).
   */
  async stop(): Promise<MotoStopResult> {
    return stopOurService({
      pid: await this.#ourPid(),
      running: () => this.#answers(),
      what: "moto",
      where: `at ${this.endpoint}`,
      stateDir: this.stateDir,
      pidFile: this.pidFile,
      marker: "moto_server",
      timeoutMs: this.#stopTimeoutMs,
      logger: this.#logger,
    });
  }

  /**
   * Forgets every bucket, table and instance (`POST /moto-api/reset`). Only for a server your tests
   * own: the shared dev server is used by others.
   *
   * @throws {MotoError} when the server does not answer or refuses.
   */
  async reset(): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${this.endpoint}/moto-api/reset`, {
        method: "POST",
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      throw new MotoError(
        `Cannot reset moto at ${this.endpoint}: ${
          (error as Error).message
        }. Is it running (deno task up --aws)?`,
      );
    }
    const body = await response.text();
    if (!response.ok) {
      throw new MotoError(
        `moto at ${this.endpoint} refused the reset: HTTP ${response.status} ${body}`,
      );
    }
  }
}
