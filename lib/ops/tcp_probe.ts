/**
 * The one TCP probe: does something accept connections at `host:port`, and if not, why. The local
 * services use it to wait for a broker or moto; the doctor uses the reason to explain a failure.
 *
 * @module
 */

/**
 * Connects to `host:port` and closes at once. Resolves `undefined` when a connection was
 * accepted, else the reason: `ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT` or the error's message.
 *
 * @example
 * ```ts ignore
 * import { tcpProbe } from "./tcp_probe.ts";
 * const problem = await tcpProbe("127.0.0.1", 9092, 2000); // undefined when Kafka listens
 * ```
 */
export async function tcpProbe(
  host: string,
  port: number,
  timeoutMs = 2_000,
): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = Deno.connect({ hostname: host, port });
  try {
    const conn = await Promise.race([
      attempt,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`ETIMEDOUT after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    conn.close();
    return undefined;
  } catch (error) {
    attempt.then((late) => late.close(), () => {}); // a connection that comes after the timeout
    if (error instanceof Deno.errors.ConnectionRefused) return "ECONNREFUSED";
    if (error instanceof Deno.errors.NotFound) return "ENOTFOUND";
    const text = (error as Error).message;
    return /ETIMEDOUT|timed out/i.test(text) ? "ETIMEDOUT" : text;
  } finally {
    clearTimeout(timer);
  }
}
