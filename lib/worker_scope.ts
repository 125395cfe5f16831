/**
 * The one test for "this module runs inside a Deno Worker", for the modules that serve a
 * worker's messages (`lib/kafka/producer_worker.ts`, `lib/ingest/split_worker.ts`): they start
 * serving only there, so that tests and the main thread can import them.
 *
 * @module
 */

/**
 * The global scope, typed as `Scope`, when called inside a Deno Worker; `undefined` elsewhere.
 *
 * @example
 * ```ts
 * import { workerScope } from "./worker_scope.ts";
 * workerScope(); // undefined on the main thread
 * ```
 */
export function workerScope<Scope>(): Scope | undefined {
  // deno-lint-ignore no-explicit-any
  const scope = globalThis as any;
  const inWorker = typeof scope.WorkerGlobalScope !== "undefined" &&
    scope instanceof scope.WorkerGlobalScope;
  return inWorker ? scope as Scope : undefined;
}
