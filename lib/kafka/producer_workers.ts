/**
 * Sends ticks through several producer workers (Deno Workers, {@linkcode ./producer_worker.ts}),
 * each an idempotent producer of its own, so that kafkajs' per-message work (record batches, CRC,
 * compression) runs on more than one core and several produce requests are in flight at once.
 * Each request goes to the worker with the fewest requests in flight: symbols do not spread
 * evenly over partitions (the 14 indices fall 7/4/3 on 3 partitions), so fixed owners would leave
 * one worker with most of the work.
 *
 * What stays as {@linkcode produceTicks} promises:
 * - key = symbol, the Java client's partitioner: a symbol's partition is computed once, on the
 *   main thread;
 * - per-symbol order: a partition has at most one request in flight, whichever worker sends it;
 *   the next one is sent only after the previous one is acknowledged (each worker's idempotent
 *   sequence numbers then de-duplicate its own retries);
 * - one partition per request (the kafkajs#1303 rule in `producer.ts`), acks=all, idempotent,
 *   the same retries ({@linkcode PRODUCER_RETRY});
 * - the workers build their clients with {@linkcode createKafka} from the same client options as
 *   the main thread (brokers and every connection or security setting), so they connect the same way.
 *
 * The main thread reads the source, encodes each tick once (keys and JSON values into one byte
 * array per request, see {@linkcode encodeTicks}), transfers it to the worker and keeps the counts.
 *
 * @module
 */

import { batches } from "./batches.ts";
import { createKafka, isConnectionError, KafkaUnavailableError } from "./client.ts";
import type { KafkaClientOptions } from "./client.ts";
import { KAFKA_SECURITY_FIELDS, type KafkaSecurity } from "./security.ts";
import {
  keyPartitioner,
  type ProduceOptions,
  type ProduceProgress,
  type ProduceResult,
  topicPartitionCount,
} from "./producer.ts";
import type { FromWorker, ToWorker, WorkerError } from "./producer_worker.ts";
import type { Tick } from "../tick.ts";
import { type EncodedTicks, encodeTicks } from "./tick_batch.ts";
import { type Logger, silentLogger } from "../log.ts";

/**
 * Producer workers by default: two, one per core of the machines this project is measured on; a
 * third (one per partition of the default topic) measured no faster there.
 */
export const DEFAULT_PRODUCER_WORKERS = 2;

/** Options of {@linkcode produceTicksInWorkers}. */
export interface WorkerProduceOptions extends ProduceOptions {
  /**
   * The client options the main thread's client was made with (`createKafka`); each worker makes
   * its own client from them. Its `logger` stays on the main thread and gets the workers' logs.
   */
  client: KafkaClientOptions;
  /** Producer workers (at most one per partition). @default DEFAULT_PRODUCER_WORKERS */
  workers?: number;
}

/** Raised when the topic is missing or a worker cannot start; says what to do. */
export class ProducerWorkersError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProducerWorkersError";
  }
}

const WORKER_URL = new URL("./producer_worker.ts", import.meta.url);

/** A request sent to a worker and not yet answered. */
interface Pending {
  resolve(): void;
  reject(error: Error): void;
}

/** One worker and the requests it has in flight. */
class ProducerWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #ready: Promise<void>;
  #closed?: () => void;

  constructor(init: Extract<ToWorker, { type: "init" }>, logger: Logger) {
    this.#worker = new Worker(WORKER_URL, { type: "module" });
    let ready!: () => void, failed!: (error: Error) => void;
    this.#ready = new Promise((resolve, reject) => [ready, failed] = [resolve, reject]);
    this.#worker.onmessage = ({ data }: MessageEvent<FromWorker>) => {
      if (data.type === "ready") ready();
      else if (data.type === "log") logger[data.level](data.text);
      else if (data.type === "closed") this.#closed?.();
      else if (data.type === "acked") this.#settle(data.id)?.resolve();
      else if (data.id < 0) failed(workerError(data.error));
      else this.#settle(data.id)?.reject(workerError(data.error));
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = new ProducerWorkersError(`A producer worker crashed: ${event.message}`);
      failed(error);
      for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
    };
    this.#worker.postMessage(init);
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /** Resolves once the worker's producer is connected. */
  ready(): Promise<void> {
    return this.#ready;
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    this.#pending.delete(id);
    return pending;
  }

  /** Sends one partition's encoded records; resolves once the broker acknowledged them. */
  send(id: number, partition: number, encoded: EncodedTicks): Promise<void> {
    const acked = new Promise<void>((resolve, reject) =>
      this.#pending.set(id, { resolve, reject })
    );
    const message: ToWorker = { type: "send", id, partition, ...encoded };
    // Both buffers move to the worker (no copy); they are unusable here afterwards.
    this.#worker.postMessage(message, [
      encoded.bytes.buffer as ArrayBuffer,
      encoded.ends.buffer as ArrayBuffer,
    ]);
    return acked;
  }

  /** Disconnects the producer (at most `timeoutMs`) and ends the worker. */
  async close(timeoutMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#closed = resolve);
    this.#worker.postMessage({ type: "close" } satisfies ToWorker);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([closed, new Promise((r) => timer = setTimeout(r, timeoutMs))]);
    clearTimeout(timer);
    this.#worker.terminate();
  }
}

