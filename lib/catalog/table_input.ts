/**
 * The table definition both catalogs share, in the shape of Glue's `TableInput`: columns from
 * discovery, the `dt` partition key, the Parquet or JSON SerDe, and (for Athena) partition
 * projection so new `dt=` folders are queryable without a crawler or `MSCK REPAIR TABLE`.
 *
 * @module
 */

import type { TableInput } from "@aws-sdk/client-glue";
import { DiscoveryError, type LakeDiscovery } from "./discover.ts";
import { type DtGranularity, dtOutsideGranularity, inferDtGranularity } from "../lake/layout.ts";

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
  /**
   * The width of the lake's `dt` partitions (the consumer's `--dt-granularity`): projection steps
   * one day, month or year at a time, so a month lake is not probed day by day.
   * @default inferDtGranularity(discovery.partitions): `month`/`year` only when two or more `dt`
   * values all sit on a month's/year's first day, else `day`
   */
  dtGranularity?: DtGranularity;
  /** What the table holds. @default the description of the sink's `ticks` */
  description?: string;
  /** A comment per column name (Glue shows them). @default none */
  comments?: Record<string, string>;
  /** `false` for a table without `dt` partitions (a dimension such as `symbols`). @default true */
  partitioned?: boolean;
}

/** Athena's `projection.dt.interval.unit` for each granularity. */
const PROJECTION_UNIT: Record<DtGranularity, string> = {
  day: "DAYS",
  month: "MONTHS",
  year: "YEARS",
};

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
 * @throws {DiscoveryError} when `dtGranularity` is given and a partition does not fit it (a
 * `dt=2021-05-17` in what is called a month lake): that projection would hide it.
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
  const granularity = options.dtGranularity ?? inferDtGranularity(discovery.partitions);
  const outside = dtOutsideGranularity(discovery.partitions, granularity);
  if (outside) {
    throw new DiscoveryError(
      `The lake has dt=${outside}, which a ${granularity} lake cannot hold (its dt values are the ` +
        `first day of each ${granularity}): pass the --dt-granularity the consumer wrote it with.`,
    );
  }
  const partitioned = options.partitioned ?? true;
  const projection = partitioned && (options.projection ?? { from: discovery.partitions[0] });
  if (projection) {
    // dt values stay full dates (dt=2021-05-01 in a month lake); only the step widens.
    Object.assign(parameters, {
      "projection.enabled": "true",
      "projection.dt.type": "date",
      "projection.dt.format": "yyyy-MM-dd",
      "projection.dt.range": `${projection.from},NOW`,
      "projection.dt.interval": "1",
      "projection.dt.interval.unit": PROJECTION_UNIT[granularity],
      "storage.location.template": `${location}dt=\${dt}/`,
    });
  }
  const period = granularity === "day" ? "UTC day" : `UTC ${granularity} (its first day)`;
  return {
    Name: options.name ?? discovery.table,
    Description: options.description ??
      `Stock ticks from the Kafka lake sink, one dt=YYYY-MM-DD folder per ${period}.`,
    TableType: "EXTERNAL_TABLE",
    Parameters: parameters,
    PartitionKeys: !partitioned ? [] : [{
      Name: "dt",
      Type: "string",
      Comment: granularity === "day"
        ? "UTC date YYYY-MM-DD of ts"
        : `first day YYYY-MM-DD of the UTC ${granularity} of ts`,
    }],
    StorageDescriptor: {
      Columns: discovery.columns.map((c) => ({
        Name: c.name,
        Type: c.type,
        ...(options.comments?.[c.name] ? { Comment: options.comments[c.name] } : {}),
      })),
      Location: location,
      Compressed: !parquet && discovery.gzip,
      ...(parquet ? PARQUET : JSON_LINES),
    },
  };
}
