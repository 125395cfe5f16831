/**
 * Ctrl-C handling for long-running commands: the first SIGINT/SIGTERM asks for a graceful stop
 * (flush, commit, disconnect); a second one stops at once.
 *
 * @module
 */

/** The two stages of stopping. */
export interface StopSignals {
  /** Aborts on the first signal: finish what is in hand, then stop. */
  graceful: AbortSignal;
  /** Aborts on the second signal: stop retrying now. */
  immediate: AbortSignal;
  /** Removes the signal listeners. */
  dispose(): void;
}

/**
 * Listens for SIGINT and SIGTERM. The second signal aborts `immediate` and exits with 130.
 *
 * @example
 * ```ts ignore
 * import { onStopSignals } from "./signals.ts";
 * const stop = onStopSignals((n) => console.error(n === 1 ? "stopping…" : "stopping now"));
 * ```
 */
export function onStopSignals(notify: (count: number) => void = () => {}): StopSignals {
  const graceful = new AbortController();
  const immediate = new AbortController();
  let count = 0;
  const handler = () => {
    count++;
    notify(count);
    if (count === 1) graceful.abort(new Error("Stopped by signal."));
    else {
      immediate.abort(new Error("Stopped by a second signal."));
      Deno.exit(130);
    }
  };
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, handler);
  return {
    graceful: graceful.signal,
    immediate: immediate.signal,
    dispose: () => {
      for (const s of signals) Deno.removeSignalListener(s, handler);
    },
  };
}
