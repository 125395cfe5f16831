/**
 * The lake: where ticks land as Parquet or JSON Lines objects, in a local folder or S3, under
 * deterministic keys `ticks/dt=YYYY-MM-DD/<topic>+<partition>+<offset>.<ext>`.
 *
 * @example
 * ```ts
 * import { encodeTicks, objectKey, openStore } from "./mod.ts";
 * const store = openStore("./lake");
 * const key = objectKey({ dt: "2021-05-31", topic: "stock_market", partition: 0,
 *   startOffset: "0", format: "parquet" });
 * await store.put(key, encodeTicks([], { format: "parquet" }));
 * ```
 *
 * @module
 */

export * from "./store.ts";
export * from "./layout.ts";
export {
  DecodeError,
  decodeJsonl,
  decodeObject,
  decodeParquet,
  encodeJsonl,
  type EncodeOptions,
  encodeParquet,
  encodeTicks,
  frameToTicks,
  type JsonlOptions,
  PARQUET_COMPRESSION,
  ticksToFrame,
} from "./encode.ts";
export * from "./fs_store.ts";
export * from "./s3_store.ts";
export * from "./memory_store.ts";
export * from "./open_store.ts";
export * from "./sink.ts";
export * from "./generations.ts";
export * from "./compact.ts";
export * from "./compact_glue.ts";
