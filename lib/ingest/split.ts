/**
 * Splits a fetched Kafka batch into the ticks the lake takes and the poison messages the
 * dead-letter topic takes. Pure: the same batch always splits the same way, so a replayed range
 * writes the same rows.
 *
 * @module
 */

import type { SinkRecord } from "../lake/sink.ts";
import { decodeTickBytes, InvalidTickError, type Tick } from "../tick.ts";

/** The part of a Kafka message the split reads (kafkajs' `KafkaMessage` fits). */
export interface FetchedMessage {
  /** Offset, a decimal string. */
  offset: string;
  /** Record key. */
  key: Buffer | null;
  /** Record value. */
  value: Buffer | null;
  /** Record timestamp, epoch ms as a decimal string. */
  timestamp: string;
}

/** A message that is not a valid tick, with why. */
export interface PoisonMessage {
  /** Offset, a decimal string. */
  offset: string;
  /** Record key, forwarded as is. */
  key: Buffer | null;
  /** Record value, forwarded as is. */
  value: Buffer | null;
  /** What is wrong with it, for the `dlq.reason` header. */
  reason: string;
}

/** The result of {@linkcode splitBatch}. */
export interface SplitBatch {
  /** Valid ticks, in offset order. */
  records: SinkRecord[];
  /** Messages that are not valid ticks, in offset order. */
  poison: PoisonMessage[];
  /** The last valid tick, for progress displays. */
  last?: Tick;
}

/**
 * Decodes every message; a message that fails {@linkcode decodeTickBytes} becomes poison.
 *
 * @example
 * ```ts
 * import { Buffer } from "node:buffer";
 * import { splitBatch } from "./split.ts";
 * const { records, poison } = splitBatch([
 *   { offset: "0", key: null, value: Buffer.from("not json"), timestamp: "0" },
 * ]);
 * // records.length === 0, poison[0].reason explains the JSON error
 * ```
 */
export function splitBatch(messages: readonly FetchedMessage[]): SplitBatch {
  const records: SinkRecord[] = [];
  const poison: PoisonMessage[] = [];
  let last: Tick | undefined;
  for (const message of messages) {
    try {
      if (message.value === null) throw new InvalidTickError("null value");
      const tick = decodeTickBytes(message.value);
      records.push({
        offset: BigInt(message.offset),
        tick,
        timestamp: Number(message.timestamp),
        size: message.value.length,
      });
      last = tick;
    } catch (error) {
      poison.push({
        offset: message.offset,
        value: message.value,
        key: message.key,
        reason: (error as Error).message,
      });
    }
  }
  return { records, poison, last };
}
