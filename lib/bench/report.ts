/**
 * The benchmark report: every figure next to its reference from the same run, the target it is
 * held to, and the machine it came from; printed as a text table, as JSON, or as the Markdown
 * table of the README's Performance section.
 *
 * @module
 */

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
  /** Its value, in the figure's unit. */
  value: number;
}

/** One measured figure. */
export interface Figure {
  /** Stable identifier, e.g. `producer.gzip.records_per_sec`. */
  id: string;
  /** What was measured, for people. */
  label: string;
  /** The measured value. */
  value: number;
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
}

/**
 * Builds a figure whose target is a bound on `value / reference`.
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
  value: number;
  unit: string;
  reference: Reference;
  atLeast?: number;
  atMost?: number;
}): Figure {
  if ((input.atLeast === undefined) === (input.atMost === undefined)) {
    throw new RangeError(`Figure ${input.id} needs exactly one of atLeast and atMost.`);
  }
  const ratio = input.reference.value === 0 ? Infinity : input.value / input.reference.value;
  const met = input.atLeast !== undefined ? ratio >= input.atLeast : ratio <= input.atMost!;
  const bound = input.atLeast !== undefined ? `≥ ${input.atLeast}×` : `≤ ${input.atMost}×`;
  return {
    id: input.id,
    label: input.label,
    value: input.value,
    unit: input.unit,
    reference: input.reference,
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
    `${formatNumber(f.value)} ${f.unit}`,
    `${formatNumber(f.reference.value)} (${f.reference.name})`,
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
      `| ${escape(f.label)} | ${formatNumber(f.value)} ${f.unit} | ${
        formatNumber(f.reference.value)
      } ${f.unit} (${escape(f.reference.name)}) | ${ratioText(f.ratio)} | ${escape(f.target)} | ${
        f.met ? "yes" : "**no**"
      } |`
    ),
  ].join("\n");
}
