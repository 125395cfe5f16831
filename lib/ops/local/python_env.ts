/**
 * The project's own Python environment (`.cache/venv`) with the pinned tools of
 * `scripts/requirements.txt`: moto (the AWS emulator), duckdb and pyarrow (independent Parquet
 * checks in tests) and Jupyter (the notebooks). Installed once; reinstalled when the requirements
 * or the base Python change.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { type Logger, silentLogger } from "../../log.ts";
import { PYTHON_HINT, runTool } from "./java.ts";

/** The oldest Python the pinned requirements install on. */
export const MIN_PYTHON_VERSION: readonly [number, number] = [3, 10];

/** Options of {@linkcode ensurePythonEnv}. */
export interface PythonEnvOptions {
  /** The virtual environment folder. @default {".cache/venv"} */
  venvDir?: string;
  /** The pinned requirements. @default {"scripts/requirements.txt"} */
  requirementsFile?: string;
  /** The Python that creates the environment. @default {"python3"} */
  python?: string;
  /** Where progress goes. @default {silentLogger} */
  logger?: Logger;
}

/** A ready Python environment. */
export interface PythonEnv {
  /** Absolute path of the environment. */
  venvDir: string;
  /** Absolute path of its `python` (what `LAKE_TEST_PYTHON` is set to). */
  python: string;
  /** Whether this call installed packages (false when the stamp matched). */
  installed: boolean;
}

/** Raised when the environment cannot be created or its packages not installed. */
export class PythonEnvError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PythonEnvError";
  }
}

/**
 * The absolute path of a program installed in the environment, e.g. `venvBin("moto_server")`.
 * It may not exist yet: call {@linkcode ensurePythonEnv} first.
 */
export function venvBin(name: string, venvDir = ".cache/venv"): string {
  return join(resolve(venvDir), Deno.build.os === "windows" ? "Scripts" : "bin", name);
}

/**
 * Creates the environment with `python3 -m venv` if needed and pip-installs the requirements,
 * unless the stamp file (hash of the requirements and the base Python version) says it is current.
 *
 * @example
 * ```ts
 * import { ensurePythonEnv } from "./python_env.ts";
 * const { python } = await ensurePythonEnv(); // ".../.cache/venv/bin/python"
 * ```
 * @throws {MissingToolError} when `python3` is not on `PATH`.
 * @throws {PythonEnvError} when Python is too old, venv is missing, or pip fails.
 */
export async function ensurePythonEnv(options: PythonEnvOptions = {}): Promise<PythonEnv> {
  const venvDir = resolve(options.venvDir ?? ".cache/venv");
  const requirementsFile = resolve(options.requirementsFile ?? "scripts/requirements.txt");
  const basePython = options.python ?? "python3";
  const logger = options.logger ?? silentLogger;
  const python = venvBin("python", venvDir);
  const stampFile = join(venvDir, ".requirements.sha256");

  let requirements: string;
  try {
    requirements = await Deno.readTextFile(requirementsFile);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new PythonEnvError(
        `Cannot read ${requirementsFile}: run from the project folder (deno task runs there).`,
      );
    }
    throw error;
  }
  const version = await runTool(basePython, ["--version"], PYTHON_HINT);
  const match = version.output.match(/Python (\d+)\.(\d+)/);
  if (!version.success || !match) {
    throw new PythonEnvError(`"${basePython} --version" failed: ${version.output}. ${PYTHON_HINT}`);
  }
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (
    major < MIN_PYTHON_VERSION[0] ||
    (major === MIN_PYTHON_VERSION[0] && minor < MIN_PYTHON_VERSION[1])
  ) {
    throw new PythonEnvError(
      `"${basePython}" is ${match[0]}; the pinned tools need Python ${
        MIN_PYTHON_VERSION.join(".")
      }+. ${PYTHON_HINT}`,
    );
  }
  const stamp = await sha256(`${version.output}\n${requirements}`);
  const venvWorks = await Deno.stat(python).then(() => true, () => false);
  if (venvWorks && (await Deno.readTextFile(stampFile).catch(() => "")).trim() === stamp) {
    return { venvDir, python, installed: false };
  }

  if (!venvWorks) {
    logger.info(`Creating the Python environment ${venvDir} …`);
    const created = await runTool(basePython, ["-m", "venv", "--clear", venvDir], PYTHON_HINT);
    if (!created.success) {
      throw new PythonEnvError(
        `"${basePython} -m venv ${venvDir}" failed (on Debian/Ubuntu: sudo apt-get install python3-venv):\n${created.output}`,
      );
    }
  }
  logger.info(`Installing ${requirementsFile} into ${venvDir} (about a minute the first time) …`);
  const pip = await runTool(python, [
    "-m",
    "pip",
    "install",
    "--quiet",
    "--disable-pip-version-check",
    "-r",
    requirementsFile,
  ], PYTHON_HINT);
  if (!pip.success) {
    await Deno.remove(stampFile).catch(() => {});
    throw new PythonEnvError(
      `pip could not install ${requirementsFile} into ${venvDir}; check access to PyPI. pip said:\n` +
        pip.output.split("\n").slice(-15).join("\n"),
    );
  }
  await Deno.writeTextFile(stampFile, `${stamp}\n`);
  return { venvDir, python, installed: true };
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
