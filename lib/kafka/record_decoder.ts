/**
 * A faster decoder of one record of a fetched record batch, for kafkajs 2.2.4's
 * `kafkajs/src/protocol/recordBatch/record/v0/decoder.js` (installed by
 * {@linkcode ./kafkajs_override.ts}). kafkajs' own decoder does, for every record:
 * - its timestamp delta with `Long` arithmetic, one `Long` add and shift per varint byte;
 * - `Long.fromValue(firstTimestamp)` and `Long.fromValue(firstOffset)`, which parse the batch's
 *   decimal strings again, then a `Long` add and `toString()` for each;
 * - its headers through an array, a `reduce` and an object spread, even when there are none.
 *
 * This one reads the varints with plain numbers, parses the batch's first offset and first
 * timestamp once per batch, and builds the same record object (same fields, same strings, same
 * Buffers). Where numbers cannot be exact — a value past 2^53, a varint of more than 7 bytes, a
 * record with headers — it hands over to kafkajs' own code, so every record decodes as kafkajs
 * decodes it (`record_decoder_test.ts` compares them record by record).
 *
 * @module
 */

// deno-lint-ignore no-explicit-any
type Any = any;

/** kafkajs' `Decoder` as the record decoder uses it. */
export interface KafkajsDecoder {
  buffer: Uint8Array;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): Any;
  readVarIntBytes(): Uint8Array | null;
}

/** The batch fields a record needs, as kafkajs' record batch decoder passes them. */
export interface RecordBatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
  [field: string]: unknown;
}

/** kafkajs' `LOG_APPEND_TIME` timestamp type. */
const LOG_APPEND_TIME = 1;

/** The batch's first offset and timestamp as numbers, when exact; parsed once per batch. */
const bases = new WeakMap<object, { offset?: number; timestamp?: number }>();

function exact(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && String(value) === text ? value : undefined;
}

function basesOf(context: RecordBatchContext): { offset?: number; timestamp?: number } {
  let found = bases.get(context);
  if (!found) {
    found = { offset: exact(context.firstOffset), timestamp: exact(context.firstTimestamp) };
    bases.set(context, found);
  }
  return found;
}

/**
 * A zig-zag varint of up to 7 bytes (49 bits) read as an exact number, or `undefined` (with the
 * decoder's position unchanged) for a longer one.
 */
function readShortVarLong(decoder: KafkajsDecoder): number | undefined {
  const { buffer } = decoder;
  let at = decoder.offset;
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 7; i++) {
    const byte = buffer[at++];
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      decoder.offset = at;
      return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    }
    scale *= 128;
  }
  return undefined;
}

/** kafkajs' record decoder: a decoder at a record's first byte, and its batch's fields. */
export type RecordDecoder = (decoder: KafkajsDecoder, context?: RecordBatchContext) => Any;

/**
 * Makes the replacement record decoder. `original` is kafkajs' own, which decodes what this one
 * does not.
 */
export function recordDecoder(original: RecordDecoder): RecordDecoder {
  return (decoder, batchContext = {}) => {
    const start = decoder.offset;
    const { magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const base = basesOf(batchContext);
    const attributes = decoder.readInt8();
    const timestampDelta = readShortVarLong(decoder);
    if (timestampDelta === undefined) return retry();
    let timestamp: string | undefined;
    if (timestampType === LOG_APPEND_TIME && maxTimestamp) {
      timestamp = maxTimestamp;
    } else {
      const value = base.timestamp === undefined ? NaN : base.timestamp + timestampDelta;
      if (!Number.isSafeInteger(value)) return retry();
      timestamp = String(value);
    }
    const offsetDelta = decoder.readVarInt();
    const offset = base.offset === undefined ? NaN : base.offset + offsetDelta;
    if (!Number.isSafeInteger(offset)) return retry();
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    // Headers: none is one zero byte (a zig-zag varint of 0); anything else is kafkajs' to read.
    if (decoder.buffer[decoder.offset] !== 0) return retry();
    decoder.offset++;
    return {
      magicByte,
      attributes,
      timestamp,
      offset: String(offset),
      key,
      value,
      headers: {},
      isControlRecord: isControlBatch,
      batchContext,
    };

    /** Decodes the record again from its start with kafkajs' own decoder. */
    function retry() {
      decoder.offset = start;
      return original(decoder, batchContext);
    }
  };
}
