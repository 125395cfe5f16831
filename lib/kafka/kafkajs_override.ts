/**
 * Faster internals for kafkajs 2.2.4, put into kafkajs' CommonJS module cache before kafkajs
 * loads: two on the produce path, so that every producer of the project (`produceTicks`, the
 * producer workers, the dead-letter producer, tests) sends the same bytes with less CPU, and
 * three on the fetch path (3. and 4. below), so that every consumer reads the same records with
 * less CPU. kafkajs is unmaintained upstream, so a fix there would never ship.
 *
 * What it replaces, and why:
 * 1. `kafkajs/src/producer/groupMessagesPerPartition.js`: the original copies a partition's array
 *    once per message (`[...current, message]`), which is quadratic in the messages of a send
 *    (a 1000-message send copies about 500,000 array slots); about 15% of a producer worker's
 *    time. The replacement pushes each message once and returns the same object (partition →
 *    messages, in send order).
 * 2. `kafkajs/src/protocol/requests/produce/v3/request.js` (produce requests v4–v7, the ones
 *    kafkajs sends to Kafka ≥ 2.1, are built on it): the original encodes every record into an
 *    Encoder of its own (a zero-filled 512-byte Buffer, one more Buffer per varint, BigInt
 *    arithmetic for each timestamp) and then copies them together: in Deno's Buffer that is about
 *    10 µs per record, a third of a worker's time. The replacement computes each record's exact
 *    size and writes a partition's whole record batch into one buffer. A record it does not encode
 *    itself — a key or value other than a string, a Buffer or null, headers, a timestamp delta
 *    that is not a small whole number — is encoded by kafkajs' own record encoder and copied in,
 *    so every message kafkajs accepts comes out the same. Batch fields and compression are
 *    kafkajs' own code; the batch's CRC-32C is computed eight bytes a step ({@linkcode crc32c}),
 *    not kafkajs' byte a step (about a fifth of a worker's CPU once the records were cheap).
 *
 * 3. `kafkajs/src/protocol/recordBatch/v0/decoder.js` and `kafkajs/src/consumer/batch.js`: for
 *    every fetched record the originals make a Buffer and a `Decoder` of its bytes, the record
 *    object with a Buffer for key and value, two decimal strings from `Long` arithmetic, and
 *    then a `BigInt` of its offset to drop the records before the fetched offset.
 *    {@linkcode recordBatchDecoder} reads the records straight out of the batch's bytes into one
 *    `FetchedRecord` each (the same fields, made when first read) and hands every batch
 *    it cannot read exactly to kafkajs' own decoder; {@linkcode fetchBatchClass} compares their
 *    offsets as numbers (`record_batch_decoder_test.ts`).
 *
 * 4. kafkajs' GZIP codec (`kafkajs/src/protocol/message/compression/index.js`, the object kafkajs
 *    exports as `CompressionCodecs`, its documented place for codecs): {@linkcode gzipCodec}
 *    inflates each fetched batch in one step instead of 16 KiB ones (`gzip_codec.ts`).
 *
 * `kafkajs_override_test.ts` proves that the produce replacements write byte-for-byte what kafkajs' originals do
 * (strings, Buffers, null keys, headers, timestamps, gzip, transactional ids) and that a real
 * broker reads the records back. `deno.json` maps `kafkajs` to `./kafkajs.ts`, which imports this
 * module before kafkajs, so no module of the project can load kafkajs first.
 *
 * Nothing is replaced for another kafkajs version (see {@linkcode KAFKAJS_OVERRIDE}).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { gzipCodec, type KafkajsCodec } from "./gzip_codec.ts";
import {
  type BatchClass,
  fetchBatchClass,
  type RecordBatchDecoder,
  recordBatchDecoder,
} from "./record_batch_decoder.ts";

const require = createRequire(import.meta.url);

/** The kafkajs version whose internals this module replaces. */
export const OVERRIDDEN_KAFKAJS_VERSION = "2.2.4";

