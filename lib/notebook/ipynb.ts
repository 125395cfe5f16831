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
 * The problems of an executed notebook: error outputs, stderr that mentions an error, code cells
 * that never ran (the run stopped before them), and silent cells: a cell that ends in an
 * expression (see {@linkcode endsInExpression}) but shows no output at all.
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
    } else if ((cell.outputs ?? []).length === 0 && endsInExpression(joined(cell.source))) {
      problems.push({
        cell: index,
        message: `ends in an expression but shows no output: ${
          lastStatement(joined(cell.source)).split("\n")[0].slice(0, 60)
        }`,
      });
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

/**
 * The last top-level statement of a cell's TypeScript, trimmed, without its `;`: what follows the
 * last `;` (or block-closing `}` at the end of a line) outside brackets, strings, template
 * literals and comments. A light scanner for notebook cells written with semicolons (as
 * `deno fmt` writes them), not a parser: regular expression literals are not recognised.
 *
 * @example
 * ```ts
 * import { lastStatement } from "./ipynb.ts";
 * lastStatement("const a = await f();\n`a is ${a}`;"); // "`a is ${a}`"
 * ```
 */
export function lastStatement(source: string): string {
  const code = blankOut(source);
  let end = code.length;
  while (end > 0 && /[\s;]/.test(code[end - 1])) end--;
  const open: boolean[] = []; // per open bracket: is it a template's `${`?
  let start = 0;
  for (let i = 0; i < end; i++) {
    const c = code[i];
    if (c === "(" || c === "[" || c === "{") open.push(c === "{" && code[i - 1] === "$");
    else if (c === ")" || c === "]" || c === "}") {
      const template = open.pop();
      // A block that closes at the end of a line ends a statement (if, for, function, …).
      if (
        open.length === 0 && c === "}" && !template && i + 1 < end &&
        /^[ \t]*(\n|$)/.test(code.slice(i + 1, i + 40))
      ) {
        start = i + 1;
      }
    } else if (c === ";" && open.length === 0) start = i + 1;
  }
  return source.slice(start, end).trim();
}

const STATEMENT_KEYWORDS =
  /^(const|let|var|function|async\s+function|class|import|export|type|interface|enum|declare|if|for|while|do|switch|try|return|throw|break|continue|namespace|module)\b/;

/**
 * Whether a cell ends in an expression whose value Jupyter would show: its last statement is an
 * expression statement, not a declaration, a control statement, an assignment or `void …`.
 * A cell that does must show some output; notebooks end such cells with `await show(…)`.
 *
 * @example
 * ```ts
 * import { endsInExpression } from "./ipynb.ts";
 * endsInExpression("const x = 1;\nx * 2;"); // true
 * endsInExpression("const x = 1;"); // false
 * endsInExpression("total = 1;"); // false: an assignment
 * ```
 */
export function endsInExpression(source: string): boolean {
  const statement = blankOut(lastStatement(source)).trim();
  if (statement === "" || statement.startsWith("}")) return false;
  if (STATEMENT_KEYWORDS.test(statement)) return false;
  if (/^void\b/.test(statement)) return false;
  // An assignment at the top level of the statement: `a = …`, `a.b += …` (not `==`, `=>`, `<=`).
  let depth = 0;
  for (let i = 0; i < statement.length; i++) {
    const c = statement[i];
    if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === "=" && depth === 0) {
      const before = statement[i - 1] ?? "", after = statement[i + 1] ?? "";
      if (after === "=" || after === ">") {
        i++;
        continue;
      }
      if (/[=!<>]/.test(before) && !/[<>]{2}/.test(statement.slice(i - 2, i))) continue;
      return false;
    }
  }
  return true;
}

/**
 * The source with the insides of comments, strings and template literals replaced by spaces
 * (same length, line breaks kept), and `${…}` in templates kept as code.
 */
function blankOut(source: string): string {
  const out = source.split("");
  const blank = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  const templates: number[] = []; // brace depth at which each open template's ${ started
  let braces = 0;
  let i = 0;
  const scanTemplate = () => {
    // i is just after a backtick or after the } closing a ${…}.
    const from = i;
    while (i < source.length) {
      const c = source[i];
      if (c === "\\") i += 2;
      else if (c === "`") {
        blank(from, i);
        i++;
        return;
      } else if (c === "$" && source[i + 1] === "{") {
        blank(from, i);
        templates.push(braces);
        braces++;
        i += 2;
        return;
      } else i++;
    }
    blank(from, i);
  };
  while (i < source.length) {
    const c = source[i];
    if (c === "/" && source[i + 1] === "/") {
      const end = source.indexOf("\n", i);
      const stop = end < 0 ? source.length : end;
      blank(i, stop);
      i = stop;
    } else if (c === "/" && source[i + 1] === "*") {
      const end = source.indexOf("*/", i + 2);
      const stop = end < 0 ? source.length : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== "\n") {
        j += source[j] === "\\" ? 2 : 1;
      }
      blank(i + 1, j);
      i = j + 1;
    } else if (c === "`") {
      i++;
      scanTemplate();
    } else if (c === "{") {
      braces++;
      i++;
    } else if (c === "}") {
      braces--;
      i++;
      if (templates.length > 0 && templates[templates.length - 1] === braces) {
        templates.pop();
        scanTemplate();
      }
    } else i++;
  }
  return out.join("");
}
