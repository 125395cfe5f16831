/**
 * Checks of `.ipynb` files: the problems of an executed notebook, its charts, and stripping
 * outputs so git holds none (written back the way Jupyter writes notebooks).
 *
 * @module
 */

/** The parts of an `.ipynb` document the checks read. */
export interface NotebookDocument {
  /** Cells in order. */
  cells: NotebookCell[];
  /** Notebook metadata (kernelspec, language_info, …). */
  metadata: Record<string, unknown>;
  /** Other top-level fields (`nbformat`, …). */
  [key: string]: unknown;
}

/** One cell of a {@linkcode NotebookDocument}. */
export interface NotebookCell {
  /** `code`, `markdown` or `raw`. */
  cell_type: string;
  /** Source as one string or a list of lines. */
  source: string | string[];
  /** Code cells: outputs. */
  outputs?: NotebookOutput[];
  /** Code cells: execution count. */
  execution_count?: number | null;
  /** Cell metadata. */
  metadata?: Record<string, unknown>;
  /** Other fields (`id`, …). */
  [key: string]: unknown;
}

/** One output of a code cell. */
export interface NotebookOutput {
  /** `stream`, `display_data`, `execute_result` or `error`. */
  output_type: string;
  /** Stream name: `stdout` or `stderr`. */
  name?: string;
  /** Stream text. */
  text?: string | string[];
  /** MIME bundle of display outputs. */
  data?: Record<string, unknown>;
  /** Error class name. */
  ename?: string;
  /** Error message. */
  evalue?: string;
  /** Other fields. */
  [key: string]: unknown;
}

/** A problem found in an executed notebook. */
export interface NotebookProblem {
  /** Cell index (0-based, as in the file). */
  cell: number;
  /** What is wrong, in one line. */
  message: string;
}

function joined(text: string | string[] | undefined): string {
  return Array.isArray(text) ? text.join("") : text ?? "";
}

/**
 * The problems of an executed notebook: error outputs, stderr that mentions an error, and code
 * cells that never ran (the run stopped before them).
 *
 * @example
 * ```ts
 * import { notebookProblems } from "./mod.ts";
 * notebookProblems({ metadata: {}, cells: [{ cell_type: "code", source: "x", execution_count: 1,
 *   outputs: [{ output_type: "error", ename: "TypeError", evalue: "x is not defined" }] }] });
 * // [{ cell: 0, message: "TypeError: x is not defined" }]
 * ```
 */
export function notebookProblems(notebook: NotebookDocument): NotebookProblem[] {
  const problems: NotebookProblem[] = [];
  notebook.cells.forEach((cell, index) => {
    if (cell.cell_type !== "code" || joined(cell.source).trim() === "") return;
    for (const output of cell.outputs ?? []) {
      if (output.output_type === "error") {
        problems.push({ cell: index, message: `${output.ename}: ${output.evalue}` });
      } else if (
        output.output_type === "stream" && output.name === "stderr" &&
        /error/i.test(joined(output.text))
      ) {
        problems.push({ cell: index, message: `stderr: ${firstLines(joined(output.text))}` });
      }
    }
    if (cell.execution_count === null || cell.execution_count === undefined) {
      problems.push({ cell: index, message: "did not run" });
    }
  });
  return problems;
}

function firstLines(text: string): string {
  return text.trim().split("\n").slice(0, 3).join(" | ");
}

/** Number of chart outputs (Vega-Lite, SVG or PNG) in a notebook. */
export function countCharts(notebook: NotebookDocument): number {
  let charts = 0;
  for (const cell of notebook.cells) {
    for (const output of cell.outputs ?? []) {
      const data = output.data ?? {};
      if (Object.keys(data).some((m) => /vegalite|vega\.v|image\/svg|image\/png/.test(m))) charts++;
    }
  }
  return charts;
}

/**
 * Strips what running leaves in a notebook: outputs, execution counts and per-run cell metadata.
 * Returns a copy and whether anything was removed.
 */
export function stripNotebook(notebook: NotebookDocument): {
  notebook: NotebookDocument;
  changed: boolean;
} {
  let changed = false;
  const cells = notebook.cells.map((cell) => {
    const copy: NotebookCell = { ...cell };
    if (cell.metadata) {
      const metadata = { ...cell.metadata };
      for (const key of ["execution", "ExecuteTime", "collapsed", "scrolled"]) {
        if (key in metadata) {
          delete metadata[key];
          changed = true;
        }
      }
      copy.metadata = metadata;
    }
    if (cell.cell_type === "code") {
      if ((cell.outputs?.length ?? 0) > 0 || cell.outputs === undefined) changed = true;
      if (cell.execution_count !== null) changed = true;
      copy.outputs = [];
      copy.execution_count = null;
    }
    return copy;
  });
  return { notebook: { ...notebook, cells }, changed };
}

/**
 * Serialises a notebook the way Jupyter saves it (nbformat): keys sorted, one-space indent, a
 * final newline — so stripping and saving from JupyterLab give the same bytes.
 */
export function notebookJson(notebook: NotebookDocument): string {
  const sorted = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sorted);
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.keys(value).sort().map((
          key,
        ) => [key, sorted((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  return `${JSON.stringify(sorted(notebook), null, 1)}\n`;
}
