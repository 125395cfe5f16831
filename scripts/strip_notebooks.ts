/**
 * `deno run -A scripts/strip_notebooks.ts [--check] [notebook.ipynb …]`: removes outputs,
 * execution counts and per-run cell metadata from the notebooks, so git holds only what was
 * written by hand. `--check` changes nothing and exits 1 when a notebook still has outputs (CI).
 *
 * Without arguments it takes every `.ipynb` file git tracks (every one in `notebooks/` when git
 * is not available).
 *
 * @module
 */

import { join, relative } from "node:path";
import { helpText, main, parseFlags } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import {
  type NotebookDocument,
  notebookJson,
  PROJECT_ROOT,
  stripNotebook,
} from "../lib/notebook/mod.ts";

const FLAGS = {
  check: { type: "boolean", description: "Only report notebooks with outputs; exit 1 if any" },
} as const;

if (import.meta.main) {
  main(async () => {
    const { values, positionals } = parseFlags(Deno.args, FLAGS, { allowPositionals: true });
    if (values.help) {
      console.log(
        `Usage: deno run -A scripts/strip_notebooks.ts [--check] [notebook.ipynb …]\n\n${
          helpText(FLAGS)
        }`,
      );
      return 0;
    }
    const files = positionals.length > 0 ? positionals : await trackedNotebooks();
    const dirty: string[] = [];
    for (const file of files) {
      let notebook: NotebookDocument;
      try {
        notebook = JSON.parse(await Deno.readTextFile(file));
      } catch (error) {
        throw new Error(
          `Cannot read notebook "${file}": ${(error as Error).message}. Fix or remove the file.`,
        );
      }
      if (!Array.isArray(notebook.cells)) {
        throw new Error(`"${file}" is not a Jupyter notebook (it has no "cells" list).`);
      }
      const stripped = stripNotebook(notebook);
      if (!stripped.changed) continue;
      dirty.push(file);
      if (!values.check) await Deno.writeTextFile(file, notebookJson(stripped.notebook));
    }
    if (values.check) {
      if (dirty.length === 0) {
        console.log(`${files.length} notebook(s) have no outputs.`);
        return 0;
      }
      consoleLogger.error(
        `These notebooks hold outputs or execution counts: ${dirty.join(", ")}. Run ` +
          "`deno run -A scripts/strip_notebooks.ts` and commit the result.",
      );
      return 1;
    }
    console.log(
      dirty.length ? `Stripped ${dirty.join(", ")}.` : `${files.length} notebook(s) already clean.`,
    );
    return 0;
  });
}

/** The `.ipynb` files git tracks, or those in notebooks/ when git cannot tell. */
async function trackedNotebooks(): Promise<string[]> {
  try {
    const git = await new Deno.Command("git", {
      args: ["ls-files", "-z", "--", "*.ipynb"],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (git.success) {
      return new TextDecoder().decode(git.stdout).split("\0").filter((f) => f !== "")
        .map((f) => relative(Deno.cwd(), join(PROJECT_ROOT, f)));
    }
  } catch {
    // git is not installed: fall back to the folder.
  }
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(PROJECT_ROOT, "notebooks"))) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) {
      files.push(relative(Deno.cwd(), join(PROJECT_ROOT, "notebooks", entry.name)));
    }
  }
  return files.sort();
}
