/**
 * `deno task notebook [jupyter lab flags]`: builds the project's Python environment if needed
 * (JupyterLab from PyPI into `.cache/venv`), installs the Deno kernel for this Deno, and opens
 * JupyterLab in `notebooks/`. Flags go to `jupyter lab`, e.g. `--no-browser` or `--port 8889`.
 *
 * @module
 */

import { join } from "node:path";
import { main } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import { ensureDenoKernel, notebookSettings, PROJECT_ROOT } from "../lib/notebook/mod.ts";
import { ensurePythonEnv, venvBin } from "../lib/ops/local/python_env.ts";

const HELP = `Usage: deno task notebook [jupyter lab flags]

Opens JupyterLab in notebooks/ with the Deno kernel. The tutorial, in order: 00_kafka_setup.ipynb,
01_kafka_producer.ipynb, 02_kafka_consumer.ipynb, 03_analysis.ipynb (start the local broker first:
deno task up).

Common flags (passed to jupyter lab):
  --no-browser      do not open a browser; open the printed http://localhost:8888/lab?token=… URL
  --port <n>        port to listen on (default 8888)
  --allow-root      needed when running as root (e.g. in a container); JupyterLab refuses otherwise

Each notebook's first cell holds its settings as variables you edit there; each takes its
environment variable (KAFKA_BROKERS, LAKE_URI, AWS_*, NOTEBOOK_TARGET, NOTEBOOK_ROWS, …) when that is
set before this command.`;

if (import.meta.main) {
  main(async () => {
    if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
      console.log(HELP);
      return 0;
    }
    const settings = notebookSettings(); // a bad variable fails now, not in the first cell
    const env = await ensurePythonEnv({
      venvDir: join(PROJECT_ROOT, ".cache", "venv"),
      requirementsFile: join(PROJECT_ROOT, "scripts", "requirements.txt"),
      logger: consoleLogger,
    });
    const kernel = await ensureDenoKernel(env.python);
    consoleLogger.info(
      `Deno kernel: ${kernel}. Notebooks will use Kafka at ${settings.brokers.join(",")}, ` +
        `topic ${settings.topic}, lake ${settings.lake}. Stop JupyterLab with Ctrl-C.`,
    );
    // Ctrl-C reaches JupyterLab too (it asks to confirm); wait for it instead of exiting first.
    const ignore = () => {};
    Deno.addSignalListener("SIGINT", ignore);
    try {
      const status = await new Deno.Command(venvBin("jupyter", env.venvDir), {
        args: ["lab", ...Deno.args],
        cwd: join(PROJECT_ROOT, "notebooks"),
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn().status;
      return status.code;
    } finally {
      Deno.removeSignalListener("SIGINT", ignore);
    }
  });
}
