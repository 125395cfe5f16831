/**
 * Runs one of Kafka's own command-line tools (`org.apache.kafka.tools.*` from the `kafka-tools`
 * jar the project downloads) with the JVM on PATH, for the benchmark's references.
 *
 * @module
 */

/** Options of {@linkcode runKafkaTool}. */
export interface KafkaToolOptions {
  /** Folder of the Kafka jars (kafka-tools and its dependencies). @default ".cache/kafka/jars" */
  jarsDir?: string;
  /** The java program. @default "java" */
  java?: string;
  /** Makes the error the caller raises, from a message that says what to do. */
  error: (message: string) => Error;
}

/**
 * Runs `java -cp <jars>/* <className> ...args` and returns its stdout.
 *
 * @example
 * ```ts ignore
 * import { runKafkaTool } from "./java_tool.ts";
 * const out = await runKafkaTool("org.apache.kafka.tools.ConsumerPerformance", ["--help"], {
 *   error: (m) => new Error(m),
 * });
 * ```
 * @throws the caller's error when java or kafka-tools is missing, or the tool exits non-zero.
 */
export async function runKafkaTool(
  className: string,
  args: string[],
  options: KafkaToolOptions,
): Promise<string> {
  const jarsDir = options.jarsDir ?? ".cache/kafka/jars";
  const hasTools = await Array.fromAsync(Deno.readDir(jarsDir)).then(
    (entries) => entries.some((e) => /^kafka-tools-\d.*\.jar$/.test(e.name)),
    () => false,
  );
  if (!hasTools) {
    throw options.error(
      `No kafka-tools jar in ${jarsDir}: run \`deno task up\` once to fetch the Kafka jars.`,
    );
  }
  const tool = className.split(".").pop();
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(options.java ?? "java", {
      args: ["-Xmx512m", "-cp", `${jarsDir}/*`, className, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (error) {
    throw options.error(
      `Cannot run java (${(error as Error).message}): install a JDK 17+ and put java on PATH.`,
    );
  }
  if (!output.success) {
    throw options.error(
      `${tool} exited with ${output.code}: ${
        new TextDecoder().decode(output.stderr).trim().slice(-1000)
      }`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}
