import assert from "node:assert/strict";
import { VEGA_LITE_MIME } from "./charts.ts";
import {
  countCharts,
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
  for (const name of ["kafka_producer.ipynb", "kafka_consumer.ipynb", "analysis.ipynb"]) {
    const text = await Deno.readTextFile(new URL(`../../notebooks/${name}`, import.meta.url));
    const nb = JSON.parse(text) as NotebookDocument;
    assert.equal((nb.metadata.kernelspec as { name: string }).name, "deno", name);
    assert.equal(stripNotebook(nb).changed, false, `${name} has outputs: strip it`);
    assert.equal(notebookJson(nb), text, `${name} is not in Jupyter's layout`);
  }
});
