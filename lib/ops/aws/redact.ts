/**
 * Defence in depth against credentials in logs: a logger wrapper that masks the values of secret
 * environment variables (AWS keys, `KAFKA_SASL_PASSWORD`), anything shaped like an AWS key and any
 * `password=…` / `password: …`, should one ever reach a message.
 *
 * @module
 */

import type { Logger } from "../../log.ts";

/** Environment variables whose values must never be printed. */
export const SECRET_ENV_VARS = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "KAFKA_SASL_PASSWORD",
] as const;

const KEY_SHAPES = [
  /\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, // access key ids
  /(aws_secret_access_key|secretAccessKey|aws_session_token|sessionToken|kafka_sasl_password|saslPassword|password)(["']?\s*[:=]\s*["']?)[^\s"',;}\]]+/gi,
];

/**
 * Replaces every secret value and key-shaped string in `text` with `[redacted]`.
 *
 * @example
 * ```ts
 * import { redact } from "./redact.ts";
 * redact("key AKIAIOSFODNN7EXAMPLE", []); // "key [redacted]"
 * ```
 */
export function redact(text: string, secrets: string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length >= 4) result = result.replaceAll(secret, "[redacted]");
  }
  result = result.replace(KEY_SHAPES[0], "[redacted]");
  return result.replace(KEY_SHAPES[1], (_m, name, sep) => `${name}${sep}[redacted]`);
}

/** The values of {@linkcode SECRET_ENV_VARS} set in `env`. */
export function secretsFromEnv(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string[] {
  return SECRET_ENV_VARS.map((name) => env[name]).filter((v): v is string => !!v);
}

/** Wraps a logger so every message goes through {@linkcode redact} first. */
export function redactingLogger(logger: Logger, secrets: string[] = secretsFromEnv()): Logger {
  return {
    info: (message) => logger.info(redact(message, secrets)),
    warn: (message) => logger.warn(redact(message, secrets)),
    error: (message) => logger.error(redact(message, secrets)),
  };
}
