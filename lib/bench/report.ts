/**
 * The benchmark report: every figure next to its reference from the same run, the target it is
 * held to, and the machine it came from; printed as a text table, as JSON, or as the Markdown
 * table of the README's Performance section.
 *
 * @module
 */

import { type Spread, spread } from "./stats.ts";

/** Where the figures came from. */
export interface Machine {
  /** CPU model from `/proc/cpuinfo`. */
  cpu: string;
  /** Logical cores (`nproc`). */
  cores: number;
  /** Total memory, bytes. */
  memoryBytes: number;
  /** Kernel release. */
  os: string;
  /** Deno version. */
  deno: string;
}

/** The reference a figure is compared with. */
export interface Reference {
  /** What the reference is, e.g. `Java ProducerPerformance (kafka-tools 3.9.1)`. */
  name: string;
  /** Its value, in the figure's unit (the median when it was measured more than once). */
  value: number;
  /** Median, min, max and every run, when measured more than once. */
  spread?: Spread;
}

/** One measured figure. */
export interface Figure {
  /** Stable identifier, e.g. `producer.gzip.records_per_sec`. */
  id: string;
  /** What was measured, for people. */
  label: string;
  /** The measured value (the median when it was measured more than once). */
  value: number;
  /** Median, min, max and every run, when measured more than once. */
  spread?: Spread;
  /** Unit of value and reference, e.g. `records/s`, `ms`, `MiB`. */
  unit: string;
  /** The reference measured (or set) in the same run. */
  reference: Reference;
  /** value / reference.value. */
  ratio: number;
  /** The target, as text, e.g. `≥ 0.5× Java`. */
  target: string;
  /** Whether the target is met. */
  met: boolean;
}

/** The whole report. */
export interface BenchReport {
  /** True for a `--quick` (CI-sized) run. */
  quick: boolean;
  /** When the run started (ISO-8601). */
  startedAt: string;
  /** How long the run took, ms. */
  durationMs: number;
  /** The machine. */
  machine: Machine;
  /** The settings each part ran with (sizes, flush settings, compression), for the record. */
  settings: Record<string, unknown>;
  /** Every figure. */
  figures: Figure[];
  /** Parts skipped with `--skip`. */
  skipped: string[];
  /** Every setting in which our side and its reference differ, one sentence each. */
  differences?: string[];
}

/**
 * Builds a figure whose target is a bound on `value / reference`. A value or reference given as
 * the runs of a repeated measurement counts by its median, and keeps its min and max.
 *
 * @example
 * ```ts
 * import { ratioFigure } from "./report.ts";
 * const f = ratioFigure({
 *   id: "x", label: "x", value: 60, unit: "records/s",
 *   reference: { name: "Java", value: 100 }, atLeast: 0.5,
 * });
 * f.met; // true (0.6 ≥ 0.5)
 * ```
 * @throws {RangeError} unless exactly one of `atLeast` and `atMost` is given.
 */
export function ratioFigure(input: {
  id: string;
  label: string;
  value: number | readonly number[];
  unit: string;
  reference: { name: string; value: number | readonly number[] };
  atLeast?: number;
  atMost?: number;
}): Figure {
  if ((input.atLeast === undefined) === (input.atMost === undefined)) {
    throw new RangeError(`Figure ${input.id} needs exactly one of atLeast and atMost.`);
  }
  const measured = typeof input.value === "number" ? undefined : spread(input.value);
  const value = measured?.median ?? input.value as number;
  const referenceSpread = typeof input.reference.value === "number"
    ? undefined
    : spread(input.reference.value);
  const reference: Reference = {
    name: input.reference.name,
    value: referenceSpread?.median ?? input.reference.value as number,
    ...(referenceSpread ? { spread: referenceSpread } : {}),
  };
  const ratio = reference.value === 0 ? Infinity : value / reference.value;
  const met = input.atLeast !== undefined ? ratio >= input.atLeast : ratio <= input.atMost!;
  const bound = input.atLeast !== undefined ? `≥ ${input.atLeast}×` : `≤ ${input.atMost}×`;
  return {
    id: input.id,
    label: input.label,
    value,
    ...(measured ? { spread: measured } : {}),
    unit: input.unit,
    reference,
    ratio,
    target: `${bound} ${input.reference.name}`,
    met,
  };
}

/**
 * Formats a number for tables: thousands separators, at most `digits` decimals below 100.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./report.ts";
 * formatNumber(123456.7); // "123,457"
 * formatNumber(12.345); // "12.3"
 * ```
 */
