/**
 * Writes the sample dataset `data/stock_data.csv` from the seeded simulator, in the exact layout of
 * the Kaggle "Stock Exchange Data" file (`indexProcessed.csv`): 14 index symbols, weekdays only,
 * grouped by Index (in the order of the real file's symbol list) and sorted by Date within each.
 * The same flags give a byte-identical file.
 *
 * ```sh
 * deno task generate-data [--rows 50400] [--seed 42] [--start 2007-10-01] [--out data/stock_data.csv]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { dirname } from "node:path";
import { formatKaggleCsvRow, KAGGLE_CSV_HEADER } from "../lib/source/csv.ts";
import { KAGGLE_SYMBOLS, simulateTicks } from "../lib/source/simulate.ts";

const USAGE = `Usage: deno task generate-data [options]

Writes simulated daily bars of the 14 Kaggle indices in the Kaggle CSV layout
(${KAGGLE_CSV_HEADER}).

Options:
  --rows N      at least N rows in total, rounded up to whole days per symbol (default 50400)
  --seed S      seed of the simulator; the same seed gives a byte-identical file (default 42)
  --start DATE  first trading day, YYYY-MM-DD (default 2007-10-01)
  --out PATH    file to write (default data/stock_data.csv)
  -h, --help    show this help`;

function fail(message: string): never {
  console.error(`error: ${message}\n\n${USAGE}`);
  Deno.exit(2);
}

function wholeNumber(flag: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min) {
    fail(`--${flag} must be a whole number ≥ ${min}, got "${text}".`);
  }
  return value;
}

let values;
try {
  ({ values } = parseArgs({
    args: Deno.args,
    options: {
      rows: { type: "string", default: "50400" },
      seed: { type: "string", default: "42" },
      start: { type: "string", default: "2007-10-01" },
      out: { type: "string", default: "data/stock_data.csv" },
      help: { type: "boolean", short: "h", default: false },
    },
  }));
} catch (error) {
  fail((error as Error).message);
}
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}

const rows = wholeNumber("rows", values.rows, 1);
const seed = wholeNumber("seed", values.seed, 0);
if (!/^\d{4}-\d{2}-\d{2}$/.test(values.start) || Number.isNaN(Date.parse(values.start))) {
  fail(`--start must be a date YYYY-MM-DD, got "${values.start}".`);
}
const start = Date.parse(`${values.start}T00:00:00Z`);
const days = Math.ceil(rows / KAGGLE_SYMBOLS.length);
const out = values.out;
const lastDay = start + Math.ceil(days * 7 / 5) * 86_400_000;
if (lastDay >= Date.UTC(2200, 0, 1)) {
  fail(
    `--rows ${rows} needs ${days} weekdays per index from ${values.start}, which runs past 2200 ` +
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
        weekdaysOnly: true,
      })
    ) {
      text += `${formatKaggleCsvRow(tick)}\n`;
      written++;
      last = tick.ts;
    }
    await write(text);
  }
  await writer.close();
  await Deno.rename(temporary, out);
} catch (error) {
  await Deno.remove(temporary).catch(() => {});
  console.error(`error: cannot write "${out}": ${(error as Error).message}`);
  Deno.exit(1);
}
console.error(
  `Wrote ${written} rows (${KAGGLE_SYMBOLS.length} symbols × ${days} weekdays, ` +
    `${values.start}..${new Date(last).toISOString().slice(0, 10)}, seed ${seed}) ` +
    `to ${out} (${(bytes / 1e6).toFixed(1)} MB).`,
);