const GROUP_PATH = "kafkajs/src/producer/groupMessagesPerPartition.js";
const PRODUCE_V3_PATH = "kafkajs/src/protocol/requests/produce/v3/request.js";
const BATCH_DECODER_PATH = "kafkajs/src/protocol/recordBatch/v0/decoder.js";
const CODECS_PATH = "kafkajs/src/protocol/message/compression/index.js";
const BATCH_PATH = "kafkajs/src/consumer/batch.js";
/** kafkajs' number for gzip (`CompressionTypes.GZIP`). */
const GZIP = 1;

// deno-lint-ignore no-explicit-any
type Any = any;

/** A kafkajs message as the produce request gets it (see kafkajs' `Message`). */
interface RequestMessage {
  key?: unknown;
  value: unknown;
  timestamp?: unknown;
  headers?: unknown;
}

/** The arguments of kafkajs' `groupMessagesPerPartition`. */
export interface GroupArgs {
  topic: string;
  partitionMetadata: unknown[];
  messages: RequestMessage[];
  partitioner: (args: { topic: string; partitionMetadata: unknown[]; message: unknown }) => number;
}

/**
 * Linear `groupMessagesPerPartition`: the same result as kafkajs' (an object of partition →
 * messages in send order, `{}` without partition metadata), one push per message.
 */
export function groupMessagesPerPartition(
  { topic, partitionMetadata, messages, partitioner }: GroupArgs,
): Record<string, RequestMessage[]> {
  if (partitionMetadata.length === 0) return {};
  // reduce, as the original, so that holes of a sparse array are skipped alike.
  return messages.reduce((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
    return result;
  }, {} as Record<string, RequestMessage[]>);
}

/** kafkajs' modules this override works with, loaded from its package. */
interface Internals {
  Encoder: Any;
  Long: Any;
  Record: (args: Any) => Any;
  lookupCodec: (type: number) => { compress(encoder: Any): Promise<Uint8Array> };
  COMPRESSION_CODEC_MASK: number;
  Types: { None: number };
  apiKey: number;
}

function loadInternals(): Internals {
  const compression = require("kafkajs/src/protocol/message/compression");
  return {
    Encoder: require("kafkajs/src/protocol/encoder"),
    Long: require("kafkajs/src/utils/long"),
    Record: require("kafkajs/src/protocol/recordBatch/record/v0"),
    lookupCodec: compression.lookupCodec,
    COMPRESSION_CODEC_MASK: compression.COMPRESSION_CODEC_MASK,
    Types: compression.Types,
    apiKey: require("kafkajs/src/protocol/requests/apiKeys").Produce,
  };
}

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;
/** Largest timestamp delta written without kafkajs' Long (the doubled value stays exact). */
const SAFE_DELTA = 2 ** 52;

/** Bytes of kafkajs' `writeVarInt(value)` (zig-zag int32, then 7 bits a byte). */
function sizeOfVarInt(value: number): number {
  let encoded = (value << 1) ^ (value >> 31);
  let bytes = 1;
  while ((encoded & 0xffffff80) !== 0) {
    bytes++;
    encoded >>>= 7;
  }
  return bytes;
}

/** kafkajs' `writeVarInt`, into `target` at `at`; returns the next offset. */
function writeVarInt(target: Uint8Array, at: number, value: number): number {
  let encoded = (value << 1) ^ (value >> 31);
  while ((encoded & 0xffffff80) !== 0) {
    target[at++] = (encoded & 0x7f) | 0x80;
    encoded >>>= 7;
  }
  target[at++] = encoded & 0x7f;
  return at;
}

/** Zig-zag of a whole number with |n| < 2^52, as kafkajs' `encodeZigZag64`. */
function zigZag64(value: number): number {
  return value >= 0 ? 2 * value : -2 * value - 1;
}

function sizeOfVarLong(value: number): number {
  let encoded = zigZag64(value);
  let bytes = 1;
  while (encoded >= 128) {
    bytes++;
    encoded = Math.floor(encoded / 128);
  }
  return bytes;
}

