/**
 * Background services that outlive the command that started them (the local Kafka broker, moto):
 * spawn detached with output in a log file, remember the pid in a pid file, check and stop them.
 *
 * Unix only: processes are started through `sh` with `setsid` (or `nohup` where `setsid` is
 * missing, as on macOS), so closing the terminal or pressing Ctrl-C in it does not stop them.
 *
 * @module
 */

import type { Logger } from "../../log.ts";
import { sleep } from "../../time.ts";
import { tcpProbe } from "../tcp_probe.ts";

/** Options of {@linkcode spawnDetached}. */
export interface SpawnDetachedOptions {
  /** The program to run (looked up on `PATH`). */
  command: string;
  /** Its arguments, passed as they are (no shell parsing). */
  args: string[];
  /** Working folder of the process. */
  cwd: string;
  /** File that receives its stdout and stderr (appended). */
  logFile: string;
  /** Extra environment variables on top of this process's environment. */
  env?: Record<string, string>;
}

/**
 * Starts a process in its own session with stdin from `/dev/null` and output appended to
 * `logFile`, and returns its pid without waiting for it.
 *
 * @example
 * ```ts
 * import { spawnDetached } from "./daemon.ts";
 * const pid = await spawnDetached({ command: "sleep", args: ["60"], cwd: "/tmp", logFile: "/tmp/sleep.log" });
 * ```
 * @throws {Error} when `sh` cannot start the process.
 */
