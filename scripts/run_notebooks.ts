/**
 * `deno run -A scripts/run_notebooks.ts [notebook.ipynb …]`: executes the tutorial notebooks
 * headless with the Deno kernel (nbclient from the project's Python environment), in tutorial
 * order (their names start with it: `00_…`, `01_…`), against the configured services, and fails on
 * any error output, stderr mentioning an error, a cell that did not run, a cell that ends in an
 * expression but shows nothing, or an analysis without a chart.
 *
 * Each run gets its own topic, consumer group and lake (`NOTEBOOK_RUN_ID`, default `ci-<time>`),
 * which are deleted afterwards unless `--keep` (the executed notebooks are kept on failure).
 *
 * @module
 */

import { basename, join, resolve } from "node:path";
import { helpText, main, numberFlag, parseFlags, UsageError } from "../lib/cli.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { consoleLogger } from "../lib/log.ts";
import {
  countCharts,
  ensureDenoKernel,
  type NotebookDocument,
  notebookProblems,
  notebookSettings,
  PROJECT_ROOT,
} from "../lib/notebook/mod.ts";
import { ensurePythonEnv } from "../lib/ops/local/python_env.ts";

/** Notebooks that must show at least one chart. */
const NEEDS_CHART = ["03_analysis.ipynb"];

const FLAGS = {
  timeout: { type: "string", description: "Seconds a cell may run", default: "120" },
  python: {
    type: "string",
    description: "Python with nbclient (the tests pass LAKE_TEST_PYTHON)",
    default: ".cache/venv, built if needed",
  },
  "run-id": {
    type: "string",
    description: "Suffix of the run's topic, group and lake (NOTEBOOK_RUN_ID)",
    default: "ci-<time>",
  },
  keep: { type: "boolean", description: "Keep the run's topics, lake and executed notebooks" },
} as const;

const PYTHON = `
import json, sys, time
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

jobs, timeout, cwd = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for source, target in jobs:
    notebook = nbformat.read(source, as_version=4)
    started, error = time.time(), None
    try:
        NotebookClient(notebook, timeout=timeout, resources={"metadata": {"path": cwd}}).execute()
    except CellExecutionError:
        error = None  # the error output is in the notebook; the caller reports it
    except Exception as exc:  # timeouts, a dead kernel, a missing kernel spec
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    nbformat.write(notebook, target)
    print(json.dumps({"source": source, "target": target,
                      "seconds": round(time.time() - started, 1), "error": error}), flush=True)
`;

interface RunReport {
  source: string;
  target: string;
  seconds: number;
  error: string | null;
}

if (import.meta.main) {
  main(async () => {
    const { values, positionals } = parseFlags(Deno.args, FLAGS, { allowPositionals: true });
    if (values.help) {
      console.log(
        `Usage: deno run -A scripts/run_notebooks.ts [flags] [notebook.ipynb …]\n\n${
          helpText(FLAGS)
        }\n\nWithout notebooks it runs every notebooks/*.ipynb. Services come from the usual ` +
          "environment (KAFKA_BROKERS, LAKE_URI, AWS_*); start them with deno task up.",
      );
      return 0;
    }
    const run = await planRun(values, positionals);
    const python = (values.python as string | undefined) ??
      (await ensurePythonEnv({
        venvDir: join(PROJECT_ROOT, ".cache", "venv"),
        requirementsFile: join(PROJECT_ROOT, "scripts", "requirements.txt"),
        logger: consoleLogger,
      })).python;
    const kernel = await ensureDenoKernel(python);
    const runDir = join(PROJECT_ROOT, ".cache", "notebook-runs", run.runId);
    const outDir = join(runDir, "executed");
    await Deno.mkdir(outDir, { recursive: true });
    const { settings } = run;
    consoleLogger.info(
      `Running ${run.notebooks.length} notebook(s) with the Deno kernel (${kernel}); run ${run.runId}: ` +
        `topic ${settings.topic}, lake ${settings.lake}, brokers ${settings.brokers.join(",")}.`,
    );
    const executed = await executeNotebooks(python, run, outDir);
    const checked = await checkNotebooks(executed.reports);
    console.log(checked.rows.join("\n"));
    const failed = executed.failed || checked.failed;
    if (failed) {
      consoleLogger.error(`Executed notebooks kept in ${outDir} (open them to see the outputs).`);
    }
    if (values.keep) {
      consoleLogger.info(`Kept topic ${settings.topic}, lake ${settings.lake} and ${outDir}.`);
    } else {
      await cleanUp(settings, failed ? undefined : runDir);
    }
    return failed ? 1 : 0;
  });
}

/** What one run executes: the notebooks, its id, the environment and settings the kernels see. */
interface NotebookRun {
  timeout: number;
  notebooks: string[];
  runId: string;
  env: Record<string, string>;
  settings: ReturnType<typeof notebookSettings>;
}

