/**
 * Parquet's page headers and file footer in the Thrift compact protocol, written field by field
 * for the flat tables of `parquet_write.ts`: no generic object walk, no BigInt, so a
 * small file's footer costs microseconds. Field ids and enum values follow `parquet.thrift` of
 * apache/parquet-format.
 *
 * @module
 */

/** Thrift compact types. */
const T = { TRUE: 1, FALSE: 2, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

/** Parquet enums (`parquet.thrift`). */
export const PARQUET = {
  type: { INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 },
  convertedType: { UTF8: 0, TIMESTAMP_MILLIS: 9 },
  repetition: { OPTIONAL: 1 },
  encoding: { PLAIN: 0, RLE: 3, RLE_DICTIONARY: 8 },
  codec: { UNCOMPRESSED: 0, SNAPPY: 1 },
  pageType: { DATA_PAGE: 0, DICTIONARY_PAGE: 2 },
} as const;

/** A growable byte buffer with the Thrift compact protocol's field, varint and struct writers. */
export class CompactWriter {
  #bytes = new Uint8Array(512);
  #length = 0;
  #lastField: number[] = [0];

  /** The bytes written so far (a view, valid until the next write or reset). */
  get bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  /** Empties the writer for reuse (keeps its buffer). */
  reset(): this {
    this.#length = 0;
    this.#lastField = [0];
    return this;
  }

  #reserve(n: number): void {
    if (this.#length + n <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(this.#bytes.length * 2, this.#length + n));
    grown.set(this.#bytes.subarray(0, this.#length));
    this.#bytes = grown;
  }

  #byte(value: number): void {
    this.#reserve(1);
    this.#bytes[this.#length++] = value;
  }

  /** An unsigned varint of a whole number below 2^53. */
  #varint(value: number): void {
    this.#reserve(8);
    while (value >= 0x80) {
      this.#bytes[this.#length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.#bytes[this.#length++] = value;
  }

  #field(id: number, type: number): void {
    const last = this.#lastField.length - 1;
    const delta = id - this.#lastField[last];
    if (delta > 0 && delta <= 15) {
      this.#byte((delta << 4) | type);
    } else {
      this.#byte(type);
      this.#varint(id * 2); // zigzag of a positive i16
    }
    this.#lastField[last] = id;
  }

  /** An i32 (or enum) field. */
  i32(id: number, value: number): void {
    this.#field(id, T.I32);
    this.#varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** An i64 field holding a whole number in 0..2^52 (sizes, offsets, counts). */
  i64(id: number, value: number): void {
    this.#field(id, T.I64);
    this.#varint(value * 2);
  }

  /** A boolean field. */
  bool(id: number, value: boolean): void {
    this.#field(id, value ? T.TRUE : T.FALSE);
  }

  /** A binary (or string) field. */
  binary(id: number, value: Uint8Array | string): void {
    const bytes = typeof value === "string" ? encodeName(value) : value;
    this.#field(id, T.BINARY);
    this.#varint(bytes.length);
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** Opens a struct field (or a union branch); close it with {@linkcode end}. */
  struct(id: number): void {
    this.#field(id, T.STRUCT);
    this.#lastField.push(0);
  }

  /** Opens a struct that is a list element (no field header); close it with {@linkcode end}. */
  element(): void {
    this.#lastField.push(0);
  }

  /** Closes the innermost struct. */
  end(): void {
    this.#byte(0);
    this.#lastField.pop();
  }

  /** An empty struct field (a union branch without members, such as `STRING` or `MILLIS`). */
  empty(id: number): void {
    this.struct(id);
    this.end();
  }

  /** Opens a list field of `size` elements of `type` (`"struct"`, `"i32"` or `"binary"`). */
  list(id: number, type: "struct" | "i32" | "binary", size: number): void {
    const element = type === "struct" ? T.STRUCT : type === "i32" ? T.I32 : T.BINARY;
    this.#field(id, T.LIST);
    if (size < 15) {
      this.#byte((size << 4) | element);
    } else {
      this.#byte(0xf0 | element);
      this.#varint(size);
    }
  }

  /** An i32 list element. */
  i32Element(value: number): void {
    this.#varint(value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** A binary list element. */
  binaryElement(value: string): void {
    const bytes = encodeName(value);
    this.#varint(bytes.length);
    this.#reserve(bytes.length);
    this.#bytes.set(bytes, this.#length);
    this.#length += bytes.length;
  }
}

const utf8 = new TextEncoder();
const names = new Map<string, Uint8Array>();

/** UTF-8 of a column name or similar short, repeated string, cached (up to 1,000 of them). */
function encodeName(value: string): Uint8Array {
  let bytes = names.get(value);
  if (!bytes) {
    bytes = utf8.encode(value);
    if (names.size < 1000) names.set(value, bytes);
  }
  return bytes;
}

/** The writer of page headers: reused, as its bytes are copied into the file at once. */
const headers = new CompactWriter();

/** What {@linkcode pageHeader} needs. */
export interface PageHeader {
  /** `DATA_PAGE` (format v1) or `DICTIONARY_PAGE`. */
  type: "DATA_PAGE" | "DICTIONARY_PAGE";
  /** Bytes of the page before compression. */
  uncompressedSize: number;
  /** Bytes of the page as stored. */
  compressedSize: number;
  /** Values in the page, nulls included (data pages) or dictionary entries. */
  values: number;
  /** The values' encoding: `PLAIN`, or `RLE_DICTIONARY` for data pages of a dictionary column. */
  encoding: "PLAIN" | "RLE_DICTIONARY";
}

/**
 * A `PageHeader` struct (definition and repetition levels RLE-encoded). The bytes are a view
 * valid until the next call: copy them at once.
 */
export function pageHeader(header: PageHeader): Uint8Array {
  const w = headers.reset();
  w.element();
  w.i32(1, PARQUET.pageType[header.type]);
  w.i32(2, header.uncompressedSize);
  w.i32(3, header.compressedSize);
  if (header.type === "DATA_PAGE") {
    w.struct(5);
    w.i32(1, header.values);
    w.i32(2, PARQUET.encoding[header.encoding]);
    w.i32(3, PARQUET.encoding.RLE);
    w.i32(4, PARQUET.encoding.RLE);
    w.end();
  } else {
    w.struct(7);
    w.i32(1, header.values);
    w.i32(2, PARQUET.encoding.PLAIN);
    w.end();
  }
  w.end();
  return w.bytes;
}

/** A flat, optional column of the schema. */
export interface FooterColumn {
  /** Column name. */
  name: string;
  /** Its kind, which fixes the physical, converted and logical types. */
  type: "string" | "timestamp_ms" | "double";
}

/** One column chunk's metadata. */
export interface FooterChunk {
  /** Offset of the chunk's first page. */
  fileOffset: number;
  /** Offset of the dictionary page, if any. */
  dictionaryPageOffset?: number;
  /** Offset of the first data page. */
  dataPageOffset: number;
  /** Values, nulls included. */
  values: number;
  /** Bytes of the chunk's pages (headers included) before compression. */
  uncompressedSize: number;
  /** Bytes of the chunk as stored. */
  compressedSize: number;
  /** Whether the data pages are dictionary-encoded. */
  dictionary: boolean;
  /** How the chunk's pages are compressed. */
  codec: "SNAPPY" | "UNCOMPRESSED";
  /** Nulls in the chunk. */
  nullCount: number;
  /** Minimum and maximum: bytes of a string, or a number (absent when every value is null). */
  min?: Uint8Array | number;
  max?: Uint8Array | number;
}

/** One row group. */
export interface FooterRowGroup {
  /** Rows in the group. */
  rows: number;
  /** Offset of its first page. */
  fileOffset: number;
  /** Bytes of the group as stored. */
  compressedSize: number;
  /** One chunk per column, in schema order. */
  chunks: FooterChunk[];
}

/** A `FileMetaData` struct of format version 1, with type-defined column orders. */
export function fileMetaData(
  columns: readonly FooterColumn[],
  rowGroups: readonly FooterRowGroup[],
  createdBy: string,
): Uint8Array {
  const w = new CompactWriter();
  w.element();
  w.i32(1, 1);
  w.list(2, "struct", columns.length + 1);
  w.element();
  w.binary(4, "root");
  w.i32(5, columns.length);
  w.end();
  for (const column of columns) {
    w.element();
    w.i32(1, PARQUET.type[PHYSICAL[column.type]]);
    w.i32(3, PARQUET.repetition.OPTIONAL);
    w.binary(4, column.name);
    if (column.type === "string") {
      w.i32(6, PARQUET.convertedType.UTF8);
      w.struct(10);
      w.empty(1); // LogicalType.STRING
      w.end();
    } else if (column.type === "timestamp_ms") {
      w.i32(6, PARQUET.convertedType.TIMESTAMP_MILLIS);
      w.struct(10);
      w.struct(8); // LogicalType.TIMESTAMP
      w.bool(1, true); // isAdjustedToUTC
      w.struct(2); // unit
      w.empty(1); // MILLIS
      w.end();
      w.end();
      w.end();
    }
    w.end();
  }
  w.i64(3, rowGroups.reduce((sum, group) => sum + group.rows, 0));
  w.list(4, "struct", rowGroups.length);
  for (const group of rowGroups) {
    w.element();
    w.list(1, "struct", group.chunks.length);
    group.chunks.forEach((chunk, c) => {
      w.element();
      w.i64(2, chunk.fileOffset);
      w.struct(3);
      w.i32(1, PARQUET.type[PHYSICAL[columns[c].type]]);
      const encodings = chunk.dictionary
        ? [PARQUET.encoding.PLAIN, PARQUET.encoding.RLE, PARQUET.encoding.RLE_DICTIONARY]
        : [PARQUET.encoding.PLAIN, PARQUET.encoding.RLE];
      w.list(2, "i32", encodings.length);
      for (const encoding of encodings) w.i32Element(encoding);
      w.list(3, "binary", 1);
      w.binaryElement(columns[c].name);
      w.i32(4, PARQUET.codec[chunk.codec]);
      w.i64(5, chunk.values);
      w.i64(6, chunk.uncompressedSize);
      w.i64(7, chunk.compressedSize);
      w.i64(9, chunk.dataPageOffset);
      if (chunk.dictionaryPageOffset !== undefined) w.i64(11, chunk.dictionaryPageOffset);
      w.struct(12); // Statistics: null_count, max_value, min_value (exact)
      w.i64(3, chunk.nullCount);
      if (chunk.max !== undefined && chunk.min !== undefined) {
        w.binary(5, plain(columns[c].type, chunk.max));
        w.binary(6, plain(columns[c].type, chunk.min));
      }
      w.end();
      w.end();
      w.end();
    });
    w.i64(2, group.chunks.reduce((sum, chunk) => sum + chunk.uncompressedSize, 0));
    w.i64(3, group.rows);
    w.i64(5, group.fileOffset);
    w.i64(6, group.compressedSize);
    w.end();
  }
  w.binary(6, createdBy);
  w.list(7, "struct", columns.length);
  for (let c = 0; c < columns.length; c++) {
    w.element();
    w.empty(1); // ColumnOrder.TYPE_ORDER: min/max compare as the type says (signed, UTF-8 bytes)
    w.end();
  }
  w.end();
  return w.bytes;
}

const bound = new DataView(new ArrayBuffer(8));

/**
 * A statistics bound in PLAIN encoding: string bytes as they are, a number as a little-endian
 * double or int64 (a view, valid until the next call).
 */
function plain(type: FooterColumn["type"], value: Uint8Array | number): Uint8Array {
  if (typeof value !== "number") return value;
  setPlainNumber(bound, 0, type === "double" ? "double" : "int64", value);
  return new Uint8Array(bound.buffer);
}

/** Writes a number in PLAIN encoding at `offset`: a little-endian double, or int64 (no BigInt). */
export function setPlainNumber(
  view: DataView,
  offset: number,
  type: "double" | "int64",
  value: number,
): void {
  if (type === "double") {
    view.setFloat64(offset, value, true);
  } else {
    const high = Math.floor(value / 4294967296);
    view.setUint32(offset, value - high * 4294967296, true);
    view.setInt32(offset + 4, high, true);
  }
}

const PHYSICAL = { string: "BYTE_ARRAY", timestamp_ms: "INT64", double: "DOUBLE" } as const;