export async function spawnDetached(options: SpawnDetachedOptions): Promise<number> {
  const script = 'log=$1; shift; { if command -v setsid >/dev/null 2>&1; then exec setsid "$@"; ' +
    'else exec nohup "$@"; fi; } >>"$log" 2>&1 </dev/null & echo $!';
  const output = await new Deno.Command("sh", {
    args: ["-c", script, "sh", options.logFile, options.command, ...options.args],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  const pid = Number(text);
  if (!output.success || !Number.isInteger(pid) || pid <= 0) {
    throw new Error(
      `Could not start ${options.command} in the background: ${
        new TextDecoder().decode(output.stderr).trim() || `sh printed "${text}"`
      }.`,
    );
  }
  return pid;
}

/**
 * The command line of a live process, or `undefined` when there is no such process (or only a
 * zombie is left of it).
 */
export async function commandLineOf(pid: number): Promise<string | undefined> {
  const line = await procOrPs(pid, "cmdline", "args", (raw) => raw.split("\0").join(" ").trim());
  return line === "" ? undefined : line;
}

/**
 * Whether `pid` is alive and, when `marker` is given, its command line contains it (so a pid
 * reused by an unrelated process does not count).
 */
export async function isAlive(pid: number, marker?: string): Promise<boolean> {
  const state = await processState(pid);
  if (state === undefined || state === "Z") return false;
  if (marker === undefined) return true;
  // A process in the middle of exec (the java launcher re-execs itself) briefly has an empty
  // command line: it exists, so count it as alive rather than as gone.
  const line = await commandLineOf(pid);
  return line === undefined || line.includes(marker);
}

/**
 * The scheduler state of `pid` (`R`, `S`, `Z` for a zombie, …), or `undefined` when there is no
 * such process.
 */
export async function processState(pid: number): Promise<string | undefined> {
  const state = await procOrPs(
    pid,
    "stat",
    "stat",
    (raw) => raw.slice(raw.lastIndexOf(")") + 2).charAt(0),
  );
  return state === "" ? undefined : state?.charAt(0);
}

/**
 * Reads `/proc/<pid>/<file>` (Linux) or asks `ps -o <column>=` (no /proc, e.g. macOS);
 * `undefined` when there is no such process.
 */
async function procOrPs(
  pid: number,
  file: string,
  column: string,
  parse: (raw: string) => string,
): Promise<string | undefined> {
  try {
    return parse(await Deno.readTextFile(`/proc/${pid}/${file}`));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    try {
      await Deno.stat("/proc/self");
      return undefined; // Linux: no /proc/<pid>, no process.
    } catch {
      // No /proc (macOS): ask ps.
    }
  }
  const output = await new Deno.Command("ps", {
    args: ["-o", `${column}=`, "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(output.stdout).trim();
  return output.success && text !== "" ? text : undefined;
}

/** Reads a pid file; `undefined` when it is missing or does not hold a pid. */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Writes a pid file. */
export async function writePidFile(path: string, pid: number): Promise<void> {
  await Deno.writeTextFile(path, `${pid}\n`);
}

/** Removes a pid file; a missing file is fine. */
export async function removePidFile(path: string): Promise<void> {
  await Deno.remove(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** Options of {@linkcode terminate}. */
export interface TerminateOptions {
  /** How long to wait after SIGTERM before sending SIGKILL. @default {30000} */
  timeoutMs?: number;
  /** Only signal the process if its command line contains this. */
  marker?: string;
}

/**
 * Sends SIGTERM, waits for the process to exit, and sends SIGKILL if it is still there after
 * `timeoutMs`. Returns how it ended.
 */
export async function terminate(
  pid: number,
  options: TerminateOptions = {},
): Promise<"not running" | "stopped" | "killed"> {
  const { timeoutMs = 30_000, marker } = options;
  if (!(await isAlive(pid, marker))) return "not running";
  const signal = (name: Deno.Signal) => {
    try {
      Deno.kill(pid, name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  };
  signal("SIGTERM");
  if (await waitForExit(pid, timeoutMs)) return "stopped";
  signal("SIGKILL");
  if (await waitForExit(pid, 5_000)) return "killed";
  throw new Error(`Process ${pid} did not exit after SIGKILL; check it with: ps -p ${pid}.`);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) return true;
    await sleep(100);
  }
  return !(await isAlive(pid));
}

/** Reads a pid file and returns the pid if that process is alive and its command line has `marker`; removes a stale pid file. */
export async function livePid(pidFile: string, marker: string): Promise<number | undefined> {
  const pid = await readPidFile(pidFile);
  if (pid === undefined) return undefined;
  if (await isAlive(pid, marker)) return pid;
  await removePidFile(pidFile);
  return undefined;
}

/** Options of {@linkcode waitUntilReady}. */
export interface WaitUntilReadyOptions {
  /** The process that is starting. */
  pid: number;
  /** Whether the service answers yet. */
  ready: () => Promise<boolean>;
  /** How long to wait before stopping it. */
  timeoutMs: number;
  /** Time between two checks. @default {200} */
  intervalMs?: number;
  /** Name of the service in messages, e.g. `Kafka`. */
  what: string;
  /** Where it answers, in messages, e.g. `on 127.0.0.1:9092`. */
  where: string;
  /** Its log, quoted in errors. */
  logFile: string;
  /** Its pid file, removed when it fails. */
  pidFile: string;
  /** Said after "exited while starting", e.g. ` (is port 5000 taken?)`. @default {""} */
  exitHint?: string;
  /** Wraps a message in the caller's error class. */
  error: (message: string) => Error;
}

/**
 * Waits until a freshly started service answers. When the process exits first, or it does not
 * answer within the timeout (it is then terminated), removes the pid file and throws an error
 * that quotes the end of the log.
 */
export async function waitUntilReady(options: WaitUntilReadyOptions): Promise<void> {
  const { pid, what, logFile, pidFile } = options;
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isAlive(pid))) {
      await removePidFile(pidFile);
      throw options.error(
        `${what} exited while starting${
          options.exitHint ?? ""
        }; its log (${logFile}) ends with:\n` +
          await tailFile(logFile),
      );
    }
    if (await options.ready()) return;
    await sleep(options.intervalMs ?? 200);
  }
  await terminate(pid, { timeoutMs: 5_000 });
  await removePidFile(pidFile);
  throw options.error(
    `${what} did not answer ${options.where} within ${options.timeoutMs / 1000} s, so it was ` +
      `stopped. Its log (${logFile}) ends with:\n${await tailFile(logFile)}`,
  );
}

/** Options of {@linkcode stopOurService}. */
export interface StopOurServiceOptions {
  /** Our pid (from {@linkcode livePid}), or `undefined` when this state folder started nothing. */
  pid: number | undefined;
  /** Whether something answers where the service would, to tell "not ours" from "not running". */
  running: () => Promise<boolean>;
  /** Name of the service in messages, e.g. `Kafka`. */
  what: string;
  /** Where it answers, in messages, e.g. `on 127.0.0.1:9092`. */
  where: string;
  /** The folder that would have started it, in messages. */
  stateDir: string;
  /** Its pid file, removed after stopping. */
  pidFile: string;
  /** Only signal the process if its command line contains this. */
  marker: string;
  /** How long to wait after SIGTERM before SIGKILL. */
  timeoutMs: number;
  /** Where progress goes. */
  logger: Logger;
}

/**
 * Stops a service this state folder started and removes its pid file; a service started some
 * other way is left alone (`"not ours"`).
 */
export async function stopOurService(
  options: StopOurServiceOptions,
): Promise<{ outcome: "stopped" | "killed" | "not running" | "not ours"; pid?: number }> {
  const { pid, what, where, logger } = options;
  if (pid === undefined) {
    const running = await options.running();
    logger.info(
      running
        ? `${what} ${where} was not started from ${options.stateDir} (no pid file); leaving it running.`
        : `${what} is not running ${where}.`,
    );
    return { outcome: running ? "not ours" : "not running" };
  }
  logger.info(`Stopping ${what} (pid ${pid}) …`);
  const outcome = await terminate(pid, { timeoutMs: options.timeoutMs, marker: options.marker });
  await removePidFile(options.pidFile);
  logger.info(`${what} ${where} ${outcome}.`);
  return { outcome, pid };
}

/** The line `start()` logs when the service already answers, with or without our pid. */
export function alreadyRunningNote(
  what: string,
  where: string,
  pid: number | undefined,
  stateDir: string,
  logFile: string,
): string {
  return pid === undefined
    ? `${what} is already running ${where} (not started from ${stateDir}: no pid file).`
    : `${what} is already running ${where} (pid ${pid}, log: ${logFile}).`;
}

/** Whether something accepts TCP connections on `host:port` within `timeoutMs`. */
export async function portAcceptsConnections(
  host: string,
  port: number,
  timeoutMs = 2_000,
): Promise<boolean> {
  return await tcpProbe(host, port, timeoutMs) === undefined;
}

/** The last `lines` lines of a text file, or a note that it is missing. */
export async function tailFile(path: string, lines = 20): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.trimEnd().split("\n").slice(-lines).join("\n");
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return `(${path} does not exist)`;
    throw error;
  }
}
