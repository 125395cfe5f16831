/**
 * Runs the tutorial notebooks headless (scripts/run_notebooks.ts: nbclient + the Deno kernel)
 * against the local stack, and checks that the runner and the stripper fail when they should.
 * Needs KAFKA_BROKERS and LAKE_TEST_PYTHON (a Python with nbclient): `deno task test` sets both.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { notebookJson } from "./ipynb.ts";
import { requireTestEnv } from "../testing/lake.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** Runs a script with exactly `env` (default: this process's environment). */
async function runScript(
  script: string,
  args: string[],
  env: Record<string, string> = Deno.env.toObject(),
): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "scripts", script), ...args],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: result.code,
    output: decoder.decode(result.stdout) + decoder.decode(result.stderr),
  };
}

function services(): { python: string; env: Record<string, string> } {
  const brokers = requireTestEnv("KAFKA_BROKERS", "a Kafka broker, e.g. 127.0.0.1:9092");
  const python = requireTestEnv("LAKE_TEST_PYTHON", "the project venv's python, with nbclient");
  // The run's own folder lake and the local engine, whatever the caller's settings say.
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (name === "LAKE_URI" || name.startsWith("NOTEBOOK_")) delete env[name];
  }
  return { python, env: { ...env, KAFKA_BROKERS: brokers } };
}

function runId(name: string): string {
  return `test-${name}-${Date.now().toString(36)}`;
}

/** A temp folder holding one notebook of the given code cells. */
async function tempNotebook(name: string, cells: string[]): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "notebook_test_" });
  const path = join(dir, name);
  await Deno.writeTextFile(
    path,
    notebookJson({
      cells: cells.map((source, i) => ({
        cell_type: "code",
        execution_count: null,
        id: `c${i}`,
        metadata: {},
        outputs: [],
        source,
      })),
      metadata: { kernelspec: { display_name: "Deno", language: "typescript", name: "deno" } },
      nbformat: 4,
      nbformat_minor: 5,
    }),
  );
  return { dir, path };
}

/**
 * Runs `run_notebooks.ts` on a one-off notebook of `cells` that must fail, and returns its output;
 * the notebook and the run's folder are removed afterwards.
 */
async function runFailingNotebook(name: string, cells: string[], id: string): Promise<string> {
  const { python, env } = services();
  const { dir, path } = await tempNotebook(name, cells);
  const run = runId(id);
  try {
    const { code, output } = await runScript(
      "run_notebooks.ts",
      ["--python", python, "--run-id", run, path],
      env,
    );
    assert.equal(code, 1, output);
    return output;
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(join(ROOT, ".cache", "notebook-runs", run), { recursive: true })
      .catch(() => {});
  }
}

Deno.test({
  name: "every tutorial notebook runs top to bottom on the Deno kernel without error output, " +
    "and the analysis draws a chart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { python, env } = services();
    const { code, output } = await runScript("run_notebooks.ts", [
      "--python",
      python,
      "--run-id",
      runId("tutorial"),
    ], env);
    assert.equal(code, 0, output);
    const names = [
      "00_kafka_setup.ipynb",
      "01_kafka_producer.ipynb",
      "02_kafka_consumer.ipynb",
      "03_analysis.ipynb",
    ];
    const order = names.map((name) => output.indexOf(name));
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
      `not run in tutorial order:\n${output}`,
    );
    for (const name of names) {
      assert.match(output, new RegExp(`ok +${name.replace(".", "\\.")}`), output);
    }
    const charts = Number(output.match(/03_analysis\.ipynb.* (\d+) chart\(s\)/)?.[1]);
    assert.ok(charts >= 1, `the analysis shows no chart:\n${output}`);
  },
});

Deno.test({
  name: "the runner fails on a cell that throws, names the cell, and reports the cells after it",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const output = await runFailingNotebook("broken.ipynb", [
      "1 + 1",
      'throw new Error("boom in the second cell")',
      '"never reached"',
    ], "broken");
    assert.match(output, /FAIL broken\.ipynb/);
    assert.match(output, /cell 1: Error: boom in the second cell/);
    assert.match(output, /cell 2: did not run/);
    assert.match(output, /Executed notebooks kept in/);
  },
});

