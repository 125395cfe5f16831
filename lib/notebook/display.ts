/**
 * Showing things in Jupyter (Deno kernel): one output updated in place while producing or
 * consuming, and rich bundles as their own outputs. Outside a kernel both fall back to the
 * terminal.
 *
 * @module
 */

import { type ProgressSink, terminalProgress } from "../progress.ts";

/** A MIME bundle: output data keyed by MIME type (`text/plain`, `text/html`, …). */
export type DisplayBundle = Record<string, unknown>;

/** The part of `Deno.jupyter` the helpers use. */
export interface JupyterDisplay {
  /** Shows a bundle; with `update` replaces the output that has the same `display_id`. */
  display(
    bundle: DisplayBundle,
    options: { raw: true; display_id?: string; update?: boolean },
  ): Promise<void>;
}

/**
 * `Deno.jupyter` when the code runs in the Deno Jupyter kernel, else `undefined` (outside the
 * kernel merely reading `Deno.jupyter` throws).
 */
export function jupyter(): JupyterDisplay | undefined {
  try {
    const api = (Deno as unknown as { jupyter?: JupyterDisplay }).jupyter;
    return typeof api?.display === "function" ? api : undefined;
  } catch {
    return undefined;
  }
}

/** A progress display that also accepts rich bundles; `done` resolves once it is shown. */
export interface LiveDisplay extends ProgressSink {
  /** Shows the latest state (text or a bundle); updates closer than `intervalMs` are dropped. */
  update(content: string | DisplayBundle): void;
  /** Shows the final state; await it so nothing is sent after the cell ends. */
  done(content: string | DisplayBundle): Promise<void>;
}

/** Options of {@linkcode liveDisplay}. */
export interface LiveDisplayOptions {
  /** Least time between two updates. @default 200 */
  intervalMs?: number;
  /** The Jupyter API. @default jupyter() */
  jupyter?: JupyterDisplay;
  /** Used outside Jupyter. @default terminalProgress() */
  fallback?: ProgressSink;
  /** Id of the output updated in place. @default a random UUID */
  displayId?: string;
  /** Pause after the final display, see {@linkcode DISPLAY_SETTLE_MS}. @default DISPLAY_SETTLE_MS */
  settleMs?: number;
}

/**
 * One output that updates in place in a notebook (Jupyter `display_id`), or the terminal
 * progress line elsewhere. Displays are sent in order; `done()` waits for all of them, so the
 * last update cannot leak into the next cell.
 *
 * @example
 * ```ts ignore
 * import { liveDisplay } from "./mod.ts";
 * const view = liveDisplay();
 * view.update("sent 10");
 * await view.done("sent 20");
 * ```
 */
export function liveDisplay(options: LiveDisplayOptions = {}): LiveDisplay {
  const api = options.jupyter ?? jupyter();
  const interval = options.intervalMs ?? 200;
  if (!api) {
    const sink = options.fallback ?? terminalProgress();
    return {
      update: (content) => sink.update(plainText(content)),
      done: (content) => Promise.resolve(sink.done(plainText(content))),
    };
  }
  const displayId = options.displayId ?? crypto.randomUUID();
  let shown = false;
  let last = -Infinity;
  let chain: Promise<void> = Promise.resolve();
  let failure: unknown;
  const send = (content: string | DisplayBundle) => {
    const bundle = typeof content === "string" ? { "text/plain": content } : content;
    const update = shown;
    shown = true;
    chain = chain.then(() => api.display(bundle, { raw: true, display_id: displayId, update }))
      .catch((error) => void (failure ??= error));
  };
  return {
    update(content) {
      const now = performance.now();
      if (now - last < interval) return;
      last = now;
      send(content);
    },
    async done(content) {
      send(content);
      await chain;
      if (failure) throw failure;
      await settle(options.settleMs);
    },
  };
}

/**
 * How long a cell waits after its last display before it ends. The Deno kernel (2.9.6) sends a
 * display and the cell's closing "idle" status on different paths, and in about 1 of 30 cells
 * the display arrived after "idle": JupyterLab and nbclient then drop it and the cell looks
 * silent. A cell's last expression (its `execute_result`) is sent the same way after the code
 * has ended (7 of 70 late here), where nothing can wait for it: so the notebooks end their cells
 * with `await show(…)`. With this pause, 0 of 300 displays came late.
 */
export const DISPLAY_SETTLE_MS = 50;

function settle(ms = DISPLAY_SETTLE_MS): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** Options of {@linkcode show}. */
export interface ShowOptions {
  /** The Jupyter API. @default jupyter() */
  jupyter?: JupyterDisplay;
  /** Pause after the display, see {@linkcode DISPLAY_SETTLE_MS}. @default DISPLAY_SETTLE_MS */
  settleMs?: number;
}

const DISPLAY = Symbol.for("Jupyter.display");

/**
 * The MIME bundle of a value: a bundle as it is; an object with a `Symbol.for("Jupyter.display")`
 * method (charts, tables) as that method returns; text as `text/plain`; anything else as its
 * plain inspection.
 */
export function bundleOf(value: unknown): DisplayBundle {
  if (typeof value === "string") return { "text/plain": value };
  if (value !== null && typeof value === "object") {
    const render = (value as Record<symbol, unknown>)[DISPLAY];
    if (typeof render === "function") return render.call(value) as DisplayBundle;
    const keys = Object.keys(value);
    if (keys.length > 0 && keys.every((key) => /^[a-z]+\/[\w.+-]+$/.test(key))) {
      return value as DisplayBundle;
    }
  }
  return {
    "text/plain": Deno.inspect(value, { colors: false, depth: 6, strAbbreviateSize: 400 }),
  };
}

/**
 * Shows a value (a chart, a table, text, any object) as its own output, and waits until Jupyter
 * has it: in Jupyter as rich output, elsewhere as its `text/plain` on stdout. End a notebook cell
 * with `await show(…)` rather than a bare expression (see {@linkcode DISPLAY_SETTLE_MS}).
 *
 * @example
 * ```ts ignore
 * import { show } from "./mod.ts";
 * await show(`connected to ${brokers}`);
 * ```
 */
export async function show(value: unknown, options: ShowOptions = {}): Promise<void> {
  const api = options.jupyter ?? jupyter();
  const bundle = bundleOf(value);
  if (!api) {
    console.log(plainText(bundle));
    return;
  }
  await api.display(bundle, { raw: true });
  await settle(options.settleMs);
}

function plainText(content: string | DisplayBundle): string {
  if (typeof content === "string") return content;
  const text = content["text/plain"];
  return typeof text === "string" ? text : JSON.stringify(content);
}

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
