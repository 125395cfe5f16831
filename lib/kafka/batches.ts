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
  if (!(Symbol.asyncIterator in source)) {
    yield* syncBatches(source, options);
    return;
  }
  const iterator = source[Symbol.asyncIterator]();
  const signal = options.signal;
  let pending: Promise<IteratorResult<T>> | undefined;
  let batch: T[] = [];
  // One wake-up per batch (its linger timer, or the abort), raced against each item: no timer
  // or listener per item, and the reactions on it are dropped with the batch.
  let wake = wakeUp(signal);
  try {
    while (!signal?.aborted) {
      pending ??= iterator.next();
      const next = await Promise.race([pending, wake.promise]);
      if (next === ABORT) break;
      if (next === LINGER) {
        yield batch;
        batch = [];
        wake.dispose();
        wake = wakeUp(signal);
        continue;
      }
      pending = undefined;
      if (next.done) break;
      if (batch.length === 0) {
        wake.dispose();
        wake = wakeUp(signal, options.lingerMs);
      }
      batch.push(next.value);
      if (batch.length >= options.size) {
        yield batch;
        batch = [];
        wake.dispose();
        wake = wakeUp(signal);
      }
    }
    if (batch.length > 0) yield batch;
  } finally {
    wake.dispose();
    // Let a paced source stop its timers; do not wait for a next() that may never settle.
    void iterator.return?.();
  }
}

/** A promise that settles with LINGER after `lingerMs` (if given) or ABORT when `signal` aborts. */
function wakeUp(signal?: AbortSignal, lingerMs?: number) {
  let settle!: (value: typeof LINGER | typeof ABORT) => void;
  const promise = new Promise<typeof LINGER | typeof ABORT>((resolve) => settle = resolve);
  const onAbort = () => settle(ABORT);
  signal?.addEventListener("abort", onAbort, { once: true });
  const timer = lingerMs === undefined ? undefined : setTimeout(() => settle(LINGER), lingerMs);
  return {
    promise,
    dispose() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Batches of a synchronous source: its next item is always there at once, so every batch but the
 * last is full and none waits for the linger; taken item by item without a promise each (the
 * async path costs 1–2 µs an item). The signal is checked between batches: nothing else runs
 * while one is taken.
 */
function* syncBatches<T>(source: Iterable<T>, options: BatchesOptions): Generator<T[]> {
  const iterator = source[Symbol.iterator]();
  let done = false;
  try {
    while (!done && !options.signal?.aborted) {
      const batch: T[] = [];
      while (batch.length < options.size) {
        const next = iterator.next();
        if (next.done) {
          done = true;
          break;
        }
        batch.push(next.value);
      }
      if (batch.length > 0) yield batch;
    }
  } finally {
    if (!done) iterator.return?.();
  }
}
