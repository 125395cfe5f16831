/**
 * Tick sources: CSV files (the Kaggle "Stock Exchange Data" layout and plain OHLCV), a seeded
 * market simulator, pacing (max speed, a rate, or a replay speed by event time) and the
 * tutorial's sample mode, plus the rejects of bad rows.
 *
 * @example
 * ```ts ignore
 * import { pace, readCsvTicks, RejectsFile, rejectsPathFor } from "./mod.ts";
 * const file = "data/stock_data.csv";
 * using rejects = await RejectsFile.open(rejectsPathFor(file));
 * const ticks = readCsvTicks(file, { onReject: (r) => rejects.add(r) });
 * for await (const tick of pace(ticks, { rate: 100 })) console.log(tick.symbol, tick.close);
 * ```
 *
 * @module
 */

export * from "./csv.ts";
export * from "./pace.ts";
export * from "./rejects.ts";
export * from "./calendar.ts";
export * from "./simulate.ts";
export * from "./open_source.ts";
