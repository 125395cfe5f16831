/**
 * Renders a {@linkcode QueryResult} for people (an aligned table) or programs (CSV, JSON).
 *
 * @module
 */

import type { QueryResult, Value } from "./result.ts";

/** An output format of {@linkcode formatResult}. */
export type OutputFormat = "table" | "csv" | "json";

/** Every {@linkcode OutputFormat}. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "csv", "json"];

/**
 * Writes one cell as text: timestamps as ISO-8601 UTC (`2021-05-31T00:00:00.000Z`), numbers in
 * JavaScript's shortest round-trip form, `null` as the empty string.
 */
export function cellText(value: Value): string {
  if (value === null) return "";
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

/**
 * Renders a result.
 *
 * - `table`: a header, a rule, and one aligned line per row (numbers right-aligned, nulls shown
 *   as `NULL`), then the row count.
 * - `csv`: RFC 4180, a header line then one line per row; fields with `,` `"` or line breaks are
 *   quoted; nulls are empty.
 * - `json`: an array of row objects; timestamps as ISO strings.
 *
 * @example
 * ```ts
 * import { formatResult } from "./format.ts";
 * formatResult({ engine: "local", sql: "", stats: { elapsedMs: 0 },
 *   columns: [{ name: "n", type: "bigint" }], rows: [{ n: 1 }] }, "csv"); // "n\n1\n"
 * ```
 */
export function formatResult(result: QueryResult, format: OutputFormat): string {
  const names = result.columns.map((c) => c.name);
  if (format === "csv") {
    const lines = [names.map(csvField).join(",")];
    for (const row of result.rows) {
      lines.push(names.map((n) => csvField(cellText(row[n]))).join(","));
    }
    return lines.join("\n") + "\n";
  }
  if (format === "json") {
    const rows = result.rows.map((row) =>
      Object.fromEntries(names.map((n) => {
        const value = row[n];
        return [n, value instanceof Date ? value.toISOString() : value];
      }))
    );
    return JSON.stringify(rows, null, 2) + "\n";
  }
  if (format !== "table") {
    throw new TypeError(`Unknown output format "${format}": use ${OUTPUT_FORMATS.join(", ")}.`);
  }
  const numeric = result.columns.map((c) => c.type === "double" || c.type === "bigint");
  const cells = result.rows.map((row) =>
    names.map((n) => (row[n] === null ? "NULL" : cellText(row[n])))
  );
  const widths = names.map((n, i) => Math.max(n.length, ...cells.map((line) => line[i].length)));
  const render = (line: string[]) =>
    line.map((text, i) => numeric[i] ? text.padStart(widths[i]) : text.padEnd(widths[i]))
      .join("  ").trimEnd();
  const out = [render(names), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(render)];
  out.push(`(${result.rows.length} row${result.rows.length === 1 ? "" : "s"})`);
  return out.join("\n") + "\n";
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
