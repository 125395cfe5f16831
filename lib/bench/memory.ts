/**
 * Memory of another process, read from Linux `/proc/<pid>/status`: the resident set now (`VmRSS`)
 * and its high-water mark (`VmHWM`), sampled while the process runs.
 *
 * @module
 */

/** Resident memory of a process, in bytes. */
export interface ProcessMemory {
  /** Resident set size now (`VmRSS`). */
  rss: number;
  /** Peak resident set size since the process started (`VmHWM`). */
  hwm: number;
}

/** Raised when `/proc/<pid>/status` cannot be read or parsed; says what is needed. */
export class MemoryReadError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MemoryReadError";
  }
}

/**
 * Parses the `VmRSS` and `VmHWM` lines of a `/proc/<pid>/status` text (values in kB).
 *
 * @example
 * ```ts
 * import { parseProcStatus } from "./memory.ts";
 * parseProcStatus("VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"); // { rss: 1048576, hwm: 2097152 }
 * ```
 * @throws {MemoryReadError} when either line is missing (not Linux, or a kernel thread).
 */
export function parseProcStatus(text: string): ProcessMemory {
  const field = (name: string): number => {
    const match = text.match(new RegExp(`^${name}:\\s*(\\d+)\\s*kB`, "m"));
    if (!match) {
      throw new MemoryReadError(
        `/proc status has no ${name} line: memory sampling needs Linux and a user process.`,
      );
    }
    return Number(match[1]) * 1024;
  };
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

/**
 * Reads the memory of a running process, or `undefined` once it has exited.
 *
 * @throws {MemoryReadError} when the status exists but cannot be parsed.
 */
export async function readProcessMemory(pid: number): Promise<ProcessMemory | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/status`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new MemoryReadError(`Cannot read /proc/${pid}/status: ${(error as Error).message}.`, {
      cause: error,
    });
  }
  // A zombie (exited, not yet reaped) has no memory lines any more.
  if (!/^VmRSS:/m.test(text)) return undefined;
  return parseProcStatus(text);
}

/** What a {@linkcode MemorySampler} saw. */
export interface MemorySummary {
  /** Largest resident set seen (the larger of sampled `VmRSS` and the last `VmHWM`), bytes. */
  peakRss: number;
  /** Resident set of the last sample, bytes. */
  lastRss: number;
  /** Number of samples taken. */
  samples: number;
}

/**
 * Samples a process's memory every `intervalMs` until stopped.
 *
 * @example
 * ```ts ignore
 * import { MemorySampler } from "./memory.ts";
 * const child = new Deno.Command("sleep", { args: ["1"] }).spawn();
 * const sampler = new MemorySampler(child.pid);
 * await child.status;
 * const { peakRss } = await sampler.stop();
 * ```
 */
export class MemorySampler {
  readonly #pid: number;
  readonly #timer: ReturnType<typeof setInterval>;
  #peak = 0;
  #last = 0;
  #samples = 0;
  #pending: Promise<void> = Promise.resolve();

  /** Starts sampling `pid` at once and then every `intervalMs` (@default 100). */
  constructor(pid: number, intervalMs = 100) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  #sample(): void {
    this.#pending = this.#pending.then(async () => {
      const memory = await readProcessMemory(this.#pid).catch(() => undefined);
      if (!memory) return;
      this.#samples++;
      this.#last = memory.rss;
      this.#peak = Math.max(this.#peak, memory.rss, memory.hwm);
    });
  }

  /** Takes a last sample (if the process still runs), stops, and returns the summary. */
  async stop(): Promise<MemorySummary> {
    clearInterval(this.#timer);
    this.#sample();
    await this.#pending;
    return { peakRss: this.#peak, lastRss: this.#last, samples: this.#samples };
  }
}
