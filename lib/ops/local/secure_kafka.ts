/**
 * The local secure broker of `deno task up --secure`: a single KRaft node whose only client
 * listener is `SASL_SSL` with SCRAM-SHA-512, so the pipeline can be practised exactly as against
 * Amazon MSK or the project's EC2 broker.
 *
 * Its files live apart from the plain broker's (both can run at once): `.cache/kafka/secure/`
 * holds `server.properties`, `data/`, `broker.log`, `broker.pid`, `scram.password` and `tls/`
 * (from {@linkcode ensureBrokerTls}). The client settings go to `.cache/kafka/client.env`, the
 * `KEY=value` lines a shell loads with `set -a; . .cache/kafka/client.env; set +a`.
 *
 * Ports: client 9096 (Amazon MSK's SASL/SCRAM port), controller 9196 on `127.0.0.1`.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { type KafkaSecurity, renderClientEnv } from "../../kafka/security.ts";
import { SCRAM_MECHANISM } from "../broker_config.ts";
import { ensureBrokerTls, randomToken } from "./broker_tls.ts";
import { LocalBrokerError, type LocalBrokerSecurity, LocalCluster } from "./local_broker.ts";
import type { Logger } from "../../log.ts";

/** The secure broker's client port (Amazon MSK uses 9096 for SASL/SCRAM too). */
export const SECURE_PORT = 9096;

/** The SCRAM user the secure broker creates and `client.env` names. */
export const SECURE_USER = "pipeline";

/** Options of {@linkcode prepareSecureKafka}. */
export interface SecureKafkaOptions {
  /** The Kafka cache folder (jars, `client.env`). @default {".cache/kafka"} */
  cacheDir?: string;
  /** Client port; the controller's is 100 higher. @default {SECURE_PORT} */
  port?: number;
  /** Jars folder. @default {"<cacheDir>/jars"} */
  jarsDir?: string;
  /** Where progress goes. */
  logger?: Logger;
  /** How long a start waits for the broker. @default {60000} */
  startTimeoutMs?: number;
  /** The `keytool` launcher. @default {"keytool"} */
  keytool?: string;
}

/** What {@linkcode prepareSecureKafka} returns. */
export interface SecureKafka {
  /** The broker to start or stop (a single node). */
  cluster: LocalCluster;
  /** Its certificates and SCRAM user. */
  security: LocalBrokerSecurity;
  /** The settings a client needs, as `client.env` holds them. */
  client: KafkaSecurity;
  /** `client.env`, written by {@linkcode writeSecureClientEnv}. */
  clientEnvFile: string;
}

/** The secure broker's own folder under a Kafka cache folder. */
export function secureStateDir(cacheDir = ".cache/kafka"): string {
  return join(resolve(cacheDir), "secure");
}

/**
 * The secure broker of `cacheDir` without its secrets: enough to stop it or ask its status
 * (`deno task down`).
 */
export function secureKafkaToStop(
  options: Pick<SecureKafkaOptions, "cacheDir" | "port" | "logger"> = {},
): LocalCluster {
  return new LocalCluster({
    cacheDir: options.cacheDir,
    port: options.port ?? SECURE_PORT,
    stateDir: secureStateDir(options.cacheDir),
    logger: options.logger,
  });
}

/**
 * Makes (once) the CA, broker certificate and SCRAM password of the secure broker and returns the
 * broker and its client settings. Nothing starts yet.
 *
 * @example
 * ```ts ignore
 * import { prepareSecureKafka, writeSecureClientEnv } from "./secure_kafka.ts";
 * const secure = await prepareSecureKafka();
 * await secure.cluster.ensureJars();
 * await secure.cluster.start();
 * await writeSecureClientEnv(secure); // .cache/kafka/client.env
 * ```
 * @throws {LocalBrokerError} when its data folder was formatted without the saved password.
 * @throws {BrokerTlsError} / {MissingToolError} when `keytool` fails or is missing.
 */
export async function prepareSecureKafka(options: SecureKafkaOptions = {}): Promise<SecureKafka> {
  const cacheDir = resolve(options.cacheDir ?? ".cache/kafka");
  const stateDir = secureStateDir(cacheDir);
  await Deno.mkdir(stateDir, { recursive: true, mode: 0o700 });
  const tls = await ensureBrokerTls({ dir: join(stateDir, "tls"), keytool: options.keytool });
  if (tls.created) {
    options.logger?.info(`Made a CA and broker certificate in ${join(stateDir, "tls")}.`);
  }
  const password = await scramPassword(stateDir);
  const security: LocalBrokerSecurity = {
    tls: {
      caPemPath: tls.caPemPath,
      keystorePath: tls.keystorePath,
      truststorePath: tls.truststorePath,
      storePassword: tls.storePassword,
    },
    user: { name: SECURE_USER, password },
  };
  const cluster = new LocalCluster({
    cacheDir,
    jarsDir: options.jarsDir,
    port: options.port ?? SECURE_PORT,
    stateDir,
    security,
    logger: options.logger,
    startTimeoutMs: options.startTimeoutMs,
  });
  return {
    cluster,
    security,
    client: {
      securityProtocol: "SASL_SSL",
      saslMechanism: SCRAM_MECHANISM,
      saslUsername: SECURE_USER,
      saslPassword: password,
      sslCaLocation: tls.caPemPath,
    },
    clientEnvFile: join(cacheDir, "client.env"),
  };
}

/**
 * Writes `client.env` (owner-only: it holds the password): `KAFKA_BROKERS` and the security
 * settings of the secure broker, loadable with `set -a; . .cache/kafka/client.env; set +a`.
 */
export async function writeSecureClientEnv(secure: SecureKafka): Promise<string> {
  const text = "# The local secure broker (deno task up --secure). Load it into a shell with:\n" +
    "#   set -a; . .cache/kafka/client.env; set +a\n" +
    renderClientEnv(secure.cluster.bootstrap.split(","), secure.client);
  await Deno.writeTextFile(secure.clientEnvFile, text, { mode: 0o600 });
  await Deno.chmod(secure.clientEnvFile, 0o600);
  return secure.clientEnvFile;
}

/**
 * The SCRAM password saved in `stateDir`, made on first use. SCRAM users are written into the
 * metadata when the storage is formatted, so a formatted data folder without the saved password
 * cannot be logged into: that is an error saying to start afresh.
 */
async function scramPassword(stateDir: string): Promise<string> {
  const file = join(stateDir, "scram.password");
  try {
    const saved = (await Deno.readTextFile(file)).trim();
    if (saved !== "") return saved;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  try {
    await Deno.stat(join(stateDir, "data", "meta.properties"));
    throw new LocalBrokerError(
      `${
        join(stateDir, "data")
      } was formatted with a SCRAM password that is no longer in ${file}: ` +
        `stop the secure broker (deno task down) and delete ${stateDir} to start afresh.`,
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const password = randomToken(24);
  await Deno.writeTextFile(file, password + "\n", { mode: 0o600 });
  return password;
}
