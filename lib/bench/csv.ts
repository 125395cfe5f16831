/**
 * CSV → ticks throughput: the project's streaming reader ({@linkcode parseCsvTicks}, with its own
 * tokenizer) against the same rows through the npm `csv-parse` package (streaming, with the line
 * info and raw records a rejects file needs), both turning records into ticks with the same
 * {@linkcode rowToTick}. The file is read into memory first, so only parsing is timed.
 *
 * @module
 */

import { once } from "node:events";
import { parse } from "csv-parse";
import { detectLayout, parseCsvTicks, rowToTick } from "../source/csv.ts";
import type { Reject } from "../source/rejects.ts";
import type { Tick } from "../tick.ts";
import { median, perSecond } from "./stats.ts";

/** Options of {@linkcode benchCsv}. */
export interface CsvBenchOptions {
  /** The CSV file. @default "data/stock_data.csv" */
  file?: string;
  /** Timed runs per parser; the figure is their median. @default 5 */
  repeats?: number;
  /** Size of the chunks the bytes are fed in, like a file's `readable`. @default 65536 */
  chunkBytes?: number;
}

/** What {@linkcode benchCsv} measured. */
export interface CsvFigure {
  /** The file parsed. */
  file: string;
  /** Ticks per run (the same for both parsers on a clean file). */
  rows: number;
  /** Median rows/s of the project's reader. */
  oursRowsPerSec: number;
  /** Median rows/s through csv-parse. */
  csvParseRowsPerSec: number;
  /** Every run's rows/s, in order. */
  runs: { ours: number[]; csvParse: number[] };
}

/**
 * Times both readers `repeats` times each (alternating, so a busy machine hurts both alike).
 *
 * @example
 * ```ts ignore
 * import { benchCsv } from "./csv.ts";
 * const figure = await benchCsv({ repeats: 3 });
 * console.log(figure.oursRowsPerSec / figure.csvParseRowsPerSec);
 * ```
 */
export async function benchCsv(options: CsvBenchOptions = {}): Promise<CsvFigure> {
  const file = options.file ?? "data/stock_data.csv";
  const repeats = options.repeats ?? 5;
  const chunks = chunksOf(await Deno.readFile(file), options.chunkBytes ?? 65536);
  const runs = { ours: [] as number[], csvParse: [] as number[] };
  let rows = 0;
  for (let i = 0; i < repeats; i++) {
    const ours = await timeTicks(parseCsvTicks(chunks, { file }));
    const theirs = await timeTicks(csvParseTicks(chunks, { file }));
    if (ours.rows !== theirs.rows) {
      throw new Error(
        `The CSV readers disagree on ${file}: ${ours.rows} ticks vs ${theirs.rows} through csv-parse.`,
      );
    }
    rows = ours.rows;
    runs.ours.push(ours.rowsPerSec);
    runs.csvParse.push(theirs.rowsPerSec);
  }
  return {
    file,
    rows,
    oursRowsPerSec: median(runs.ours),
    csvParseRowsPerSec: median(runs.csvParse),
    runs,
  };
}

/**
 * The ticks of CSV bytes read with `csv-parse`: the first record is the header (its layout), every
 * other record becomes a tick through {@linkcode rowToTick}, and a bad row goes to `onReject` with
 * its line number and raw text, as the project's reader does.
 */
export async function* csvParseTicks(
  chunks: Iterable<Uint8Array>,
  options: { file?: string; onReject?: (reject: Reject) => void } = {},
): AsyncGenerator<Tick, void, undefined> {
  const file = options.file ?? "<csv>";
  const parser = parse({
    bom: true,
    info: true,
    raw: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
  });
  const feeding = (async () => {
    for (const chunk of chunks) if (!parser.write(chunk)) await once(parser, "drain");
    parser.end();
  })();
  let layout: ReturnType<typeof detectLayout> | undefined;
  for await (const { record, info, raw } of parser) {
    if (!layout) {
      layout = detectLayout(record, { file });
      continue;
    }
    const result = rowToTick(record, layout);
    if (typeof result === "string") {
      options.onReject?.({
        file,
        line: info.lines,
        reason: result,
        raw: raw.replace(/\r?\n$/, ""),
      });
      continue;
    }
    yield result;
  }
  await feeding;
}

async function timeTicks(
  ticks: AsyncIterable<Tick>,
): Promise<{ rows: number; rowsPerSec: number }> {
  const started = performance.now();
  let rows = 0;
  for await (const _ of ticks) rows++;
  return { rows, rowsPerSec: perSecond(rows, performance.now() - started) };
}

function chunksOf(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.byteLength; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}
