/**
 * Where lake objects live: one interface over a local folder and S3. Keys are relative to the lake
 * root and always use `/`.
 *
 * @module
 */

/** One object listed by {@linkcode Store.list}. */
export interface StoredObject {
  /** Key relative to the lake root, e.g. `ticks/dt=2021-05-31/stock_market+0+00000000000000000000.parquet`. */
  key: string;
  /** Size in bytes. */
  size: number;
}

/** An object store holding the lake. Writes are atomic: a reader sees the whole object or none. */
export interface Store {
  /** The lake root this store writes under: a folder path or `s3://bucket/prefix`. */
  readonly uri: string;
  /** Writes (or overwrites) an object; resolves only once it is durable. */
  put(key: string, body: Uint8Array): Promise<void>;
  /**
   * Writes an object only if no object has this key yet, atomically: of two writers racing for
   * one key exactly one wins. Resolves `true` when this call wrote it, `false` when the key was
   * taken. The sink's checkpoint log fences zombie writers with it.
   */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean>;
  /** Reads an object, or `undefined` when there is none. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Lists every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Deletes an object; no error when it is already gone. */
  delete(key: string): Promise<void>;
}

/** Raised by a store for a failure that may pass (network, 5xx, throttling): the sink retries it. */
export class StoreUnavailableError extends Error {
  /** Always true: the caller should back off and try again. */
  readonly retriable = true;
  /** Creates the error, keeping the underlying cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}