/** Reads the flags and settings; bad ones fail here, before any kernel starts. */
async function planRun(
  values: Record<string, unknown>,
  positionals: string[],
): Promise<NotebookRun> {
  const timeout = numberFlag("timeout", values.timeout as string | undefined, {
    integer: true,
    positive: true,
  }) ?? 120;
  const notebooks = positionals.length > 0
    ? positionals.map((p) => resolve(p))
    : await tutorialNotebooks(join(PROJECT_ROOT, "notebooks"));
  for (const path of notebooks) {
    if (!path.endsWith(".ipynb") || !(await exists(path))) {
      throw new UsageError(`"${path}" is not a notebook file (.ipynb) that exists.`);
    }
  }
  const runId = (values["run-id"] as string | undefined) ?? Deno.env.get("NOTEBOOK_RUN_ID") ??
    `ci-${Date.now()}`;
  const env = { ...Deno.env.toObject(), NOTEBOOK_RUN_ID: runId };
  return { timeout, notebooks, runId, env, settings: notebookSettings({ env }) };
}

/** Runs nbclient over the notebooks, writing each executed copy to `outDir`. */
async function executeNotebooks(
  python: string,
  run: NotebookRun,
  outDir: string,
): Promise<{ reports: RunReport[]; failed: boolean }> {
  const jobs = run.notebooks.map((path) => [path, join(outDir, basename(path))]);
  const child = new Deno.Command(python, {
    args: [
      "-c",
      PYTHON,
      JSON.stringify(jobs),
      String(run.timeout),
      join(PROJECT_ROOT, "notebooks"),
    ],
    env: run.env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const [output, status] = await Promise.all([child.output(), child.status]);
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const reports: RunReport[] = stdout.split("\n").filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line));
  const failed = !status.success || reports.length !== run.notebooks.length;
  if (failed) {
    consoleLogger.error(
      `nbclient stopped (exit ${status.code}) after ${reports.length} of ${run.notebooks.length} ` +
        `notebook(s):\n${
          stderr.split("\n").filter((l) => !/unstable/.test(l)).slice(-20).join("\n")
        }`,
    );
  }
  return { reports, failed };
}

/** One line per executed notebook (time, cells, charts), followed by its problems. */
async function checkNotebooks(reports: RunReport[]): Promise<{ rows: string[]; failed: boolean }> {
  const rows: string[] = [];
  let failed = false;
  for (const report of reports) {
    const name = basename(report.source);
    const notebook = JSON.parse(await Deno.readTextFile(report.target)) as NotebookDocument;
    const problems = notebookProblems(notebook).map((p) => `cell ${p.cell}: ${p.message}`);
    const kernelName = (notebook.metadata.kernelspec as { name?: string } | undefined)?.name;
    if (kernelName !== "deno") problems.unshift(`kernelspec is "${kernelName}", expected "deno"`);
    if (report.error) problems.unshift(report.error);
    const charts = countCharts(notebook);
    if (NEEDS_CHART.includes(name) && charts === 0) problems.push("shows no chart");
    const cells = notebook.cells.filter((c) => c.cell_type === "code").length;
    rows.push(
      `${problems.length ? "FAIL" : "ok  "} ${name.padEnd(24)} ${
        `${report.seconds.toFixed(1)} s`.padStart(8)
      } ${String(cells).padStart(3)} code cells ${String(charts).padStart(2)} chart(s)`,
    );
    for (const problem of problems) rows.push(`       ${problem}`);
    if (problems.length) failed = true;
  }
  return { rows, failed };
}

/** The notebooks of a folder in tutorial order: by name, which starts with the order (`00_…`). */
async function tutorialNotebooks(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) names.push(entry.name);
  }
  names.sort();
  if (names.length === 0) throw new UsageError(`No notebooks in ${dir}.`);
  return names.map((name) => join(dir, name));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then((s) => s.isFile, () => false);
}

/** Deletes the run's topics, and its folder (lake and executed notebooks) when given. */
async function cleanUp(
  settings: ReturnType<typeof notebookSettings>,
  runDir: string | undefined,
): Promise<void> {
  const admin = createKafka({ brokers: settings.brokers }).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const topics = [
      settings.topic,
      `${settings.topic}.dlq`,
      settings.testTopic,
      settings.byHandTopic,
    ]
      .filter((t) => existing.has(t));
    if (topics.length) await admin.deleteTopics({ topics });
  } catch (error) {
    consoleLogger.warn(`Could not delete the run's topics: ${(error as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => {});
  }
  if (runDir) await Deno.remove(runDir, { recursive: true }).catch(() => {});
  if (settings.lake.startsWith("s3://")) {
    consoleLogger.info(`The run's S3 lake ${settings.lake} is left in place; delete it when done.`);
  }
}
