/**
 * Runs one of the project's `scripts/` in a child Deno, as `deno task …` would, and collects what
 * it printed: the one way tests call a script.
 *
 * @module
 */

/** The project's root folder (where `deno.json` is). */
export const PROJECT_ROOT: string = new URL("../../", import.meta.url).pathname;

/** Options of {@linkcode runScript}. */
export interface RunScriptOptions {
  /** Variables for the child, on top of this process's (or alone, with `clearEnv`). */
  env?: Record<string, string>;
  /** Start the child with only `env`. @default false */
  clearEnv?: boolean;
  /** The child's working folder. @default this process's */
  cwd?: string;
}

/** What a script printed and how it ended. */
export interface ScriptRun {
  /** The exit code. */
  code: number;
  /** Standard output, decoded. */
  stdout: string;
  /** Standard error (where the scripts log), decoded. */
  stderr: string;
}

/**
 * Runs `scripts/<script>` with `deno run -A` and the given arguments, and waits for it to end.
 *
 * @example
 * ```ts ignore
 * import { runScript } from "./scripts.ts";
 * const { code, stderr } = await runScript("consume.ts", ["--flush-rows", "abc"]);
 * ```
 */
export async function runScript(
  script: string,
  args: readonly string[] = [],
  options: RunScriptOptions = {},
): Promise<ScriptRun> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${PROJECT_ROOT}scripts/${script}`, ...args],
    env: options.env,
    clearEnv: options.clearEnv,
    cwd: options.cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
