/**
 * A {@linkcode Store} held in memory, for unit tests and notebooks; it can simulate an outage.
 *
 * @module
 */

import { type Store, type StoredObject, StoreUnavailableError } from "./store.ts";
import { assertStoreKey, assertStorePrefix } from "./layout.ts";

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /** Name shown in the store's URI, `memory://<name>`. @default "lake" */
  name?: string;
}

/** Which store operations {@linkcode MemoryStore.failNext} can make fail. */
export type MemoryStoreOperation = "put" | "get" | "list" | "delete";

/**
 * An in-memory {@linkcode Store}. Bodies are copied on the way in and out, so callers cannot
 * change stored objects by mutating buffers.
 *
 * @example
 * ```ts
 * import { MemoryStore } from "./memory_store.ts";
 * const store = new MemoryStore();
 * await store.put("ticks/a.jsonl", new TextEncoder().encode("{}\n"));
 * store.failNext(1); // the next call throws StoreUnavailableError
 * ```
 */
export class MemoryStore implements Store {
  /** `memory://<name>`. */
  readonly uri: string;
  readonly #objects = new Map<string, Uint8Array>();
  #available = true;
  #failures = 0;
  #failOn: ReadonlySet<MemoryStoreOperation> = new Set(["put", "get", "list", "delete"]);
  #calls = { put: 0, get: 0, list: 0, delete: 0 };

  /** Creates an empty store. */
  constructor(options: MemoryStoreOptions = {}) {
    this.uri = `memory://${options.name ?? "lake"}`;
  }

  /**
   * Makes the next `count` calls (of the given operations, default all) throw
   * {@linkcode StoreUnavailableError}, as a flaky network would.
   */
  failNext(count: number, operations?: readonly MemoryStoreOperation[]): void {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`failNext needs a non-negative integer count, got ${count}.`);
    }
    this.#failures = count;
    this.#failOn = new Set(operations ?? ["put", "get", "list", "delete"]);
  }

  /** Takes the store down (`false`: every call throws {@linkcode StoreUnavailableError}) or back up. */
  setAvailable(available: boolean): void {
    this.#available = available;
  }

  /** How many calls of each operation were made, including failed ones. */
  get calls(): Readonly<Record<MemoryStoreOperation, number>> {
    return { ...this.#calls };
  }

  /** Every key currently stored, sorted. */
  keys(): string[] {
    return [...this.#objects.keys()].sort(compareKeys);
  }

  /** Writes (or overwrites) an object. */
  put(key: string, body: Uint8Array): Promise<void> {
    return this.#run("put", () => {
      assertStoreKey(key);
      if (!(body instanceof Uint8Array)) {
        throw new TypeError(`put("${key}") needs a Uint8Array body, got ${typeof body}.`);
      }
      this.#objects.set(key, body.slice());
    });
  }

  /** Writes an object unless the key is taken; `false` when it was. */
  putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    return this.#run("put", () => {
      assertStoreKey(key);
      if (this.#objects.has(key)) return false;
      this.#objects.set(key, body.slice());
      return true;
    });
  }

  /** Reads an object, or `undefined` when there is none. */
  get(key: string): Promise<Uint8Array | undefined> {
    return this.#run("get", () => {
      assertStoreKey(key);
      return this.#objects.get(key)?.slice();
    });
  }

  /** Lists every object whose key starts with `prefix`, in key order. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    const snapshot = await this.#run("list", () => {
      assertStorePrefix(prefix);
      return [...this.#objects.entries()]
        .filter(([key]) => key.startsWith(prefix))
        .sort(([a], [b]) => compareKeys(a, b))
        .map(([key, body]) => ({ key, size: body.byteLength }));
    });
    yield* snapshot;
  }

  /** Deletes an object; no error when it is already gone. */
  delete(key: string): Promise<void> {
    return this.#run("delete", () => {
      assertStoreKey(key);
      this.#objects.delete(key);
    });
  }

  #run<T>(operation: MemoryStoreOperation, action: () => T): Promise<T> {
    this.#calls[operation]++;
    try {
      if (!this.#available) {
        throw new StoreUnavailableError(
          `Memory store ${this.uri} is unavailable (setAvailable(false)); retry later.`,
        );
      }
      if (this.#failures > 0 && this.#failOn.has(operation)) {
        this.#failures--;
        throw new StoreUnavailableError(
          `Memory store ${this.uri} failed ${operation} on purpose (failNext); retry it.`,
        );
      }
      return Promise.resolve(action());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
