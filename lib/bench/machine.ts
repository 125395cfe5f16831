/**
 * Describes the machine a benchmark ran on, from `/proc/cpuinfo` and `/proc/meminfo`.
 *
 * @module
 */

import type { Machine } from "./report.ts";

/**
 * The first `model name` of a `/proc/cpuinfo` text, or `"unknown CPU"`.
 *
 * @example
 * ```ts
 * import { cpuModel } from "./machine.ts";
 * cpuModel("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n"); // "Intel(R) Xeon(R) Processor"
 * ```
 */
export function cpuModel(cpuinfo: string): string {
  return cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? "unknown CPU";
}

/**
 * `MemTotal` of a `/proc/meminfo` text in bytes, or 0.
 *
 * @example
 * ```ts
 * import { memTotal } from "./machine.ts";
 * memTotal("MemTotal:       1024 kB\n"); // 1048576
 * ```
 */
export function memTotal(meminfo: string): number {
  const kb = meminfo.match(/^MemTotal:\s*(\d+)\s*kB/m)?.[1];
  return kb ? Number(kb) * 1024 : 0;
}

/** Reads the machine description (Linux; other systems get "unknown" fields). */
export async function readMachine(): Promise<Machine> {
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  return {
    cpu: cpuModel(await read("/proc/cpuinfo")),
    cores: navigator.hardwareConcurrency,
    memoryBytes: memTotal(await read("/proc/meminfo")),
    os: Deno.osRelease(),
    deno: Deno.version.deno,
  };
}
