/**
 * A faster decoder of fetched record batches, for kafkajs 2.2.4's
 * `kafkajs/src/protocol/recordBatch/v0/decoder.js`, and a faster `Batch` for
 * `kafkajs/src/consumer/batch.js` (both installed by {@linkcode ./kafkajs_override.ts}).
 *
 * For every fetched record, kafkajs' own code makes a Buffer of the record's bytes and a `Decoder`
 * over it, then the record object with a Buffer for its key and one for its value, a `{}` for its
 * headers and two decimal strings (offset and timestamp, from `Long` arithmetic); the consumer's
 * `Batch` then parses each offset again into a `BigInt` to drop the records before the fetched
 * offset. At the lake consumer's rate, those objects were most of its garbage collection.
 *
 * This decoder reads the records straight out of the batch's (inflated) bytes into one
 * {@linkcode FetchedRecord} each: the numbers, and where the key and the value lie. Its fields are
 * kafkajs' (`offset`, `timestamp`, `key`, `value`, `headers`, …, the same strings and Buffers), made
 * when first read, so a consumer that only packs the values
 * ({@linkcode ../ingest/split.ts}'s `packBatch`) never makes them. Where numbers cannot be exact
 * — an offset or timestamp past 2^53, a varint longer than kafkajs reads alike — or a record has
 * headers or does not fit its batch, the batch's records are read by kafkajs' own record decoder,
 * so every batch decodes as kafkajs decodes it (`record_batch_decoder_test.ts` compares them
 * record by record).
 *
 * A `FetchedRecord`'s kafkajs fields are getters on its class: read them one by one (as kafkajs and
 * this project do) or through `toJSON()`; a spread (`{ ...record }`) or `Object.keys` does not see
 * them.
 *
 * @module
 */

import { Buffer } from "node:buffer";

// deno-lint-ignore no-explicit-any
type Any = any;

/** kafkajs' `Decoder` as the batch decoder uses it. */
export interface KafkajsDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readInt16(): number;
  readInt32(): number;
  readInt64(): { toString(): string };
  readAll(): Buffer;
  readVarIntBytes(): Buffer | null;
  slice(size: number): KafkajsDecoder;
  forward(size: number): void;
}

/** The batch fields kafkajs gives each record as `batchContext`. */
export interface RecordBatchContext {
  firstOffset: string;
  firstTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  maxTimestamp: string;
  timestampType: number;
  magicByte: number;
}

/** kafkajs' decoder of one record batch: a fetch decoder at the batch's first byte. */
export type RecordBatchDecoder = (decoder: KafkajsDecoder) => Promise<Any>;

/** The kafkajs parts the batch decoder needs. */
export interface BatchDecoderInternals {
  /** kafkajs' codec lookup (`protocol/message/compression`). */
  lookupCodecByAttributes(
    attributes: number,
  ): { decompress(bytes: Buffer): Promise<Buffer> } | null;
  /** kafkajs' error for a batch cut short by the fetch size. */
  KafkaJSPartialMessageError: new (message: string) => Error;
  /** kafkajs' `Decoder` class. */
  Decoder: new (buffer: Buffer) => KafkajsDecoder;
  /** kafkajs' record decoder (`recordBatch/record/v0/decoder.js`): one record from its bytes. */
  decodeRecord(decoder: KafkajsDecoder, context: RecordBatchContext): Any;
}

const TIMESTAMP_TYPE_FLAG_MASK = 0x8;
const TRANSACTIONAL_FLAG_MASK = 0x10;
const CONTROL_FLAG_MASK = 0x20;
/** kafkajs' `TimestampTypes`. */
const CREATE_TIME = 0;
const LOG_APPEND_TIME = 1;

/**
 * One fetched record: what kafkajs' record decoder returns, with `offset`, `timestamp`, `key`,
 * `value` and `headers` made when first read. `offsetNumber` and `timestampNumber` are exact.
 */
export class FetchedRecord {
  /** The batch's fields, shared by its records (kafkajs' `batchContext`). */
  readonly batchContext: RecordBatchContext;
  /** The record's attributes byte. */
  readonly attributes: number;
  /** The offset as a number. */
  readonly offsetNumber: number;
  /** The timestamp (epoch ms) as a number. */
  readonly timestampNumber: number;
  /** The bytes the key and value lie in (the batch's, inflated). */
  readonly source: Buffer;
  /** Where the key starts in `source`. */
  readonly keyStart: number;
  /** The key's length, -1 for a null key. */
  readonly keyLength: number;
  /** Where the value starts in `source`. */
  readonly valueStart: number;
  /** The value's length, -1 for a null value. */
  readonly valueLength: number;
  #key?: Buffer | null;
  #value?: Buffer | null;
  #headers?: Record<string, never>;

