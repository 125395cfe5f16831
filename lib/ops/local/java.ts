/**
 * Checks for the host tools the local services need (Java and Maven for Kafka, Python for moto),
 * with errors that say what to install.
 *
 * @module
 */

/** The oldest Java that runs Kafka 3.9 brokers well (and the default JDK of the build machines). */
export const MIN_JAVA_VERSION = 17;

/** Raised when a program the project needs is not on `PATH`; the message says how to install it. */
export class MissingToolError extends Error {
  /** The program that was not found, e.g. `java`. */
  readonly tool: string;
  /** Creates the error for `tool`, with an install hint. */
  constructor(tool: string, hint: string) {
    super(`Cannot find "${tool}" on PATH. ${hint}`);
    this.name = "MissingToolError";
    this.tool = tool;
  }
}

/** Raised when the Java on `PATH` is older than {@linkcode MIN_JAVA_VERSION}. */
export class JavaVersionError extends Error {
  /** Creates the error for the version found. */
  constructor(found: number, java: string) {
    super(
      `"${java}" is Java ${found}; Kafka needs Java ${MIN_JAVA_VERSION} or newer. ${JAVA_HINT}`,
    );
    this.name = "JavaVersionError";
  }
}

/** How to install Java, for error messages. */
export const JAVA_HINT =
  `Install Java ${MIN_JAVA_VERSION}+ (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) and run this again.`;

/** How to install Maven, for error messages. */
export const MAVEN_HINT =
  "Install Maven, which downloads the Kafka jars from Maven Central (Debian/Ubuntu: sudo apt-get install maven; macOS: brew install maven), and run this again.";

/** How to install Python, for error messages. */
export const PYTHON_HINT =
  "Install Python 3.10+ with venv (Debian/Ubuntu: sudo apt-get install python3 python3-venv; macOS: brew install python) and run this again.";

/**
 * Runs `command args…` and returns its combined output.
 *
 * @throws {MissingToolError} with `hint` when the command is not on `PATH`.
 */
export async function runTool(
  command: string,
  args: string[],
  hint: string,
  options: { cwd?: string } = {},
): Promise<{ success: boolean; code: number; output: string }> {
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(command, {
      args,
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new MissingToolError(command, hint);
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    success: result.success,
    code: result.code,
    output: (decoder.decode(result.stdout) + decoder.decode(result.stderr)).trim(),
  };
}

/**
 * Reads the major version out of `java -version` output (`"17.0.15"` → 17, `"1.8.0_392"` → 8).
 *
 * @example
 * ```ts
 * import { parseJavaVersion } from "./java.ts";
 * parseJavaVersion('openjdk version "17.0.15" 2025-04-15'); // 17
 * ```
 */
export function parseJavaVersion(text: string): number | undefined {
  const match = text.match(/version "(\d+)(?:\.(\d+))?[^"]*"/);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 && match[2] !== undefined ? Number(match[2]) : major;
}

/**
 * Checks that `java` runs and is at least {@linkcode MIN_JAVA_VERSION}; returns its major version.
 *
 * @throws {MissingToolError} when `java` is not on `PATH`.
 * @throws {JavaVersionError} when it is too old.
 */
export async function requireJava(java = "java"): Promise<number> {
  const { output } = await runTool(java, ["-version"], JAVA_HINT);
  const version = parseJavaVersion(output);
  if (version === undefined) {
    throw new Error(`Cannot read the version from "${java} -version": ${output}. ${JAVA_HINT}`);
  }
  if (version < MIN_JAVA_VERSION) throw new JavaVersionError(version, java);
  return version;
}

/**
 * Checks that Maven runs.
 *
 * @throws {MissingToolError} when `mvn` is not on `PATH`.
 */
export async function requireMaven(mvn = "mvn"): Promise<void> {
  const { success, output } = await runTool(mvn, ["-v"], MAVEN_HINT);
  if (!success) throw new Error(`"${mvn} -v" failed: ${output}. ${MAVEN_HINT}`);
}
