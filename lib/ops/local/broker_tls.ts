/**
 * The TLS material of the local secure broker, made with Java's `keytool` (Java is there anyway
 * for the broker, so nothing else needs installing): a private certificate authority, a broker
 * certificate it signs for `localhost` and `127.0.0.1`, the broker's PKCS12 keystore and
 * truststore, and the CA certificate as PEM for clients (`KAFKA_SSL_CA_LOCATION`, kafkajs
 * `ssl.ca`).
 *
 * Files in the TLS folder: `ca.p12` (the CA's key, never leaves the folder), `ca.pem`,
 * `broker.p12` (keystore), `truststore.p12`, `store.password` (of the three stores); all
 * readable by the owner only. Made once; later calls reuse them.
 *
 * @module
 */

import { join } from "node:path";
import { runTool } from "./java.ts";

/** How long the certificates are valid, in days (825: the longest TLS clients accept). */
export const CERT_VALIDITY_DAYS = 825;

/** Raised when `keytool` cannot make the certificates; the message quotes it. */
export class BrokerTlsError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BrokerTlsError";
  }
}

/** Options of {@linkcode ensureBrokerTls}. */
export interface BrokerTlsOptions {
  /** The folder of the TLS files (created, mode 0700). Use an absolute path. */
  dir: string;
  /** DNS names and IPv4 addresses the broker certificate is valid for. @default {["localhost", "127.0.0.1"]} */
  hosts?: readonly string[];
  /** The `keytool` launcher. @default {"keytool"} */
  keytool?: string;
}

/** The TLS files of {@linkcode ensureBrokerTls}. */
export interface BrokerTls {
  /** The CA certificate, PEM: what clients trust (`KAFKA_SSL_CA_LOCATION`). */
  caPemPath: string;
  /** The broker's key and certificate chain, PKCS12 (`ssl.keystore.location`). */
  keystorePath: string;
  /** The CA certificate, PKCS12 (`ssl.truststore.location`, for inter-broker TLS). */
  truststorePath: string;
  /** The password of both stores (and of the broker's key). */
  storePassword: string;
  /** Whether this call made them (false: they were there). */
  created: boolean;
}

const KEYTOOL_HINT =
  "keytool comes with Java (the JDK or JRE package): install Java 17+ and run this again.";

/**
 * Makes the CA, broker certificate and stores in `dir` unless they are all there already.
 *
 * @example
 * ```ts
 * import { ensureBrokerTls } from "./broker_tls.ts";
 * const tls = await ensureBrokerTls({ dir: "/abs/.cache/kafka/secure/tls" });
 * tls.caPemPath; // "/abs/.cache/kafka/secure/tls/ca.pem"
 * ```
 * @throws {MissingToolError} when `keytool` is not on `PATH`.
 * @throws {BrokerTlsError} when `keytool` fails (the message quotes it).
 */
export async function ensureBrokerTls(options: BrokerTlsOptions): Promise<BrokerTls> {
  const dir = options.dir;
  const files = {
    caPemPath: join(dir, "ca.pem"),
    keystorePath: join(dir, "broker.p12"),
    truststorePath: join(dir, "truststore.p12"),
  };
  const passwordFile = join(dir, "store.password");
  const existing = await readIfAll([passwordFile, ...Object.values(files)]);
  if (existing !== undefined) {
    return { ...files, storePassword: existing.trim(), created: false };
  }
  const hosts = options.hosts ?? ["localhost", "127.0.0.1"];
  const san = "SAN=" + hosts.map((h) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) ? `ip:${h}` : `dns:${h}`)
    .join(",");
  const keytool = options.keytool ?? "keytool";
  // Start clean: a half-made set (an earlier run stopped midway) would not fit together.
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const password = randomToken(24);
  const ca = join(dir, "ca.p12");
  const csr = join(dir, "broker.csr");
  const signed = join(dir, "broker.pem");
  const store = ["-storetype", "PKCS12", "-storepass", password];
  const trustCa = (keystore: string) =>
    ["-importcert", "-noprompt", "-alias", "ca", "-file", files.caPemPath, "-keystore", keystore]
      .concat(store);
  const steps: string[][] = [
    [
      "-genkeypair",
      "-alias",
      "ca",
      "-keyalg",
      "RSA",
      "-keysize",
      "2048",
      "-dname",
      "CN=stock-market-pipeline local CA",
      "-ext",
      "bc:c",
      "-validity",
      String(CERT_VALIDITY_DAYS),
      "-keystore",
      ca,
      ...store,
    ],
    ["-exportcert", "-rfc", "-alias", "ca", "-keystore", ca, ...store, "-file", files.caPemPath],
    [
      "-genkeypair",
      "-alias",
      "broker",
      "-keyalg",
      "RSA",
      "-keysize",
      "2048",
      "-dname",
      `CN=${hosts[0]}`,
      "-ext",
      san,
      "-validity",
      String(CERT_VALIDITY_DAYS),
      "-keystore",
      files.keystorePath,
      ...store,
    ],
    ["-certreq", "-alias", "broker", "-keystore", files.keystorePath, ...store, "-file", csr],
    [
      "-gencert",
      "-rfc",
      "-alias",
      "ca",
      "-keystore",
      ca,
      ...store,
      "-infile",
      csr,
      "-outfile",
      signed,
      "-ext",
      san,
      "-ext",
      "KU=digitalSignature,keyEncipherment",
      "-ext",
      "EKU=serverAuth,clientAuth",
      "-validity",
      String(CERT_VALIDITY_DAYS),
    ],
    trustCa(files.keystorePath),
    ["-importcert", "-alias", "broker", "-file", signed, "-keystore", files.keystorePath, ...store],
    trustCa(files.truststorePath),
  ];
  for (const args of steps) {
    const { success, output } = await runTool(keytool, args, KEYTOOL_HINT);
    if (!success) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new BrokerTlsError(
        `keytool ${args[0]} failed while making the broker certificates in ${dir}: ${
          output.replaceAll(password, "[redacted]")
        }`,
      );
    }
  }
  await Deno.remove(csr);
  await Deno.remove(signed);
  for (const path of [ca, ...Object.values(files)]) await Deno.chmod(path, 0o600);
  // Written last: its presence means the set is complete.
  await Deno.writeTextFile(passwordFile, password + "\n", { mode: 0o600 });
  return { ...files, storePassword: password, created: true };
}

/**
 * A random token of `length` characters from `A–Z a–z 0–9` (passwords of the local secure broker:
 * safe in properties files, shell lines and Kafka's SCRAM syntax).
 */
export function randomToken(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
  let token = "";
  // Rejection sampling keeps every character equally likely (256 is not a multiple of 62).
  for (const byte of bytes) {
    if (byte < 248) token += alphabet[byte % 62];
    if (token.length === length) return token;
  }
  return token + randomToken(length - token.length);
}

/** The text of the first file when every file exists, else `undefined`. */
async function readIfAll(paths: string[]): Promise<string | undefined> {
  try {
    for (const path of paths.slice(1)) await Deno.stat(path);
    return await Deno.readTextFile(paths[0]);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}
