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
    },
  };
}

/**
 * Shows a bundle (a chart, a view) as its own output: in Jupyter as rich output, elsewhere as
 * its `text/plain` on stdout.
 */
export async function show(bundle: DisplayBundle, api = jupyter()): Promise<void> {
  if (api) await api.display(bundle, { raw: true });
  else console.log(plainText(bundle));
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
