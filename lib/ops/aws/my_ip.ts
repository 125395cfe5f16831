/**
 * The caller's public IP address, which the EC2 security group opens Kafka (and SSH) to as a /32.
 * Given with `--my-ip`, or detected by asking a "what is my IP" service.
 *
 * @module
 */

/** Raised when the address is malformed, private, or cannot be detected; the message says what to do. */
export class MyIpError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MyIpError";
  }
}

/** The service asked by {@linkcode detectMyIp} by default (AWS's own, returns the address as text). */
export const DEFAULT_MY_IP_URL = "https://checkip.amazonaws.com/";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Whether an IPv4 address is private, loopback, link-local, CGNAT or unspecified (not what AWS sees). */
function isNonPublicIpv4(ip: string): boolean {
  const [a, b] = ip.split(".").map(Number);
  return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) ||
    (a === 100 && b >= 64 && b <= 127) || a >= 224;
}

/**
 * Checks a public address and returns it as a single-host CIDR (`/32` for IPv4, `/128` for IPv6).
 * Accepts `203.0.113.7`, `203.0.113.7/32`, or an IPv6 address.
 *
 * @example
 * ```ts
 * import { toHostCidr } from "./my_ip.ts";
 * toHostCidr("203.0.113.7"); // "203.0.113.7/32"
 * ```
 * @throws {MyIpError} for anything wider than one host, a private address, or text that is not an IP.
 */
export function toHostCidr(input: string, source = "--my-ip"): string {
  const text = input.trim();
  const [ip, mask, ...rest] = text.split("/");
  if (rest.length > 0 || ip === "") {
    throw new MyIpError(`${source}="${input}" is not an IP address: pass one like 203.0.113.7.`);
  }
  if (IPV4.test(ip)) {
    if (mask !== undefined && mask !== "32") {
      throw new MyIpError(
        `${source}="${input}" opens a whole network; pass a single address like ${ip} (opened as ${ip}/32).`,
      );
    }
    if (isNonPublicIpv4(ip)) {
      throw new MyIpError(
        `${source}="${input}" is a private or reserved address, not the one AWS sees; pass your public address (e.g. from https://checkip.amazonaws.com).`,
      );
    }
    return `${ip}/32`;
  }
  if (/^[0-9a-fA-F:]+$/.test(ip) && ip.includes(":") && ip !== "::") {
    if (mask !== undefined && mask !== "128") {
      throw new MyIpError(
        `${source}="${input}" opens a whole network; pass a single address (opened as /128).`,
      );
    }
    return `${ip.toLowerCase()}/128`;
  }
  throw new MyIpError(`${source}="${input}" is not an IP address: pass one like 203.0.113.7.`);
}

/** Options of {@linkcode detectMyIp}. */
export interface DetectMyIpOptions {
  /** Service returning the caller's address as plain text. @default DEFAULT_MY_IP_URL */
  url?: string;
  /** Give up after this many milliseconds. @default 5000 */
  timeoutMs?: number;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/**
 * Asks a service for the caller's public address and returns it as a host CIDR (e.g. `203.0.113.7/32`).
 *
 * @example
 * ```ts ignore
 * import { detectMyIp } from "./my_ip.ts";
 * const cidr = await detectMyIp(); // "203.0.113.7/32"
 * ```
 * @throws {MyIpError} telling the user to pass `--my-ip` when the service is unreachable or answers nonsense.
 */
export async function detectMyIp(options: DetectMyIpOptions = {}): Promise<string> {
  const url = options.url ?? DEFAULT_MY_IP_URL;
  const doFetch = options.fetch ?? globalThis.fetch;
  let text: string;
  try {
    const response = await doFetch(url, {
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
    text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
  } catch (cause) {
    throw new MyIpError(
      `Cannot detect your public IP address from ${url} (${
        cause instanceof Error ? cause.message : String(cause)
      }): pass it with --my-ip 203.0.113.7.`,
      { cause },
    );
  }
  try {
    return toHostCidr(text);
  } catch (cause) {
    throw new MyIpError(
      `Cannot detect your public IP address: ${url} returned "${
        text.trim().slice(0, 60)
      }", which is not a public IP address; pass yours with --my-ip 203.0.113.7.`,
      { cause },
    );
  }
}