/** kafkajs' `writeVarLong` for a whole number with |n| < 2^52. */
function writeVarLong(target: Uint8Array, at: number, value: number): number {
  let encoded = zigZag64(value);
  while (encoded >= 128) {
    target[at++] = (encoded % 128) | 0x80;
    encoded = Math.floor(encoded / 128);
  }
  target[at++] = encoded;
  return at;
}

/** CRC-32C (Castagnoli) tables for 8 bytes a step: table k maps a byte k positions ahead. */
const CRC_TABLES = (() => {
  const tables = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n];
    for (let k = 1; k < 8; k++) {
      c = tables[c & 0xff] ^ (c >>> 8);
      tables[k * 256 + n] = c;
    }
  }
  return tables;
})();

/**
 * CRC-32C of `bytes`, the checksum of a record batch: the same value as kafkajs'
 * `recordBatch/crc32C` (a byte a step in JavaScript, about a fifth of a worker's CPU), eight bytes
 * a step.
 */
export function crc32c(bytes: Uint8Array): number {
  const t = CRC_TABLES;
  let crc = -1;
  let i = 0;
  const end8 = bytes.length - (bytes.length & 7);
  for (; i < end8; i += 8) {
    const lo = crc ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    const hi = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24);
    crc = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^ t[768 + (hi & 0xff)] ^ t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^ t[hi >>> 24];
  }
  for (; i < bytes.length; i++) crc = t[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** Whether `headers` adds no header (kafkajs' default `{}`). */
function noHeaders(headers: unknown): boolean {
  if (headers === undefined) return true;
  return headers !== null && typeof headers === "object" && Object.keys(headers).length === 0;
}

/**
 * Encodes the records of one partition back to back, as kafkajs' `Record` v0 encoder would one by
 * one: `[length varint][attributes 0][timestamp delta varlong][offset delta varint][key][value]
 * [header count]…`.
 */
function encodeRecords(
  internals: Internals,
  messages: RequestMessage[],
  firstTimestamp: unknown,
  dateNow: number,
): Buffer {
  const n = messages.length;
  // Per record: key length, value length (-1 for null), timestamp delta, body size, or the
  // bytes kafkajs' own encoder made.
  const keyLengths = new Int32Array(n);
  const valueLengths = new Int32Array(n);
  const deltas = new Float64Array(n);
  const bodies = new Int32Array(n);
  let fallback: (Uint8Array | undefined)[] | undefined;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const message = messages[i];
    const { key, value } = message;
    const delta = ((message.timestamp as number) || dateNow) - (firstTimestamp as number);
    const keyLength = byteLength(key);
    const valueLength = byteLength(value);
    if (
      keyLength === undefined || valueLength === undefined || !noHeaders(message.headers) ||
      !Number.isInteger(delta) || Math.abs(delta) >= SAFE_DELTA
    ) {
      const bytes = internals.Record({ ...message, offsetDelta: i, timestampDelta: delta }).buffer;
      (fallback ??= new Array(n))[i] = bytes;
      total += bytes.length;
      continue;
    }
    const body = 1 + sizeOfVarLong(delta) + sizeOfVarInt(i) +
      sizeOfVarInt(keyLength) + Math.max(keyLength, 0) +
      sizeOfVarInt(valueLength) + Math.max(valueLength, 0) +
      1; // header count 0
    keyLengths[i] = keyLength;
    valueLengths[i] = valueLength;
    deltas[i] = delta;
    bodies[i] = body;
    total += sizeOfVarInt(body) + body;
  }
  const target = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const done = fallback?.[i];
    if (done !== undefined) {
      target.set(done, at);
      at += done.length;
      continue;
    }
    at = writeVarInt(target, at, bodies[i]);
    target[at++] = 0; // attributes
    at = writeVarLong(target, at, deltas[i]);
    at = writeVarInt(target, at, i);
    at = writeBytes(target, at, messages[i].key, keyLengths[i]);
    at = writeBytes(target, at, messages[i].value, valueLengths[i]);
    target[at++] = 0; // no headers
  }
  if (at !== total) throw new Error(`kafkajs override wrote ${at} record bytes, expected ${total}`);
  return target;
}