  /** Creates the record; the batch decoder does. */
  constructor(
    batchContext: RecordBatchContext,
    attributes: number,
    offsetNumber: number,
    timestampNumber: number,
    source: Buffer,
    keyStart: number,
    keyLength: number,
    valueStart: number,
    valueLength: number,
  ) {
    this.batchContext = batchContext;
    this.attributes = attributes;
    this.offsetNumber = offsetNumber;
    this.timestampNumber = timestampNumber;
    this.source = source;
    this.keyStart = keyStart;
    this.keyLength = keyLength;
    this.valueStart = valueStart;
    this.valueLength = valueLength;
  }

  /** The batch's magic byte (2). */
  get magicByte(): number {
    return this.batchContext.magicByte;
  }

  /** Whether the record is a control record (its batch is a control batch). */
  get isControlRecord(): boolean {
    return this.batchContext.isControlBatch;
  }

  /** The offset, a decimal string. */
  get offset(): string {
    return String(this.offsetNumber);
  }

  /** The timestamp, epoch ms as a decimal string. */
  get timestamp(): string {
    return String(this.timestampNumber);
  }

  /** The key (a view of the batch's bytes), or null. */
  get key(): Buffer | null {
    if (this.#key === undefined) this.#key = this.#bytes(this.keyStart, this.keyLength);
    return this.#key;
  }

  /** The value (a view of the batch's bytes), or null. */
  get value(): Buffer | null {
    if (this.#value === undefined) this.#value = this.#bytes(this.valueStart, this.valueLength);
    return this.#value;
  }

  /** The headers: none (a record with headers is decoded by kafkajs). */
  get headers(): Record<string, never> {
    return this.#headers ??= {};
  }

  /** The record as kafkajs' plain record object (its fields are getters, which a spread skips). */
  toJSON(): Record<string, unknown> {
    const { magicByte, attributes, timestamp, offset, key, value, headers } = this;
    return {
      magicByte,
      attributes,
      timestamp,
      offset,
      key,
      value,
      headers,
      isControlRecord: this.isControlRecord,
      batchContext: this.batchContext,
    };
  }

  #bytes(start: number, length: number): Buffer | null {
    return length < 0 ? null : this.source.subarray(start, start + length);
  }
}

/** `text` as a number when that is exact, else `undefined`. */
function exact(text: string): number | undefined {
  const value = Number(text);
  return Number.isSafeInteger(value) && String(value) === text ? value : undefined;
}

/**
 * Reads the records of a batch out of `source` from `at`: `count` records, each a length-prefixed
 * slice. Returns `undefined` for anything kafkajs' decoder must read (see the module docs).
 */
function decodeRecords(
  source: Buffer,
  at: number,
  count: number,
  context: RecordBatchContext,
): FetchedRecord[] | undefined {
  const firstOffset = exact(context.firstOffset);
  // As kafkajs: a batch of log append time gives each record its max timestamp.
  const logAppend = context.timestampType === LOG_APPEND_TIME && context.maxTimestamp !== "";
  const appendTime = logAppend ? exact(context.maxTimestamp) : undefined;
  const firstTimestamp = exact(context.firstTimestamp);
  if (firstOffset === undefined) return undefined;
  if (logAppend ? appendTime === undefined : firstTimestamp === undefined) return undefined;
  const records = new Array<FetchedRecord>(count);
  const size = source.length;
  for (let i = 0; i < count; i++) {
    const length = varInt();
    if (!(length >= 0) || at + length > size) return undefined;
    const end = at + length;
    if (at >= end) return undefined;
    const attributes = (source[at++] << 24) >> 24;
    const timestampDelta = varLong();
    if (timestampDelta === undefined) return undefined;
    const offsetDelta = varInt();
    if (Number.isNaN(offsetDelta)) return undefined;
    const keyLength = varInt();
    if (!(keyLength >= -1)) return undefined;
    const keyStart = at;
    if (keyLength > 0) at += keyLength;
    const valueLength = varInt();
    if (!(valueLength >= -1)) return undefined;
    const valueStart = at;
    if (valueLength > 0) at += valueLength;
    // Headers: none is one zero byte; anything else is kafkajs' to read.
    if (at >= end || source[at] !== 0) return undefined;
    const offset = firstOffset + offsetDelta;
    const timestamp = appendTime ?? firstTimestamp! + timestampDelta;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(timestamp)) return undefined;
    records[i] = new FetchedRecord(
      context,
      attributes,
      offset,
      timestamp,
      source,
      keyStart,
      keyLength,
      valueStart,
      valueLength,
    );
    at = end;
  }
  return records;

  /** kafkajs' `readVarInt` for up to 4 bytes (exact there); NaN for a longer one or past the end. */
  function varInt(): number {
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (at >= size) return NaN;
      const byte = source[at++];
      result += (byte & 0x7f) << shift;
      if (byte < 0x80) return (result >>> 1) ^ -(result & 1);
    }
    return NaN;
  }

  /** A zig-zag varint of up to 7 bytes (49 bits) as an exact number, or `undefined`. */
  function varLong(): number | undefined {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 7; i++) {
      if (at >= size) return undefined;
      const byte = source[at++];
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      scale *= 128;
    }
    return undefined;
  }
}

