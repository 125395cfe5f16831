/**
 * Helpers for the tutorial notebooks (`notebooks/*.ipynb`, Deno kernel): their settings, a display
 * that updates one output in place, the live views and readable tables, Vega-Lite charts, the
 * catalog + query steps for either target, the prerequisite checks at the top of each notebook,
 * and the checks that run the notebooks headless in CI (kernel install, ipynb problems, stripping).
 *
 * Everything that builds a value (settings, views, chart specs, notebook checks) is pure and
 * unit-tested; the parts that talk to Jupyter fall back to the terminal outside a kernel.
 *
 * @example
 * ```ts ignore
 * import { notebookSettings, openLakeAnalysis } from "./mod.ts";
 * const lake = openLakeAnalysis(notebookSettings());
 * await lake.catalog();
 * ```
 *
 * @module
 */

export * from "./settings.ts";
export * from "./display.ts";
export * from "./views.ts";
export * from "./charts.ts";
export * from "./analysis.ts";
export * from "./checks.ts";
export * from "./ipynb.ts";
export * from "./kernel.ts";
