/**
 * Reads what the lake holds, for both catalogs: the table's columns (from a Parquet footer or
 * the first JSON Lines records) and its `dt=` partitions (from the object keys).
 *
 * @module
 */

import pl from "nodejs-polars";
import { decodeObject, ticksToFrame } from "../lake/encode.ts";
import { readTable } from "../lake/generations.ts";
import { formatFor, tablePrefix } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { type Logger, silentLogger } from "../log.ts";

/** A column type as Glue and Athena name it. */
export type GlueType = "string" | "timestamp" | "double" | "bigint" | "boolean" | "date";

/** A column of the lake table. */
export interface LakeColumn {
  /** Column name. */
  name: string;
  /** Its Glue type. */
  type: GlueType;
}

/** What {@linkcode discoverLake} found. */
export interface LakeDiscovery {
  /** The table (its folder under the lake root). */
  table: string;
  /** Object format: `parquet`, or `jsonl` (plain or gzipped). */
  format: "parquet" | "jsonl";
  /** Whether JSON Lines objects are gzipped. */
  gzip: boolean;
  /** Data columns in file order (without the partition column). */
  columns: LakeColumn[];
  /** The `dt` partition values, sorted. */
  partitions: string[];
  /**
   * Compacted partitions: `dt` → folder of its current generation (a key prefix such as
   * `ticks/dt=2021-06-01/_g000001-ab12cd34/`), where catalogs point the partition.
   */
  generations: Record<string, string>;
  /** Number of data objects (live ones, per the reader rule). */
  objects: number;
  /** Their total size in bytes. */
  bytes: number;
}

/** Raised when the lake cannot be catalogued; the message says what to fix. */
export class DiscoveryError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "DiscoveryError";
  }
}

/** Options of {@linkcode discoverLake}. */
export interface DiscoverOptions {
  /** Table folder. @default "ticks" */
  table?: string;
  /** Reports skipped objects. @default silentLogger */
  logger?: Logger;
}

/**
 * Lists the table's objects, reads the schema of the first and the last one (they must agree:
 * one schema per path, so a catalog never splits the table) and collects the partitions.
 * Objects outside `dt=YYYY-MM-DD/` folders or with foreign names are skipped with a warning;
 * compacted partitions count their current generation only (`deno task compact`).
 *
 * @example
 * ```ts ignore
 * import { discoverLake } from "./discover.ts";
 * import { openStore } from "../lake/open_store.ts";
 * const found = await discoverLake(openStore("./lake"));
 * found.columns; // [{ name: "symbol", type: "string" }, { name: "ts", type: "timestamp" }, …]
 * ```
 * @throws {DiscoveryError} when there are no objects, formats are mixed, or schemas differ.
 */
export async function discoverLake(
  store: Store,
  options: DiscoverOptions = {},
): Promise<LakeDiscovery> {
  const table = options.table ?? "ticks";
  const logger = options.logger ?? silentLogger;
  const prefix = tablePrefix(table);
  const keys: string[] = [];
  const partitions = new Set<string>();
  const formats = new Set<string>();
  const generations: Record<string, string> = {};
  let bytes = 0;
  const skip = (key: string) =>
    logger.warn(`Skipping "${key}": not a lake object (${prefix}dt=YYYY-MM-DD/…).`);
  // The reader rule of lib/lake/generations.ts: compacted partitions count their current
  // generation only.
  const views = await readTable(store, prefix, { onSkipped: (object) => skip(object.key) });
  for (const view of views) {
    const dt = /dt=(\d{4}-\d{2}-\d{2})\/$/.exec(view.partition)?.[1];
    if (!dt) {
      for (const object of view.objects) skip(object.key);
      continue;
    }
    if (view.manifest) generations[dt] = view.manifest.folder;
    for (const object of view.objects) {
      const kind = formatFor(object.key)!;
      keys.push(object.key);
      partitions.add(dt);
      formats.add(kind.format + (kind.gzip ? ".gz" : ""));
      bytes += object.size;
    }
  }
  if (keys.length === 0) {
    throw new DiscoveryError(
      `No lake objects under "${store.uri.replace(/\/+$/, "")}/${prefix}": ` +
        "run `deno task consume` first, or pass --lake to point at the lake.",
    );
  }
  if (formats.size > 1) {
    throw new DiscoveryError(
      `The table "${table}" mixes formats (${[...formats].join(", ")}): one table needs one ` +
        "format; move the odd objects to another prefix.",
    );
  }
  const first = await schemaOf(store, keys[0]);
  const last = await schemaOf(store, keys.at(-1)!);
  const describe = (columns: LakeColumn[]) => columns.map((c) => `${c.name} ${c.type}`).join(", ");
  if (describe(first) !== describe(last)) {
    throw new DiscoveryError(
      `Objects of "${table}" have different schemas: "${keys[0]}" has (${describe(first)}) but ` +
        `"${keys.at(-1)}" has (${describe(last)}). Rewrite or move the odd objects.`,
    );
  }
  const kind = formatFor(keys[0])!;
  return {
    table,
    format: kind.format,
    gzip: kind.gzip,
    columns: first,
    partitions: [...partitions].sort(),
    generations,
    objects: keys.length,
    bytes,
  };
}

/** Reads the columns of one object: the Parquet schema, or the tick columns of JSON Lines. */
export async function schemaOf(store: Store, key: string): Promise<LakeColumn[]> {
  const body = await store.get(key);
  if (!body) throw new DiscoveryError(`Object "${key}" vanished while reading; run again.`);
  const kind = formatFor(key);
  let frame: pl.DataFrame;
  try {
    frame = kind?.format === "parquet"
      ? pl.readParquet(Buffer.from(body.buffer, body.byteOffset, body.byteLength), { nRows: 1 })
      // JSON Lines hold ticks in their wire form; the encoder's frame gives their lake types.
      : ticksToFrame(decodeObject(key, body).slice(0, 1));
  } catch (error) {
    throw new DiscoveryError(
      `Cannot read the schema of "${key}": ${error instanceof Error ? error.message : error}. ` +
        "Remove or rewrite the object.",
    );
  }
  return Object.entries(frame.schema as Record<string, pl.DataType>)
    .filter(([name]) => name !== "dt")
    .map(([name, dtype]) => ({ name, type: glueTypeOf(dtype) }));
}

/** The Glue type of a Polars dtype. */
export function glueTypeOf(dtype: pl.DataType): GlueType {
  const name = dtype.variant;
  if (name === "Bool") return "boolean";
  if (/^U?Int(8|16|32|64)$/.test(name)) return "bigint";
  if (/^Float(32|64)$/.test(name) || name === "Decimal") return "double";
  if (name === "Datetime") return "timestamp";
  if (name === "Date") return "date";
  return "string";
}
