import assert from "node:assert/strict";
import { VEGA_LITE_MIME } from "./charts.ts";
import {
  countCharts,
  endsInExpression,
  lastStatement,
  type NotebookDocument,
  notebookJson,
  notebookProblems,
  stripNotebook,
} from "./ipynb.ts";

function notebook(cells: NotebookDocument["cells"]): NotebookDocument {
  return { cells, metadata: { kernelspec: { name: "deno" } }, nbformat: 4, nbformat_minor: 5 };
}

Deno.test("notebook problems are error outputs, stderr errors and cells that did not run", () => {
  const nb = notebook([
    { cell_type: "markdown", source: "# Title" },
    {
      cell_type: "code",
      source: "1",
      execution_count: 1,
      outputs: [{ output_type: "execute_result", data: {} }],
    },
    {
      cell_type: "code",
      source: ["boom", "()"],
      execution_count: 2,
      outputs: [{ output_type: "error", ename: "ReferenceError", evalue: "boom is not defined" }],
    },
    {
      cell_type: "code",
      source: "log()",
      execution_count: 3,
      outputs: [{
        output_type: "stream",
        name: "stderr",
        text: ["warning: ok\n", "Error: broker down\n"],
      }],
    },
    {
      cell_type: "code",
      source: "warn()",
      execution_count: 4,
      outputs: [{ output_type: "stream", name: "stderr", text: "warning: slow\n" }],
    },
    { cell_type: "code", source: "later()", execution_count: null, outputs: [] },
    { cell_type: "code", source: "", execution_count: null, outputs: [] },
  ]);
  assert.deepEqual(notebookProblems(nb), [
    { cell: 2, message: "ReferenceError: boom is not defined" },
    { cell: 3, message: "stderr: warning: ok | Error: broker down" },
    { cell: 5, message: "did not run" },
  ]);
  assert.deepEqual(notebookProblems(notebook([])), []);
});

Deno.test("charts are counted from Vega-Lite, SVG and PNG outputs", () => {
  const nb = notebook([
    {
      cell_type: "code",
      source: "a",
      execution_count: 1,
      outputs: [{ output_type: "execute_result", data: { [VEGA_LITE_MIME]: {} } }],
    },
    {
      cell_type: "code",
      source: "b",
      execution_count: 2,
      outputs: [{ output_type: "display_data", data: { "image/svg+xml": "<svg/>" } }],
    },
    {
      cell_type: "code",
      source: "c",
      execution_count: 3,
      outputs: [{ output_type: "display_data", data: { "text/html": "<table/>" } }],
    },
  ]);
  assert.equal(countCharts(nb), 2);
});

Deno.test("stripping removes outputs, counts and run metadata, and says when it changed nothing", () => {
  const nb = notebook([
    { cell_type: "markdown", source: "x", metadata: {} },
    {
      cell_type: "code",
      source: "1",
      execution_count: 7,
      metadata: { execution: { start: "t" }, tags: ["keep"] },
      outputs: [{ output_type: "stream", name: "stdout", text: "1" }],
    },
  ]);
  const { notebook: stripped, changed } = stripNotebook(nb);
  assert.equal(changed, true);
  assert.deepEqual(stripped.cells[1], {
    cell_type: "code",
    source: "1",
    execution_count: null,
    metadata: { tags: ["keep"] },
    outputs: [],
  });
  assert.equal(nb.cells[1].execution_count, 7, "the input is not modified");
  assert.equal(stripNotebook(stripped).changed, false);
});

Deno.test("notebooks are written like Jupyter writes them: sorted keys, one-space indent", () => {
  const text = notebookJson({ metadata: { b: 1, a: 2 }, cells: [], nbformat: 4 });
  assert.equal(
    text,
    '{\n "cells": [],\n "metadata": {\n  "a": 2,\n  "b": 1\n },\n "nbformat": 4\n}\n',
  );
});

Deno.test("the committed notebooks run on the Deno kernel and hold no outputs", async () => {
  for (
    const name of [
      "00_kafka_setup.ipynb",
      "01_kafka_producer.ipynb",
      "02_kafka_consumer.ipynb",
      "03_analysis.ipynb",
    ]
  ) {
    const text = await Deno.readTextFile(new URL(`../../notebooks/${name}`, import.meta.url));
    const nb = JSON.parse(text) as NotebookDocument;
    assert.equal((nb.metadata.kernelspec as { name: string }).name, "deno", name);
    assert.equal(stripNotebook(nb).changed, false, `${name} has outputs: strip it`);
    assert.equal(notebookJson(nb), text, `${name} is not in Jupyter's layout`);
  }
});

Deno.test("the last statement of a cell is found past strings, templates, comments and blocks", () => {
  assert.equal(lastStatement("const a = await f();\n`a is ${a}`;"), "`a is ${a}`");
  assert.equal(lastStatement("x;\n// done; really\n"), "x");
  assert.equal(lastStatement('const s = "a;b";\ns.length;'), "s.length");
  assert.equal(
    lastStatement("for (const x of xs) {\n  total += x;\n}\ntotal;"),
    "total",
  );
  assert.equal(lastStatement("if (ok) {\n  go();\n}\n"), "if (ok) {\n  go();\n}");
  assert.equal(
    lastStatement("await show(table(rows, {\n  title: `rows; ${n}`,\n}));"),
    "await show(table(rows, {\n  title: `rows; ${n}`,\n}))",
  );
  assert.equal(lastStatement("`line ${a}\nnext ${b}\n`;"), "`line ${a}\nnext ${b}\n`");
  assert.equal(lastStatement("/* a; b */ value"), "/* a; b */ value");
});

Deno.test("a cell ends in an expression unless its last statement declares, controls or assigns", () => {
  const yes = [
    "x",
    "const a = 1;\n`a is ${a}`;",
    "({ a: 1, b: 2 });",
    "await show(view);",
    "resultFrame(await lake.sql(`SELECT 1`));",
    "a === b;",
    "a <= b;",
    "items.map((x) => x * 2);",
  ];
  const no = [
    "const a = 1;",
    "let b;",
    'import pl from "nodejs-polars";',
    "total = 1;",
    "obj.field += 2;",
    "void promise;",
    "if (a) {\n  b();\n}",
    "function f() {\n  return 1;\n}",
    "",
    "// only a comment",
  ];
  for (const source of yes) assert.equal(endsInExpression(source), true, source);
  for (const source of no) assert.equal(endsInExpression(source), false, source);
});

Deno.test("a cell that ends in an expression and shows nothing is a problem; one that shows something is not", () => {
  const nb = notebook([
    { cell_type: "code", source: "const a = 1;\n`a is ${a}`;", execution_count: 1, outputs: [] },
    {
      cell_type: "code",
      source: "await show(`a`);",
      execution_count: 2,
      outputs: [{ output_type: "display_data", data: { "text/plain": "a" } }],
    },
    { cell_type: "code", source: "const b = 2;", execution_count: 3, outputs: [] },
  ]);
  assert.deepEqual(notebookProblems(nb), [
    { cell: 0, message: "ends in an expression but shows no output: `a is ${a}`" },
  ]);
});
