/**
 * Curated tables built from the raw `ticks`: `bars_daily` (one row per symbol and UTC day) and the
 * `symbols` dimension, incremental, idempotent and crash-safe, cataloged like `ticks`.
 *
 * @example
 * ```ts ignore
 * import { transformLake } from "./mod.ts";
 * import { openStore } from "../lake/open_store.ts";
 * await transformLake({ store: openStore("./lake") });
 * ```
 *
 * @module
 */

export * from "./bars_daily.ts";
export * from "./symbols.ts";
export * from "./state.ts";
export * from "./publish.ts";
export * from "./transform.ts";
export * from "./catalog.ts";
export * from "./frames.ts";
