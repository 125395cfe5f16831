/**
 * Query the lake: Polars SQL locally, Athena on AWS, named analyses written for both, and
 * table/CSV/JSON output.
 *
 * @module
 */

export * from "./result.ts";
export * from "./local.ts";
export * from "./athena.ts";
export * from "./analyses.ts";
export * from "./format.ts";
