/**
 * Does a TLS handshake with `host:port` succeed? The local secure broker's readiness check (with
 * its CA, so the certificate is verified too) and the Kafka client's diagnosis of a plaintext
 * client talking to a TLS listener (without a CA: only "does it speak TLS at all").
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { connect } from "node:tls";

/** Options of {@linkcode tlsHandshakes}. */
export interface TlsProbeOptions {
  /**
   * A PEM file of the CA to verify the server's certificate and host name against. Without it the
   * certificate is not checked: the probe only asks whether the port speaks TLS.
   */
  caPemPath?: string;
  /** Give up after this long. @default {3000} */
  timeoutMs?: number;
}

/**
 * Resolves `true` when a TLS handshake with `host:port` completes within the timeout (and, with
 * `caPemPath`, the certificate verifies for `host`), else `false`. Never throws for network
 * trouble; closes the connection either way.
 *
 * @example
 * ```ts ignore
 * import { tlsHandshakes } from "./tls_probe.ts";
 * await tlsHandshakes("127.0.0.1", 9096, { caPemPath: ".cache/kafka/secure/tls/ca.pem" }); // true
 * ```
 */
export function tlsHandshakes(
  host: string,
  port: number,
  options: TlsProbeOptions = {},
): Promise<boolean> {
  const ca = options.caPemPath === undefined ? undefined : readFileSync(options.caPemPath, "utf8");
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      servername: /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? undefined : host,
      ca,
      rejectUnauthorized: ca !== undefined,
    });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on("error", () => {});
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), options.timeoutMs ?? 3_000);
    socket.once("secureConnect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}
