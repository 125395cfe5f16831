/**
 * A batch of ticks encoded once for Kafka: every key (the symbol) and value (the JSON wire form of
 * {@linkcode encodeTick}) as UTF-8, back to back in one byte array, with their boundaries. The
 * producer workers get it as two transferred buffers (no copy), and kafkajs gets each key and
 * value as a Buffer view into it, which it copies into its request (see `kafkajs_override.ts`)
 * instead of measuring and encoding a string per record.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Message } from "kafkajs";
import { encodeTick, type Tick } from "../tick.ts";

/** Ticks encoded by {@linkcode encodeTicks}. */
export interface EncodedTicks {
  /** Keys and values back to back, UTF-8: record i's key is `bytes[ends[2i] .. ends[2i+1]]`, its value `bytes[ends[2i+1] .. ends[2i+2]]`. */
  bytes: Uint8Array;
  /** `2n + 1` byte offsets into `bytes`, the first 0, the last `bytes.length`. */
  ends: Uint32Array;
}

/** Symbols seen so far → the start of their JSON (`{"symbol":"NYA","ts":"`), at most this many. */
const MAX_PREFIXES = 10_000;
const prefixes = new Map<string, string>();
let lastTs = NaN;
let lastIso = "";

/** A price as JSON writes it, or `undefined` for a value that is not a number or null. */
function jsonNumber(value: unknown): string | undefined {
  if (value === null) return "null";
  if (typeof value !== "number") return undefined;
  return Number.isFinite(value) ? "" + value : "null";
}

/**
 * The same string as {@linkcode encodeTick}, built without an intermediate object and with the
 * symbol's JSON and the last timestamp's ISO form reused (a batch holds one tick per symbol and
 * minute); a tick with a field of an unexpected type goes through `encodeTick` itself.
 *
 * @example
 * ```ts
 * import { encodeTick } from "../tick.ts";
 * import { tickJson } from "./tick_batch.ts";
 * const tick = { symbol: "NYA", ts: 0, open: 1, high: 1, low: 1, close: 1, adj_close: null,
 *   volume: 0, close_usd: 1 };
 * tickJson(tick) === encodeTick(tick); // true
 * ```
 */
export function tickJson(tick: Tick): string {
  const { symbol, ts } = tick;
  const open = jsonNumber(tick.open);
  const high = jsonNumber(tick.high);
  const low = jsonNumber(tick.low);
  const close = jsonNumber(tick.close);
  const adjClose = jsonNumber(tick.adj_close);
  const volume = jsonNumber(tick.volume);
  const closeUsd = jsonNumber(tick.close_usd);
  if (
    typeof symbol !== "string" || typeof ts !== "number" || open === undefined ||
    high === undefined || low === undefined || close === undefined || adjClose === undefined ||
    volume === undefined || closeUsd === undefined
  ) {
    return encodeTick(tick);
  }
  let prefix = prefixes.get(symbol);
  if (prefix === undefined) {
    if (prefixes.size >= MAX_PREFIXES) prefixes.clear();
    prefix = `{"symbol":${JSON.stringify(symbol)},"ts":"`;
    prefixes.set(symbol, prefix);
  }
  if (ts !== lastTs) {
    lastIso = new Date(ts).toISOString(); // a RangeError for an impossible time, as encodeTick
    lastTs = ts;
  }
  return prefix + lastIso + '","open":' + open + ',"high":' + high + ',"low":' + low +
    ',"close":' + close + ',"adj_close":' + adjClose + ',"volume":' + volume +
    ',"close_usd":' + closeUsd + "}";
}

const encoder = new TextEncoder();

/**
 * Encodes each tick's key (its symbol) and value ({@linkcode tickJson}) once, into one byte array.
 *
 * @example
 * ```ts
 * import { encodeTicks } from "./tick_batch.ts";
 * const tick = { symbol: "NYA", ts: 0, open: 1, high: 1, low: 1, close: 1, adj_close: 1,
 *   volume: 1, close_usd: 1 };
 * const { bytes, ends } = encodeTicks([tick]);
 * new TextDecoder().decode(bytes.subarray(ends[0], ends[1])); // "NYA"
 * ```
 */
export function encodeTicks(ticks: readonly Tick[]): EncodedTicks {
  const n = ticks.length;
  const parts: string[] = new Array(2 * n);
  const ends = new Uint32Array(2 * n + 1);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const key = ticks[i].symbol;
    const value = tickJson(ticks[i]);
    parts[2 * i] = key;
    parts[2 * i + 1] = value;
    ends[2 * i + 1] = at += key.length;
    ends[2 * i + 2] = at += value.length;
  }
  const text = parts.join("");
  const bytes = encoder.encode(text);
  // All ASCII (the usual case): characters are bytes. Otherwise measure each part in bytes.
  if (bytes.length === text.length) return { bytes, ends };
  const encoded = parts.map((part) => encoder.encode(part));
  const all = new Uint8Array(encoded.reduce((sum, part) => sum + part.length, 0));
  at = 0;
  encoded.forEach((part, i) => {
    all.set(part, at);
    ends[i + 1] = at += part.length;
  });
  return { bytes: all, ends };
}

/**
 * The kafkajs messages of an encoded batch: keys and values are Buffer views into `bytes` (not
 * copies), each message marked with `partition` when given.
 *
 * @example
 * ```ts
 * import { encodeTicks, tickMessages } from "./tick_batch.ts";
 * const tick = { symbol: "NYA", ts: 0, open: 1, high: 1, low: 1, close: 1, adj_close: 1,
 *   volume: 1, close_usd: 1 };
 * tickMessages(encodeTicks([tick]), 2)[0].partition; // 2
 * ```
 */
export function tickMessages(encoded: EncodedTicks, partition?: number): Message[] {
  const { bytes, ends } = encoded;
  const buffer = bytes.buffer as ArrayBuffer;
  const base = bytes.byteOffset;
  const messages: Message[] = new Array((ends.length - 1) >> 1);
  for (let i = 0; i < messages.length; i++) {
    const key = Buffer.from(buffer, base + ends[2 * i], ends[2 * i + 1] - ends[2 * i]);
    const value = Buffer.from(buffer, base + ends[2 * i + 1], ends[2 * i + 2] - ends[2 * i + 1]);
    messages[i] = partition === undefined ? { key, value } : { key, value, partition };
  }
  return messages;
}
