/**
 * Splits a fetched Kafka batch into the ticks the lake takes and the poison messages the
 * dead-letter topic takes. Pure: the same batch always splits the same way, so a replayed range
 * writes the same rows.
 *
 * @module
 */

import { FetchedRecord } from "../kafka/record_batch_decoder.ts";
import type { FetchedRows } from "../lake/tick_rows.ts";
import { decodeTickBytes, InvalidTickError, PRICE_COLUMNS, type Tick } from "../tick.ts";

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

/**
 * A fetched batch's values and record fields packed into a few arrays: what the split reads, cheap
 * to copy to a worker (no object per message).
 */
export interface PackedBatch {
  /** The messages' values, back to back. */
  bytes: Uint8Array;
  /** Where message `i`'s value ends in `bytes` (it starts where message `i - 1`'s ends). */
  ends: Int32Array;
  /** 1 where message `i` has a null value. */
  nulls: Uint8Array;
  /** Offset of message `i`. */
  offsets: Float64Array;
  /** Record timestamp of message `i`, epoch ms. */
  timestamps: Float64Array;
}

/**
 * Packs `messages` for {@linkcode splitPacked}; `allocate` gives the buffer for their values (a
 * zero-filled one of exactly `size` bytes, or a view of that length of a buffer used before).
 *
 * @example
 * ```ts
 * import { Buffer } from "node:buffer";
 * import { packBatch } from "./split.ts";
 * packBatch([{ offset: "3", key: null, value: Buffer.from("{}"), timestamp: "0" }]).ends; // [2]
 * ```
 */
export function packBatch(
  messages: readonly FetchedMessage[],
  allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): PackedBatch {
  const n = messages.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const message = messages[i];
    total += message instanceof FetchedRecord
      ? Math.max(message.valueLength, 0)
      : message.value?.length ?? 0;
  }
  const packed: PackedBatch = {
    bytes: allocate(total),
    ends: new Int32Array(n),
    nulls: new Uint8Array(n),
    offsets: new Float64Array(n),
    timestamps: new Float64Array(n),
  };
  let at = 0;
  for (let i = 0; i < n; i++) {
    const message = messages[i];
    if (message instanceof FetchedRecord) {
      // Straight from the fetched bytes: no Buffer and no strings made for the message.
      const { source, valueStart, valueLength } = message;
      if (valueLength < 0) packed.nulls[i] = 1;
      else {
        packed.bytes.set(
          new Uint8Array(source.buffer, source.byteOffset + valueStart, valueLength),
          at,
        );
        at += valueLength;
      }
      packed.ends[i] = at;
      packed.offsets[i] = message.offsetNumber;
      packed.timestamps[i] = message.timestampNumber;
      continue;
    }
    const { value, offset, timestamp } = message;
    if (value === null) packed.nulls[i] = 1;
    else {
      packed.bytes.set(value, at);
      at += value.length;
    }
    packed.ends[i] = at;
    packed.offsets[i] = Number(offset);
    packed.timestamps[i] = Number(timestamp);
  }
  return packed;
}

/** A message of a split batch that is not a valid tick: its index in the batch and why. */
export interface PoisonIndex {
  /** Index of the message in the batch. */
  index: number;
  /** What is wrong with it, for the `dlq.reason` header. */
  reason: string;
}

/** The result of {@linkcode splitPacked}. */
export interface SplitBatch {
  /** Valid ticks as columns, in offset order, each with its offset, timestamp and size. */
  rows: FetchedRows;
  /** Messages that are not valid ticks, in offset order. */
  poison: PoisonIndex[];
  /** The last valid tick, for progress displays. */
  last?: Tick;
}

/**
 * Decodes every packed message; one that fails {@linkcode decodeTickBytes} (or has no value)
 * becomes poison. Pure, and free of kafkajs' objects, so it runs in a worker as well.
 *
 * @example
 * ```ts
 * import { Buffer } from "node:buffer";
 * import { packBatch, splitPacked } from "./split.ts";
 * const { rows, poison } = splitPacked(packBatch([
 *   { offset: "0", key: null, value: Buffer.from("not json"), timestamp: "0" },
 * ]));
 * // rows.length === 0, poison[0].reason explains the JSON error
 * ```
 */
export function splitPacked(packed: PackedBatch): SplitBatch {
  const n = packed.ends.length;
  const rows: FetchedRows = {
    length: 0,
    symbols: [],
    times: new Float64Array(n),
    prices: PRICE_COLUMNS.map(() => new Float64Array(n)),
    defined: PRICE_COLUMNS.map(() => new Uint8Array(n)),
    offsets: new Float64Array(n),
    ingest: new Float64Array(n),
    sizes: new Float64Array(n),
  };
  const poison: PoisonIndex[] = [];
  let last: Tick | undefined;
  let row = 0;
  for (let i = 0, start = 0; i < n; start = packed.ends[i], i++) {
    try {
      if (packed.nulls[i]) throw new InvalidTickError("null value");
      const tick = decodeTickBytes(packed.bytes.subarray(start, packed.ends[i]));
      rows.symbols.push(tick.symbol);
      rows.times[row] = tick.ts;
      for (let c = 0; c < PRICE_COLUMNS.length; c++) {
        const value = tick[PRICE_COLUMNS[c]];
        if (value === null) continue;
        rows.prices[c][row] = value;
        rows.defined[c][row] = 1;
      }
      rows.offsets[row] = packed.offsets[i];
      rows.ingest[row] = packed.timestamps[i];
      rows.sizes[row] = packed.ends[i] - start;
      row++;
      last = tick;
    } catch (error) {
      poison.push({ index: i, reason: (error as Error).message });
    }
  }
  rows.length = row;
  return { rows: row === n ? rows : trimmed(rows, row), poison, last };
}

/** `rows` with every column cut to its first `n` rows. */
function trimmed(rows: FetchedRows, n: number): FetchedRows {
  return {
    length: n,
    symbols: rows.symbols,
    times: rows.times.slice(0, n),
    prices: rows.prices.map((column) => column.slice(0, n)),
    defined: rows.defined.map((mask) => mask.slice(0, n)),
    offsets: rows.offsets.slice(0, n),
    ingest: rows.ingest.slice(0, n),
    sizes: rows.sizes.slice(0, n),
  };
}

/** Splits fetched messages on this thread: {@linkcode splitPacked} of {@linkcode packBatch}. */
export function splitBatch(messages: readonly FetchedMessage[]): SplitBatch {
  return splitPacked(packBatch(messages));
}

/** The poison messages of `split`, with their keys and values, for the dead-letter topic. */
export function poisonMessages(
  messages: readonly FetchedMessage[],
  split: Pick<SplitBatch, "poison">,
): PoisonMessage[] {
  return split.poison.map(({ index, reason }) => {
    const { offset, key, value } = messages[index];
    return { offset, key, value, reason };
  });
}