Deno.test({
  name: "the runner fails an analysis notebook that shows no chart",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const output = await runFailingNotebook("03_analysis.ipynb", [
      'await Deno.jupyter.display({ "text/plain": "a table, no chart" }, { raw: true });',
    ], "nochart");
    assert.match(output, /FAIL 03_analysis\.ipynb/);
    assert.match(output, /shows no chart/);
  },
});

Deno.test({
  name: "the runner fails on a cell that ends in an expression but shows nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const output = await runFailingNotebook("silent.ipynb", [
      "const a = 1;\nundefined;",
      'await Deno.jupyter.display({ "text/plain": "shown" }, { raw: true });\n' +
      "await new Promise((r) => setTimeout(r, 50));",
    ], "silent");
    assert.match(output, /FAIL silent\.ipynb/);
    assert.match(output, /cell 0: ends in an expression but shows no output: undefined/);
    assert.doesNotMatch(output, /cell 1:/);
  },
});

Deno.test({
  name: "a notebook opened before the one it needs stops at its first check, saying which to run",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { python, env } = services();
    const id = runId("order");
    try {
      const { code, output } = await runScript(
        "run_notebooks.ts",
        ["--python", python, "--run-id", id, join(ROOT, "notebooks", "02_kafka_consumer.ipynb")],
        env,
      );
      assert.equal(code, 1, output);
      assert.match(
        output,
        /cell \d+: PrerequisiteError: Topic "stock_market-nb-test-order-\w+" does not exist .* run 01_kafka_producer\.ipynb first/,
      );
      assert.doesNotMatch(output, /KafkaJS/, "no raw client error");
      assert.match(output, /did not run/);
    } finally {
      await Deno.remove(join(ROOT, ".cache", "notebook-runs", id), { recursive: true })
        .catch(() => {});
    }
  },
});

Deno.test("the runner refuses a path that is not a notebook, before starting anything", async () => {
  const { code, output } = await runScript("run_notebooks.ts", ["README.md"]);
  assert.equal(code, 2, output);
  assert.match(output, /"[^"]*README\.md" is not a notebook file/);
});

Deno.test("strip --check fails on a notebook with outputs; stripping makes it pass", async () => {
  const { dir, path } = await tempNotebook("dirty.ipynb", ["1"]);
  try {
    const nb = JSON.parse(await Deno.readTextFile(path));
    nb.cells[0].execution_count = 1;
    nb.cells[0].outputs = [{ output_type: "execute_result", data: { "text/plain": "1" } }];
    await Deno.writeTextFile(path, JSON.stringify(nb));
    const dirty = await runScript("strip_notebooks.ts", ["--check", path]);
    assert.equal(dirty.code, 1, dirty.output);
    assert.match(dirty.output, /dirty\.ipynb.*strip_notebooks\.ts/s);
    const strip = await runScript("strip_notebooks.ts", [path]);
    assert.equal(strip.code, 0, strip.output);
    const clean = await runScript("strip_notebooks.ts", ["--check", path]);
    assert.equal(clean.code, 0, clean.output);
    const stripped = JSON.parse(await Deno.readTextFile(path));
    assert.deepEqual(stripped.cells[0].outputs, []);
    assert.equal(stripped.cells[0].execution_count, null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("strip --check passes on the committed notebooks and rejects a file that is not one", async () => {
  const committed = await runScript("strip_notebooks.ts", ["--check"]);
  assert.equal(committed.code, 0, committed.output);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "x.ipynb"), "not json");
    const bad = await runScript("strip_notebooks.ts", ["--check", join(dir, "x.ipynb")]);
    assert.equal(bad.code, 1);
    assert.match(bad.output, /Cannot read notebook ".*x\.ipynb"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
