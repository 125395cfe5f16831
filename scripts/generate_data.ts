/**
 * Writes the sample dataset `data/stock_data.csv` from the seeded simulator, in the exact layout of
 * the Kaggle "Stock Exchange Data" file (`indexProcessed.csv`): 14 indices, each calibrated to its
 * real history, on its exchange's trading days (weekends and main holidays skipped), with the real
 * file's quirks (days of volume 0, flat bars); grouped by Index (in the order of the real file's
 * symbol list) and sorted by Date within each. The same flags give a byte-identical file.
 *
 * ```sh
 * deno task generate-data [--rows 50400] [--seed 42] [--start 2007-10-01] [--out data/stock_data.csv]
 * ```
 *
 * @module
 */

import { dirname } from "node:path";
import { numberFlag, type ParsedFlags, runCommand, stringFlag, UsageError } from "../lib/cli.ts";
import { formatKaggleCsvRow, KAGGLE_CSV_HEADER } from "../lib/source/csv.ts";
import { KAGGLE_SYMBOLS, simulateTicks } from "../lib/source/simulate.ts";

const COMMAND = {
  usage: "deno task generate-data [flags]",
  about: `Writes simulated daily bars of the 14 Kaggle indices in the Kaggle CSV layout
(${KAGGLE_CSV_HEADER}): the same number of trading days per index, each on its own exchange's
calendar.`,
  flags: {
    rows: {
      type: "string",
      description: "At least N rows in total, rounded up to whole trading days per index",
      default: "50400",
    },
    seed: {
      type: "string",
      description: "Seed of the simulator; the same seed gives a byte-identical file",
      default: "42",
    },
    start: { type: "string", description: "First trading day, YYYY-MM-DD", default: "2007-10-01" },
    out: { type: "string", description: "File to write", default: "data/stock_data.csv" },
  },
} as const;

async function generate({ values }: ParsedFlags): Promise<number> {
  const rows = numberFlag("rows", values.rows, { integer: true, min: 1 }) ?? 50400;
  const seed = numberFlag("seed", values.seed, { integer: true }) ?? 42;
  const startDay = stringFlag("start", values.start) ?? "2007-10-01";
  if (!/^\d{4}-\d{2}-\d{2}$/.test(startDay) || Number.isNaN(Date.parse(startDay))) {
    throw new UsageError(`--start must be a date YYYY-MM-DD, got "${startDay}".`);
  }
  const start = Date.parse(`${startDay}T00:00:00Z`);
  const days = Math.ceil(rows / KAGGLE_SYMBOLS.length);
  const out = stringFlag("out", values.out) ?? "data/stock_data.csv";
  // The quietest calendar here (Shanghai) has about 245 trading days a year; 240 errs late.
  const lastDay = start + Math.ceil(days * 365.25 / 240) * 86_400_000;
  if (lastDay >= Date.UTC(2200, 0, 1)) {
    throw new UsageError(
      `--rows ${rows} needs ${days} trading days per index from ${startDay}, which runs past 2200 ` +
        "(dates the pipeline rejects). Use fewer rows or an earlier --start.",
    );
  }

  await Deno.mkdir(dirname(out) || ".", { recursive: true });
  const temporary = `${out}.tmp`;
  const file = await Deno.open(temporary, { write: true, create: true, truncate: true });
  const writer = file.writable.getWriter();
  const encoder = new TextEncoder();
  let written = 0;
  let bytes = 0;
  let first = Infinity;
  let last = start;
  const write = async (text: string) => {
    const chunk = encoder.encode(text);
    bytes += chunk.length;
    await writer.write(chunk);
  };
  try {
    await write(`${KAGGLE_CSV_HEADER}\n`);
    for (const profile of KAGGLE_SYMBOLS) {
      let text = "";
      for (
        const tick of simulateTicks({
          symbols: [profile],
          start,
          count: days,
          seed,
          calendar: true,
          quirks: true,
        })
      ) {
        text += `${formatKaggleCsvRow(tick)}\n`;
        written++;
        first = Math.min(first, tick.ts);
        last = Math.max(last, tick.ts);
      }
      await write(text);
    }
    await writer.close();
    await Deno.rename(temporary, out);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new Error(`Cannot write "${out}": ${(error as Error).message}`);
  }
  console.error(
    `Wrote ${written} rows (${KAGGLE_SYMBOLS.length} indices × ${days} trading days, ` +
      `${new Date(first).toISOString().slice(0, 10)}..${
        new Date(last).toISOString().slice(0, 10)
      }, seed ${seed}) ` +
      `to ${out} (${(bytes / 1e6).toFixed(1)} MB).`,
  );
  return 0;
}

if (import.meta.main) {
  runCommand(COMMAND, generate);
}
