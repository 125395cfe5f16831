/**
 * Groups an (async) stream into arrays by size or by time, so a slow, paced stream still sends
 * each item promptly while a fast one sends large batches.
 *
 * @module
 */

/** Options of {@linkcode batches}. */
export interface BatchesOptions {
  /** Largest batch. */
  size: number;
  /** Longest time the first item of a batch waits for company. */
  lingerMs: number;
  /** Stops reading; the items already taken are yielded as a last batch. */
  signal?: AbortSignal;
}

const LINGER = Symbol("linger");
const ABORT = Symbol("abort");

/**
 * Yields arrays of at most `size` items; a partial array once `lingerMs` passed since its first
 * item, or when the source ends or `signal` aborts.
 *
 * @example
 * ```ts
 * import { batches } from "./batches.ts";
 * for await (const batch of batches([1, 2, 3], { size: 2, lingerMs: 10 })) console.log(batch);
 * // [1, 2] then [3]
 * ```
 */
export async function* batches<T>(
  source: AsyncIterable<T> | Iterable<T>,
  options: BatchesOptions,
): AsyncGenerator<T[]> {
  const iterator = Symbol.asyncIterator in source
    ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
    : toAsync((source as Iterable<T>)[Symbol.iterator]());
  const signal = options.signal;
  let pending: Promise<IteratorResult<T>> | undefined;
  let batch: T[] = [];
  let deadline = 0;
  try {
    while (true) {
      if (signal?.aborted) break;
      pending ??= iterator.next();
      const item = pending;
      // A fresh promise per wait: racing a long-lived "aborted" promise would pile up one
      // reaction per item on it for as long as the stream runs.
      const next = await new Promise<IteratorResult<T> | typeof LINGER | typeof ABORT>(
        (resolve, reject) => {
          const onAbort = () => finish(ABORT);
          const timer = batch.length > 0
            ? setTimeout(() => finish(LINGER), Math.max(0, deadline - Date.now()))
            : undefined;
          function finish(value: IteratorResult<T> | typeof LINGER | typeof ABORT) {
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
            resolve(value);
          }
          signal?.addEventListener("abort", onAbort, { once: true });
          item.then(finish, (error) => {
            clearTimeout(timer);
            signal?.removeEventListener("abort", onAbort);
            reject(error);
          });
        },
      );
      if (next === ABORT) break;
      if (next === LINGER) {
        yield batch;
        batch = [];
        continue;
      }
      pending = undefined;
      if (next.done) break;
      if (batch.length === 0) deadline = Date.now() + options.lingerMs;
      batch.push(next.value);
      if (batch.length >= options.size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    // Let a paced source stop its timers; do not wait for a next() that may never settle.
    void iterator.return?.();
  }
}

async function* toAsync<T>(iterator: Iterator<T>): AsyncGenerator<T> {
  for (let r = iterator.next(); !r.done; r = iterator.next()) yield r.value;
}
