/**
 * Rows a source could not turn into a tick, and a file that keeps them so nothing is lost.
 *
 * A bad row never stops a source: it becomes a {@linkcode Reject}, is reported as
 * `file:line: reason`, and can be appended to a rejects CSV (`file,line,reason,raw`) that keeps the
 * raw text for a later fix and replay.
 *
 * @module
 */

import { basename, dirname } from "node:path";

/** A row of a source file that was not turned into a tick, with why and where. */
export interface Reject {
  /** The source file, as it was named to the reader. */
  file: string;
  /** 1-based line number where the row starts; the header is line 1. */
  line: number;
  /** Why the row was rejected, e.g. `high 3 is below low 4`. */
  reason: string;
  /** The row exactly as read, without its line ending. */
  raw: string;
}

/**
 * Formats a reject the way compilers report errors: `file:line: reason`.
 *
 * @example
 * ```ts
 * import { formatReject } from "./rejects.ts";
 * formatReject({ file: "data/x.csv", line: 17, reason: "close is empty", raw: "" });
 * // "data/x.csv:17: close is empty"
 * ```
 */
export function formatReject(reject: Reject): string {
  return `${reject.file}:${reject.line}: ${reject.reason}`;
}

/**
 * The default rejects file for a source file: `<dir>/<basename>.rejects.csv`.
 *
 * @param file The source file, e.g. `data/stock_data.csv`.
 * @param dir Folder of rejects files. @default "rejects"
 *
 * @example
 * ```ts
 * import { rejectsPathFor } from "./rejects.ts";
 * rejectsPathFor("data/indexData.csv"); // "rejects/indexData.csv.rejects.csv"
 * ```
 */
export function rejectsPathFor(file: string, dir = "rejects"): string {
  return `${dir.replace(/\/+$/, "")}/${basename(file)}.rejects.csv`;
}

/** The header of a rejects file. */
export const REJECTS_HEADER = "file,line,reason,raw";

/**
 * Appends rejects to a CSV file with columns `file,line,reason,raw` (RFC 4180 quoting), creating
 * the file, its header and its folder when missing. Writes are synchronous and unbuffered, so a
 * crash loses no reject; rejects are expected to be rare.
 *
 * @example
 * ```ts ignore
 * import { RejectsFile } from "./rejects.ts";
 * import { readCsvTicks } from "./csv.ts";
 * using rejects = await RejectsFile.open("rejects/indexData.csv.rejects.csv");
 * for await (const tick of readCsvTicks("indexData.csv", { onReject: (r) => rejects.add(r) })) {
 *   console.log(tick.symbol);
 * }
 * ```
 */
export class RejectsFile implements Disposable {
  /** Where the rejects go. */
  readonly path: string;
  /** How many rejects this instance has written. */
  count = 0;
  #file: Deno.FsFile | undefined;
  readonly #encoder = new TextEncoder();

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Opens (or creates) a rejects file for appending.
   *
   * @throws {Error} when the folder cannot be created or the file cannot be opened; the message
   * names the path.
   */
  static async open(path: string): Promise<RejectsFile> {
    try {
      await Deno.mkdir(dirname(path), { recursive: true });
      const file = await Deno.open(path, { append: true, create: true });
      const rejects = new RejectsFile(path, file);
      if ((await file.stat()).size === 0) rejects.#write(`${REJECTS_HEADER}\n`);
      return rejects;
    } catch (error) {
      throw new Error(
        `Cannot open the rejects file "${path}": ${(error as Error).message}. ` +
          `Pass a writable path with --rejects.`,
        { cause: error },
      );
    }
  }

  /** Appends one reject as a CSV row. */
  add(reject: Reject): void {
    const row = [reject.file, String(reject.line), reject.reason, reject.raw].map(csvQuote);
    this.#write(`${row.join(",")}\n`);
    this.count++;
  }

  /** Closes the file; later {@linkcode RejectsFile.add} calls throw. Safe to call twice. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
  }

  /** Closes the file (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  #write(text: string): void {
    const file = this.#file;
    if (!file) throw new Error(`The rejects file "${this.path}" is closed; open it again.`);
    let bytes = this.#encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
  }
}

/** Quotes a CSV field when it holds a comma, quote or line break (RFC 4180). */
export function csvQuote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