export function formatNumber(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const decimals = abs >= 100 ? 0 : abs >= 10 ? digits : digits + 1;
  return n.toLocaleString("en-US", { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
}

/**
 * A value with the min and max of its runs: `52,000 (48,100–55,300)`; just the value when it was
 * measured once.
 *
 * @example
 * ```ts
 * import { spreadText } from "./report.ts";
 * spreadText(20, { median: 20, min: 10, max: 30, runs: [30, 10, 20] }); // "20 (10–30)"
 * ```
 */
export function spreadText(value: number, range?: Spread): string {
  if (!range || range.runs.length < 2) return formatNumber(value);
  return `${formatNumber(value)} (${formatNumber(range.min)}–${formatNumber(range.max)})`;
}

function ratioText(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : "n/a";
}

/** The machine in one line: `2 × Intel(R) Xeon(R) Processor, 23.4 GiB, Linux 6.1, Deno 2.9.6`. */
export function machineLine(machine: Machine): string {
  const gib = (machine.memoryBytes / 1024 ** 3).toFixed(1);
  return `${machine.cores} × ${machine.cpu}, ${gib} GiB RAM, Linux ${machine.os}, Deno ${machine.deno}`;
}

/**
 * The report as a text table for the terminal.
 *
 * @example
 * ```ts ignore
 * import { formatReport } from "./report.ts";
 * console.log(formatReport(report));
 * ```
 */
export function formatReport(report: BenchReport): string {
  const header = ["figure", "value", "reference", "ratio", "target", "met"];
  const rows = report.figures.map((f) => [
    f.label,
    `${spreadText(f.value, f.spread)} ${f.unit}`,
    `${spreadText(f.reference.value, f.reference.spread)} (${f.reference.name})`,
    ratioText(f.ratio),
    f.target,
    f.met ? "yes" : "NO",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [
    `Benchmark (${report.quick ? "quick" : "full"}) on ${machineLine(report.machine)}`,
    `started ${report.startedAt}, took ${(report.durationMs / 1000).toFixed(0)} s` +
    (report.skipped.length ? `, skipped: ${report.skipped.join(", ")}` : ""),
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    ...(report.differences?.length
      ? [
        "",
        "Settings that differ from the references:",
        ...report.differences.map((d) => `- ${d}`),
      ]
      : []),
  ].join("\n");
}

/**
 * The report as the Markdown table of the README's Performance section.
 *
 * @example
 * ```ts ignore
 * import { markdownTable } from "./report.ts";
 * console.log(markdownTable(report));
 * ```
 */
export function markdownTable(report: BenchReport): string {
  const escape = (text: string) => text.replaceAll("|", "\\|");
  return [
    "| Figure | Value | Reference (same run) | Ratio | Target | Met |",
    "| --- | ---: | ---: | ---: | --- | :---: |",
    ...report.figures.map((f) =>
      `| ${escape(f.label)} | ${spreadText(f.value, f.spread)} ${f.unit} | ${
        spreadText(f.reference.value, f.reference.spread)
      } ${f.unit} (${escape(f.reference.name)}) | ${ratioText(f.ratio)} | ${escape(f.target)} | ${
        f.met ? "yes" : "**no**"
      } |`
    ),
  ].join("\n");
}

/**
 * The body of the README's Performance section, generated from a run: the machine and command,
 * the table, and the settings that differ from the references. `deno task bench --markdown`
 * prints it; paste it over the section's generated part.
 *
 * @example
 * ```ts ignore
 * import { markdownSection } from "./report.ts";
 * console.log(markdownSection(report));
 * ```
 */
export function markdownSection(report: BenchReport): string {
  const command = report.quick
    ? "deno task bench --quick --markdown"
    : "deno task bench --markdown";
  return [
    `Measured with \`${command}\` on ${machineLine(report.machine)}, ${
      report.startedAt.slice(0, 10)
    } (took ${(report.durationMs / 60_000).toFixed(1)} min${
      report.skipped.length ? `; skipped: ${report.skipped.join(", ")}` : ""
    }). Values are the median of the runs with (min–max); each reference ran in the same run, ` +
    "interleaved with our side.",
    "",
    markdownTable(report),
    ...(report.differences?.length
      ? [
        "",
        "Settings that differ between our side and its reference:",
        "",
        ...report.differences.map((d) => `- ${d}`),
      ]
      : []),
  ].join("\n");
}