/**
 * The client options a worker gets: all but the logger, with only the security fields of
 * `security` (which may be a whole `PipelineConfig`), so that they cross the worker boundary.
 * Without `security` the worker's `createKafka` reads the same environment as the main thread's.
 */
function workerClientOptions(options: KafkaClientOptions): Omit<KafkaClientOptions, "logger"> {
  const { logger: _, security, ...rest } = options;
  if (security === undefined) return rest;
  const picked: KafkaSecurity = {};
  for (const field of KAFKA_SECURITY_FIELDS) {
    if (security[field] !== undefined) (picked as Record<string, unknown>)[field] = security[field];
  }
  return { ...rest, security: picked };
}

/** The worker's error as an Error of the same name (so `isConnectionError` still applies). */
function workerError(error: WorkerError): Error {
  const e = new Error(error.message);
  e.name = error.name;
  return e;
}

/**
 * Sends every tick of `ticks` through producer workers and resolves once all are acknowledged.
 * Same options and result as {@linkcode produceTicks}; `batchSize` is the most records of one
 * partition per request.
 *
 * @example
 * ```ts ignore
 * import { produceTicksInWorkers } from "./producer_workers.ts";
 * const client = { brokers: ["localhost:9092"] };
 * await produceTicksInWorkers([], { client, topic: "stock_market", workers: 2 });
 * ```
 * @throws {KafkaUnavailableError} when the brokers cannot be reached.
 * @throws {ProducerWorkersError} when the topic does not exist or a worker cannot start.
 */
export async function produceTicksInWorkers(
  ticks: AsyncIterable<Tick> | Iterable<Tick>,
  options: WorkerProduceOptions,
): Promise<ProduceResult> {
  const brokers = options.brokers ?? options.client.brokers;
  const logger = options.client.logger ?? silentLogger;
  const client = workerClientOptions(options.client);
  const batchSize = options.batchSize ?? 1000;
  let workers: ProducerWorker[] = [];
  try {
    const partitions = await topicPartitionCount(
      createKafka({ ...options.client, logger }),
      options.topic,
    );
    if (partitions === undefined) {
      throw new ProducerWorkersError(
        `Topic ${options.topic} does not exist on ${brokers.join(",")}: create it first ` +
          "(`deno task produce` does, or ensureTopic).",
      );
    }
    const count = Math.max(1, Math.min(options.workers ?? DEFAULT_PRODUCER_WORKERS, partitions));
    const init: ToWorker = {
      type: "init",
      client,
      topic: options.topic,
      compression: options.compression ?? "gzip",
    };
    workers = Array.from({ length: count }, () => new ProducerWorker(init, logger));
    await Promise.all(workers.map((w) => w.ready()));
    return await sendAll(ticks, options, workers, partitions, batchSize);
  } catch (error) {
    if (isConnectionError(error)) throw new KafkaUnavailableError(brokers, error);
    throw error;
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

/** The main loop: read, split by partition, encode, hand to the least busy worker, count acks. */
async function sendAll(
  ticks: AsyncIterable<Tick> | Iterable<Tick>,
  options: WorkerProduceOptions,
  workers: ProducerWorker[],
  partitions: number,
  batchSize: number,
): Promise<ProduceResult> {
  const started = performance.now();
  const progress: ProduceProgress = { sent: 0, bytes: 0, elapsedMs: 0 };
  const partitionOf = keyPartitioner(options.topic, partitions);
  const buffered: Tick[][] = Array.from({ length: partitions }, () => []);
  const inFlight: (Promise<void> | undefined)[] = new Array(partitions);
  let failure: Error | undefined;
  let nextId = 0;

  const dispatch = async (partition: number) => {
    const group = buffered[partition];
    buffered[partition] = [];
    // One request per partition in flight: the next starts after the previous is acknowledged.
    await inFlight[partition];
    if (failure) throw failure;
    const encoded = encodeTicks(group);
    // Read before the buffers move to the worker.
    const bytes = encoded.bytes.length;
    const worker = workers.reduce((best, w) => w.inFlight < best.inFlight ? w : best);
    const acked = worker.send(nextId++, partition, encoded).then(
      () => {
        progress.sent += group.length;
        progress.bytes += bytes;
        progress.last = group[group.length - 1];
        progress.elapsedMs = performance.now() - started;
        options.onProgress?.(progress);
      },
      (error: Error) => {
        failure ??= error;
      },
    );
    inFlight[partition] = acked;
  };

  const source = batches(ticks, {
    size: batchSize,
    lingerMs: options.lingerMs ?? 20,
    signal: options.signal,
  });
  for await (const batch of source) {
    for (const tick of batch) buffered[partitionOf(tick.symbol)].push(tick);
    // A short batch means the linger passed or the source ended: send everything buffered.
    const all = batch.length < batchSize;
    for (let p = 0; p < partitions; p++) {
      if (buffered[p].length >= batchSize || (all && buffered[p].length > 0)) await dispatch(p);
    }
    if (failure) throw failure;
  }
  for (let p = 0; p < partitions; p++) if (buffered[p].length > 0) await dispatch(p);
  await Promise.all(inFlight);
  if (failure) throw failure;
  progress.elapsedMs = performance.now() - started;
  return { ...progress, stopped: options.signal?.aborted ?? false };
}