/** The bytes kafkajs writes for a key or value: -1 for null, else its length; `undefined` when its own encoder must do it. */
function byteLength(value: unknown): number | undefined {
  if (value === null || value === undefined) return -1;
  if (typeof value === "string") return Buffer.byteLength(value, "utf8");
  if (Buffer.isBuffer(value)) return value.length;
  return undefined;
}

function writeBytes(target: Buffer, at: number, value: unknown, length: number): number {
  at = writeVarInt(target, at, length);
  if (length <= 0) return at;
  if (typeof value === "string") target.write(value, at, length, "utf8");
  else target.set(value as Uint8Array, at);
  return at + length;
}

/** An Encoder of kafkajs that holds `bytes` (what kafkajs' request and codecs expect). */
function encoderOf(internals: Internals, bytes: Buffer): Any {
  const encoder = Object.create(internals.Encoder.prototype);
  encoder.buf = bytes;
  encoder.offset = bytes.length;
  return encoder;
}

/**
 * One partition's `partition record_set` of a produce request, as kafkajs' `partitionsEncoder`
 * with `RecordBatch` v0 writes it.
 */
async function encodePartition(internals: Internals, compression: number, args: Any): Promise<Any> {
  const { partition, messages, transactionalId, firstSequence, producerId, producerEpoch } = args;
  const { Encoder, Types } = internals;
  const dateNow = Date.now();
  const messageTimestamps = messages
    .map((m: RequestMessage) => m.timestamp)
    .filter((timestamp: unknown) => timestamp != null)
    .sort();
  const timestamps = messageTimestamps.length === 0 ? [dateNow] : messageTimestamps;
  const firstTimestamp = timestamps[0];
  const maxTimestamp = timestamps[timestamps.length - 1];
  const records = encodeRecords(internals, messages, firstTimestamp, dateNow);

  const attributes = (compression & internals.COMPRESSION_CODEC_MASK) |
    (transactionalId ? TRANSACTIONAL_MASK : 0);
  const header = new Encoder()
    .writeInt16(attributes)
    .writeInt32(messages.length - 1)
    .writeInt64(firstTimestamp)
    .writeInt64(maxTimestamp)
    .writeInt64(producerId)
    .writeInt16(producerEpoch)
    .writeInt32(firstSequence === undefined ? 0 : firstSequence)
    .writeInt32(messages.length).buffer as Buffer;
  const payload = compression === Types.None
    ? records
    : await internals.lookupCodec(compression).compress(encoderOf(internals, records));

  // partition, record set size, first offset, batch length, leader epoch, magic, crc, body.
  const batchLength = 4 + 1 + 4 + header.length + payload.length;
  const out = Buffer.allocUnsafe(4 + 4 + 8 + 4 + batchLength);
  out.writeInt32BE(partition, 0);
  out.writeInt32BE(8 + 4 + batchLength, 4);
  out.writeInt32BE(0, 8); // first offset: 0 (int64)
  out.writeInt32BE(0, 12);
  out.writeInt32BE(batchLength, 16);
  out.writeInt32BE(0, 20); // partition leader epoch
  out.writeInt8(MAGIC_BYTE, 24);
  const body = 29;
  out.set(header, body);
  out.set(payload, body + header.length);
  out.writeUInt32BE(crc32c(out.subarray(body)), 25);
  return encoderOf(internals, out);
}

/**
 * kafkajs' produce request v3 (the base of v4–v7) with {@linkcode encodePartition}: the same
 * arguments, request object and bytes.
 */
export function produceRequestV3(internals: Internals): (args: Any) => Any {
  const { Encoder, Long, Types } = internals;
  return ({
    acks,
    timeout,
    transactionalId = null,
    producerId = Long.fromInt(-1),
    producerEpoch = 0,
    compression = Types.None,
    topicData,
  }) => ({
    apiKey: internals.apiKey,
    apiVersion: 3,
    apiName: "Produce",
    expectResponse: () => acks !== 0,
    encode: async () => {
      const topics = [];
      for (const { topic, partitions } of topicData) {
        const encoded = [];
        for (const data of partitions) {
          encoded.push(
            await encodePartition(internals, compression, {
              ...data,
              transactionalId,
              producerId,
              producerEpoch,
            }),
          );
        }
        topics.push(new Encoder().writeString(topic).writeArray(encoded));
      }
      return new Encoder()
        .writeString(transactionalId)
        .writeInt16(acks)
        .writeInt32(timeout)
        .writeArray(topics);
    },
  });
}

