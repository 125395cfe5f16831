/**
 * Exponential backoff for operations that may fail for a while (S3 outage, throttling) and must
 * eventually succeed without losing data.
 *
 * @module
 */

import { type Logger, silentLogger } from "./log.ts";
import { sleep } from "./time.ts";

/** Options of {@linkcode retry}. */
export interface RetryOptions {
  /** What is being retried, for log lines ("writing ticks/dt=…"). */
  what: string;
  /** First delay. @default 200 */
  initialDelayMs?: number;
  /** Largest delay between attempts. @default 15000 */
  maxDelayMs?: number;
  /** Give up after this many attempts. @default Infinity (retry until it works or `signal` aborts) */
  maxAttempts?: number;
  /** Decides whether an error is worth another attempt. @default an error with `retriable === true` */
  isRetriable?: (error: unknown) => boolean;
  /** Called while waiting (at least every `maxDelayMs`), e.g. a Kafka heartbeat; may throw to stop. */
  onWait?: () => Promise<void>;
  /** Stops waiting and rethrows the last error. */
  signal?: AbortSignal;
  /** Where attempts are reported. @default silentLogger */
  logger?: Logger;
  /** Sleep function, injectable for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** True for errors that carry `retriable: true` (the convention of kafkajs and this project). */
export function isRetriableError(error: unknown): boolean {
  return typeof error === "object" && error !== null &&
    (error as { retriable?: unknown }).retriable === true;
}

/** The one `sleep` (it lives in `lib/time.ts`), re-exported for callers of `retry`. */
export { sleep };

/**
 * Awaits `pending` while calling `onWait` every `everyMs` until it settles: a request that hangs
 * (an S3 that accepts and never answers) must not starve the Kafka heartbeat. When `onWait`
 * throws, that error wins and `pending` is left to settle on its own.
 *
 * @example
 * ```ts
 * import { keepAlive, sleep } from "./retry.ts";
 * await keepAlive(sleep(2500), async () => console.log("still waiting"), 1000);
 * ```
 */
export async function keepAlive<T>(
  pending: Promise<T>,
  onWait: () => Promise<void>,
  everyMs = 1000,
): Promise<T> {
  let settled = false;
  const done = pending.finally(() => settled = true);
  done.catch(() => {}); // if onWait throws first, the operation's own failure is not reported
  const settledOrFailed = done.then(() => {}, () => {});
  while (!settled) {
    const tick = new AbortController();
    await Promise.race([settledOrFailed, sleep(everyMs, tick.signal).catch(() => {})]);
    tick.abort(); // no timer outlives the wait
    if (!settled) await onWait();
  }
  return await done;
}

/**
 * Runs `operation` until it succeeds, backing off exponentially (with jitter) on retriable errors.
 * Non-retriable errors are rethrown at once.
 *
 * @example
 * ```ts
 * import { retry } from "./retry.ts";
 * const body = await retry(() => fetch("http://127.0.0.1:5000/").then((r) => r.text()), {
 *   what: "reading the status page",
 *   isRetriable: () => true,
 *   maxAttempts: 3,
 * });
 * ```
 */
export async function retry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  const {
    initialDelayMs = 200,
    maxDelayMs = 15_000,
    maxAttempts = Infinity,
    isRetriable = isRetriableError,
    logger = silentLogger,
    sleep: pause = sleep,
  } = options;
  let delay = initialDelayMs;
  for (let attempt = 1;; attempt++) {
    try {
      const result = await (options.onWait ? keepAlive(operation(), options.onWait) : operation());
      if (attempt > 1) logger.info(`${options.what}: succeeded after ${attempt} attempts.`);
      return result;
    } catch (error) {
      if (!isRetriable(error) || attempt >= maxAttempts || options.signal?.aborted) throw error;
      const wait = Math.min(maxDelayMs, delay) * (0.75 + Math.random() * 0.5);
      logger.warn(
        `${options.what} failed (attempt ${attempt}): ${
          (error as Error).message ?? error
        }; retrying in ${Math.round(wait)} ms.`,
      );
      // Wait in slices so the heartbeat keeps the consumer in its group during long outages.
      let left = wait;
      while (left > 0) {
        const slice = Math.min(left, 3000);
        await pause(slice, options.signal).catch(() => {
          throw error;
        });
        left -= slice;
        await options.onWait?.();
      }
      delay = Math.min(maxDelayMs, delay * 2);
    }
  }
}
