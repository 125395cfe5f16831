/**
 * Catalog the lake: discover its schema and `dt` partitions, describe it as a Glue TableInput,
 * and write that locally or to AWS Glue (partition projection, or a crawler).
 *
 * @module
 */

export * from "./discover.ts";
export * from "./table_input.ts";
export * from "./local.ts";
export * from "./glue.ts";
