/**
 * Where the ingest job splits fetched batches into ticks and poison ({@linkcode splitPacked}):
 * on the consumer's own thread ({@linkcode inlineSplitter}) or in a worker of its own
 * ({@linkcode WorkerSplitter}, what `consumeToLake` uses by default).
 *
 * The lake consumer is CPU-bound on one JavaScript thread. Reading the ticks out of the JSON
 * values is the largest share of its work after kafkajs' own; a worker does it on the second
 * core while the consumer thread fetches, inflates and decodes the next batch. The split is pure,
 * so either place gives the same rows (`splitter_test.ts`).
 *
 * @module
 */

import { type PackedBatch, type SplitBatch, splitPacked } from "./split.ts";
import type { SplitReply, SplitRequest } from "./split_worker.ts";

/** Splits packed batches. */
export interface Splitter {
  /**
   * A buffer of `size` bytes for a packed batch's values, for {@linkcode packBatch}: a worker's
   * splitter hands back the buffers of the batches it split, so the next batches reuse them.
   */
  allocate(size: number): Uint8Array;
  /** The ticks and poison of `packed` (which the splitter may take over: do not use it after). */
  split(packed: PackedBatch): Promise<SplitBatch>;
  /** Stops what the splitter runs (its worker); splits still pending fail. */
  close(): void;
}

/**
 * Splits on the caller's thread.
 *
 * @example
 * ```ts
 * import { inlineSplitter } from "./splitter.ts";
 * import { packBatch } from "./split.ts";
 * const { rows } = await inlineSplitter.split(packBatch([]));
 * rows.length; // 0
 * ```
 */
export const inlineSplitter: Splitter = {
  allocate: (size) => new Uint8Array(size),
  split: (packed) => {
    try {
      return Promise.resolve(splitPacked(packed));
    } catch (error) {
      return Promise.reject(error);
    }
  },
  close: () => {},
};

/** Raised when the split worker failed or was closed; says what to do. */
export class SplitWorkerError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SplitWorkerError";
  }
}

const WORKER_URL = new URL("./split_worker.ts", import.meta.url).href;
/** Value buffers kept for reuse: one per partition waiting, and then some. */
const SPARE_BUFFERS = 4;
/** Value buffers larger than this are not kept (a rare huge batch does not pin its memory). */
const MAX_SPARE_BYTES = 64 * 2 ** 20;
/** New value buffers are whole MiBs, so that a later batch a little larger reuses them too. */
const roundUp = (size: number) => Math.ceil(Math.max(size, 1) / 2 ** 20) * 2 ** 20;

/**
 * Splits in a Deno Worker (started at the first split). The packed batch is transferred to it and
 * the rows come back without a copy; only the symbol strings are copied.
 * {@linkcode WorkerSplitter.close} must be called: an idle worker keeps the process alive.
 *
 * @example
 * ```ts
 * import { WorkerSplitter } from "./splitter.ts";
 * import { packBatch } from "./split.ts";
 * const splitter = new WorkerSplitter();
 * try {
 *   const { rows } = await splitter.split(packBatch([]));
 *   rows.length; // 0
 * } finally {
 *   splitter.close();
 * }
 * ```
 */
export class WorkerSplitter implements Splitter {
  #worker?: Worker;
  #closed = false;
  /** One string per symbol across batches, so buffered rows share them. */
  readonly #symbols = new Map<string, string>();
  #nextId = 0;
  /** Value buffers the worker handed back, for the next batches (at most {@linkcode SPARE_BUFFERS}). */
  readonly #spare: ArrayBuffer[] = [];
  readonly #pending = new Map<
    number,
    { resolve: (split: SplitBatch) => void; reject: (error: Error) => void }
  >();

  /** A value buffer the worker handed back, when one is large enough; else a new one. */
  allocate(size: number): Uint8Array {
    // The smallest that fits: a small batch leaves the large buffers to the large ones.
    let at = -1;
    this.#spare.forEach((buffer, i) => {
      if (buffer.byteLength >= size && (at < 0 || buffer.byteLength < this.#spare[at].byteLength)) {
        at = i;
      }
    });
    if (at < 0) return new Uint8Array(new ArrayBuffer(roundUp(size)), 0, size);
    const [buffer] = this.#spare.splice(at, 1);
    return new Uint8Array(buffer, 0, size);
  }

  /** Splits `packed` in the worker; its arrays are transferred (unusable here afterwards). */
  split(packed: PackedBatch): Promise<SplitBatch> {
    if (this.#closed) {
      return Promise.reject(new SplitWorkerError("The splitter was closed; make a new one."));
    }
    const worker = this.#worker ??= this.#start();
    const id = this.#nextId++;
    const arrays = [packed.bytes, packed.ends, packed.nulls, packed.offsets, packed.timestamps];
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.postMessage(
        { id, packed } satisfies SplitRequest,
        arrays.map((a) => a.buffer as ArrayBuffer),
      );
    });
  }

  /** Stops the worker; pending splits fail with {@linkcode SplitWorkerError}. */
  close(): void {
    this.#closed = true;
    this.#stop(new SplitWorkerError("The splitter was closed while splitting."));
  }

  /** Keeps a buffer handed back; a full pool trades its smallest for a larger one. */
  #keep(buffer: ArrayBuffer): void {
    if (buffer.byteLength < roundUp(1) || buffer.byteLength > MAX_SPARE_BYTES) return;
    if (this.#spare.length < SPARE_BUFFERS) {
      this.#spare.push(buffer);
      return;
    }
    const smallest = this.#spare.reduce(
      (s, b, i) => b.byteLength < this.#spare[s].byteLength ? i : s,
      0,
    );
    if (this.#spare[smallest].byteLength < buffer.byteLength) this.#spare[smallest] = buffer;
  }

  #intern(symbol: string): string {
    const known = this.#symbols.get(symbol);
    if (known !== undefined) return known;
    if (this.#symbols.size >= 10_000) this.#symbols.clear(); // a bound, for endless symbols
    this.#symbols.set(symbol, symbol);
    return symbol;
  }

  #start(): Worker {
    const worker = new Worker(WORKER_URL, { type: "module" });
    worker.onmessage = ({ data }: MessageEvent<SplitReply>) => {
      const pending = this.#pending.get(data.id);
      if (!pending) return;
      this.#pending.delete(data.id);
      if (data.spare) this.#keep(data.spare);
      if ("split" in data) {
        const symbols = data.symbols.map((symbol) => this.#intern(symbol));
        data.split.rows.symbols = Array.from(data.codes, (code) => symbols[code]);
        pending.resolve(data.split);
      } else {pending.reject(
          new SplitWorkerError(`Splitting a fetched batch failed: ${data.error}`),
        );}
    };
    worker.onerror = (event) => {
      event.preventDefault();
      // The splits under way fail (their batches are fetched again); the next starts a new worker.
      this.#stop(new SplitWorkerError(`The split worker crashed: ${event.message}`));
    };
    return worker;
  }

  #stop(error: SplitWorkerError): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }
}