/**
 * Makes the replacement batch decoder. The records it cannot read exactly are read by kafkajs' own
 * record decoder, from the same (inflated) bytes, as kafkajs' batch decoder reads them.
 */
export function recordBatchDecoder(internals: BatchDecoderInternals): RecordBatchDecoder {
  const { lookupCodecByAttributes, KafkaJSPartialMessageError, Decoder, decodeRecord } = internals;
  /** kafkajs' reading of `count` length-prefixed records from `decoder`. */
  const byKafkajs = (decoder: KafkajsDecoder, count: number, context: RecordBatchContext) => {
    const records = new Array(count);
    for (let i = 0; i < count; i++) {
      records[i] = decodeRecord(new Decoder(decoder.readVarIntBytes()!), context);
    }
    return records;
  };
  return async (fetchDecoder) => {
    // The batch header, read as kafkajs reads it.
    const firstOffset = fetchDecoder.readInt64().toString();
    const length = fetchDecoder.readInt32();
    const decoder = fetchDecoder.slice(length);
    fetchDecoder.forward(length);
    const remainingBytes = Buffer.byteLength(decoder.buffer);
    if (remainingBytes < length) {
      throw new KafkaJSPartialMessageError(
        `Tried to decode a partial record batch: remainingBytes(${remainingBytes}) < recordBatchLength(${length})`,
      );
    }
    const partitionLeaderEpoch = decoder.readInt32();
    const magicByte = decoder.readInt8();
    decoder.readInt32(); // CRC, not checked (as kafkajs)
    const attributes = decoder.readInt16();
    const lastOffsetDelta = decoder.readInt32();
    const firstTimestamp = decoder.readInt64().toString();
    const maxTimestamp = decoder.readInt64().toString();
    const producerId = decoder.readInt64().toString();
    const producerEpoch = decoder.readInt16();
    const firstSequence = decoder.readInt32();
    const recordContext = {
      firstOffset,
      firstTimestamp,
      partitionLeaderEpoch,
      inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
      isControlBatch: (attributes & CONTROL_FLAG_MASK) > 0,
      lastOffsetDelta,
      producerId,
      producerEpoch,
      firstSequence,
      maxTimestamp,
      timestampType: (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? LOG_APPEND_TIME : CREATE_TIME,
    };
    const context: RecordBatchContext = { ...recordContext, magicByte };
    const codec = lookupCodecByAttributes(attributes);
    const count = decoder.readInt32();
    if (codec) {
      if (count <= 0) return { ...recordContext, records: [] };
      const inflated = await codec.decompress(decoder.readAll());
      const records = decodeRecords(inflated, 0, count, context) ??
        byKafkajs(new Decoder(inflated), count, context);
      return { ...recordContext, records };
    }
    if (count === -1) return { ...recordContext, records: [] };
    const records =
      (count >= 0 ? decodeRecords(decoder.buffer, decoder.offset, count, context) : undefined) ??
        byKafkajs(decoder, count, context);
    return { ...recordContext, records };
  };
}

/** kafkajs' consumer `Batch` class, as the replacement needs it. */
export interface BatchClass {
  new (topic: string, fetchedOffset: string, partitionData: Any): Any;
  prototype: object;
}

/** The kafkajs parts the batch class needs. */
export interface BatchInternals {
  /** kafkajs' `utils/long`. */
  Long: { fromValue(value: unknown): { gte(other: unknown): boolean } };
  /** kafkajs' `consumer/filterAbortedMessages`. */
  filterAbortedMessages(args: { messages: Any[]; abortedTransactions: Any }): Any[];
}

/**
 * kafkajs' consumer `Batch` with the same fields and methods (its prototype), whose constructor
 * compares {@linkcode FetchedRecord}s' offsets as numbers instead of parsing each into a `BigInt`.
 */
export function fetchBatchClass(
  original: BatchClass,
  { Long, filterAbortedMessages }: BatchInternals,
): BatchClass {
  function Batch(topic: string, fetchedOffset: string, partitionData: Any) {
    const batch = Object.create(original.prototype);
    batch.fetchedOffset = fetchedOffset;
    const longFetchedOffset = Long.fromValue(fetchedOffset);
    const fetched = typeof fetchedOffset === "string" ? exact(fetchedOffset) : undefined;
    const { abortedTransactions, messages } = partitionData;
    batch.topic = topic;
    batch.partition = partitionData.partition;
    batch.highWatermark = partitionData.highWatermark;
    batch.rawMessages = messages;
    // As kafkajs: drop the records before the fetched offset (a batch can start before it).
    batch.messagesWithinOffset = messages.filter((message: Any) =>
      fetched !== undefined && message instanceof FetchedRecord
        ? message.offsetNumber >= fetched
        : Long.fromValue(message.offset).gte(longFetchedOffset)
    );
    // As kafkajs: no aborted messages, no control records.
    batch.messages = filterAbortedMessages({
      messages: batch.messagesWithinOffset,
      abortedTransactions,
    }).filter((message: Any) => !message.isControlRecord);
    return batch;
  }
  Batch.prototype = original.prototype;
  return Batch as unknown as BatchClass;
}
