/**
 * The pipeline's library: every stage as a typed module. Scripts, notebooks and tests import from
 * here or from the stage folders.
 *
 * @example
 * ```ts ignore
 * import { consumeToLake, createKafka, openStore } from "./mod.ts";
 * await consumeToLake(createKafka({ brokers: ["localhost:9092"] }), {
 *   topic: "stock_market",
 *   group: "stock_market_lake",
 *   store: openStore("./lake"),
 *   idleExitSeconds: 5,
 * });
 * ```
 *
 * @module
 */

export * from "./tick.ts";
export * from "./config.ts";
export * from "./log.ts";
export * from "./progress.ts";
export * from "./retry.ts";
export * from "./time.ts";
export * from "./source/mod.ts";
export * from "./kafka/mod.ts";
export * from "./ingest/mod.ts";
export * from "./lake/mod.ts";
export * from "./catalog/mod.ts";
export * from "./query/mod.ts";
export * from "./transform/mod.ts";
