/**
 * The table definition both catalogs share, in the shape of Glue's `TableInput`: columns from
 * discovery, the `dt` partition key, the Parquet or JSON SerDe, and (for Athena) partition
 * projection so new `dt=` folders are queryable without a crawler or `MSCK REPAIR TABLE`.
 *
 * @module
 */

import type { TableInput } from "@aws-sdk/client-glue";
import type { LakeDiscovery } from "./discover.ts";

/** Options of {@linkcode tableInput}. */
export interface TableInputOptions {
  /** Table name. @default discovery.table */
  name?: string;
  /** Where the table's objects live, e.g. `s3://bucket/prefix/ticks/` or a folder. */
  location: string;
  /**
   * Partition projection: Athena computes the `dt` values from this range instead of reading
   * partitions from the catalog. `from` is the first day; the range ends at `NOW`.
   * `false` turns it off. @default { from: discovery.partitions[0] }
   */
  projection?: { from: string } | false;
}

const PARQUET = {
  InputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
  OutputFormat: "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
  SerdeInfo: {
    SerializationLibrary: "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    Parameters: { "serialization.format": "1" },
  },
};

const JSON_LINES = {
  InputFormat: "org.apache.hadoop.mapred.TextInputFormat",
  OutputFormat: "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
  SerdeInfo: {
    SerializationLibrary: "org.openx.data.jsonserde.JsonSerDe",
    Parameters: {
      "ignore.malformed.json": "false",
      "timestamp.formats": "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
    },
  },
};

/**
 * Builds the Glue `TableInput` for the lake table.
 *
 * @example
 * ```ts ignore
 * import { tableInput } from "./table_input.ts";
 * const input = tableInput(found, { location: "s3://my-lake/ticks/" });
 * input.Parameters!["projection.dt.range"]; // "2021-01-01,NOW"
 * ```
 */
export function tableInput(discovery: LakeDiscovery, options: TableInputOptions): TableInput {
  const location = options.location.endsWith("/") ? options.location : `${options.location}/`;
  const parquet = discovery.format === "parquet";
  const parameters: Record<string, string> = {
    classification: parquet ? "parquet" : "json",
    EXTERNAL: "TRUE",
    ...(parquet ? {} : { compressionType: discovery.gzip ? "gzip" : "none" }),
  };
  const projection = options.projection ?? { from: discovery.partitions[0] };
  if (projection) {
    Object.assign(parameters, {
      "projection.enabled": "true",
      "projection.dt.type": "date",
      "projection.dt.format": "yyyy-MM-dd",
      "projection.dt.range": `${projection.from},NOW`,
      "projection.dt.interval": "1",
      "projection.dt.interval.unit": "DAYS",
      "storage.location.template": `${location}dt=\${dt}/`,
    });
  }
  return {
    Name: options.name ?? discovery.table,
    Description: "Stock ticks from the Kafka lake sink, one dt=YYYY-MM-DD folder per UTC day.",
    TableType: "EXTERNAL_TABLE",
    Parameters: parameters,
    PartitionKeys: [{ Name: "dt", Type: "string", Comment: "UTC date YYYY-MM-DD of ts" }],
    StorageDescriptor: {
      Columns: discovery.columns.map((c) => ({ Name: c.name, Type: c.type })),
      Location: location,
      Compressed: !parquet && discovery.gzip,
      ...(parquet ? PARQUET : JSON_LINES),
    },
  };
}