/** What {@linkcode applyKafkajsOverride} did. */
export interface KafkajsOverride {
  /** True when the modules were replaced before kafkajs used them. */
  applied: boolean;
  /** Why not, when not. */
  reason?: string;
  /** kafkajs' own modules, for tests that compare bytes. */
  originals?: {
    groupMessagesPerPartition: (args: GroupArgs) => Record<string, RequestMessage[]>;
    produceRequestV3: (args: Any) => Any;
    recordBatchDecoder: RecordBatchDecoder;
    batchClass: BatchClass;
    gzipCodec: KafkajsCodec;
  };
}

/**
 * Puts the replacements into kafkajs' module cache (once; later calls return the first
 * result). Does nothing for another kafkajs version, or when kafkajs' producer or produce
 * request was loaded before (then the replacement would not be used by it).
 */
function applyKafkajsOverride(): KafkajsOverride {
  const version = require("kafkajs/package.json").version;
  if (version !== OVERRIDDEN_KAFKAJS_VERSION) {
    return { applied: false, reason: `kafkajs ${version} is not ${OVERRIDDEN_KAFKAJS_VERSION}` };
  }
  const groupPath = require.resolve(GROUP_PATH);
  const producePath = require.resolve(PRODUCE_V3_PATH);
  const sendMessagesPath = require.resolve("kafkajs/src/producer/sendMessages.js");
  const produceV4Path = require.resolve("kafkajs/src/protocol/requests/produce/v4/request.js");
  const cache = require.cache as Record<string, { exports: unknown } | undefined>;
  const batchDecoderPath = require.resolve(BATCH_DECODER_PATH);
  const batchPath = require.resolve(BATCH_PATH);
  if (
    cache[sendMessagesPath] !== undefined || cache[produceV4Path] !== undefined ||
    cache[batchDecoderPath] !== undefined || cache[batchPath] !== undefined
  ) {
    return {
      applied: false,
      reason: "kafkajs was loaded before lib/kafka/kafkajs_override.ts: import kafkajs " +
        'as "kafkajs" (deno.json maps it to lib/kafka/kafkajs.ts)',
    };
  }
  const compression = require(CODECS_PATH);
  const codecs: Record<number, () => KafkajsCodec> = compression.Codecs;
  const originals = {
    groupMessagesPerPartition: require(groupPath),
    produceRequestV3: require(producePath),
    recordBatchDecoder: require(batchDecoderPath),
    batchClass: require(batchPath),
    gzipCodec: codecs[GZIP](),
  };
  cache[groupPath]!.exports = groupMessagesPerPartition;
  cache[producePath]!.exports = produceRequestV3(loadInternals());
  cache[batchDecoderPath]!.exports = recordBatchDecoder({
    lookupCodecByAttributes: compression.lookupCodecByAttributes,
    KafkaJSPartialMessageError: require("kafkajs/src/errors").KafkaJSPartialMessageError,
    Decoder: require("kafkajs/src/protocol/decoder"),
    decodeRecord: require("kafkajs/src/protocol/recordBatch/record/v0/decoder.js"),
  });
  cache[batchPath]!.exports = fetchBatchClass(originals.batchClass, {
    Long: require("kafkajs/src/utils/long"),
    filterAbortedMessages: require("kafkajs/src/consumer/filterAbortedMessages"),
  });
  const gzip = gzipCodec(originals.gzipCodec);
  codecs[GZIP] = () => gzip;
  return { applied: true, originals };
}

/** The result of applying the override in this isolate (each worker applies its own). */
export const KAFKAJS_OVERRIDE: KafkajsOverride = applyKafkajsOverride();
