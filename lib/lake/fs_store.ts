/**
 * A {@linkcode Store} over a local folder: the embedded default lake (`./lake`).
 *
 * @module
 */

import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Store, StoredObject } from "./store.ts";
import { assertStoreKey, assertStorePrefix } from "./layout.ts";

/** Raised when the lake folder cannot be used (permissions, a file where a folder should be). */
export class FsStoreError extends Error {
  /** False: retrying will not help until someone fixes the folder. */
  readonly retriable = false;
  /** Creates the error, keeping the underlying cause. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FsStoreError";
  }
}

/** Options of {@linkcode FsStore}. */
export interface FsStoreOptions {
  /**
   * Flush each object and its folder to disk before `put` resolves, so a crash cannot leave a
   * committed offset pointing at a lost object. Turn off only for throwaway lakes. @default true
   */
  fsync?: boolean;
  /**
   * Flushes a folder's entries to disk (with `fsync`). Replaceable so that tests can see which
   * folders are flushed. @default an fsync of the opened folder
   */
  syncFolder?: (path: string) => Promise<void>;
}

const TEMP_PATTERN = /^\..+\.[0-9a-f]{16}\.tmp$/;
/** Folders remembered as existing (a day-partitioned century is ~37k). */
const MAX_KNOWN_FOLDERS = 100_000;

/**
 * A {@linkcode Store} over a folder. `put` writes a hidden temp file in the object's folder,
 * flushes it and renames it into place, so readers see the whole object or none. Listings skip
 * those temp files.
 *
 * @example
 * ```ts
 * import { FsStore } from "./fs_store.ts";
 * const store = new FsStore("./lake");
 * await store.put("ticks/dt=2021-05-31/x.jsonl", new TextEncoder().encode("{}\n"));
 * for await (const { key, size } of store.list("ticks/")) console.log(key, size);
 * ```
 */
export class FsStore implements Store {
  /** The lake folder, as an absolute path. */
  readonly uri: string;
  readonly #fsync: boolean;
  readonly #syncFolder: (path: string) => Promise<void>;
  /** Folders this store has made or found, so a put skips its `mkdir` (one op of seven). */
  readonly #folders = new Set<string>();

  /** Creates a store rooted at `root` (created on the first `put`). */
  constructor(root: string, options: FsStoreOptions = {}) {
    if (typeof root !== "string" || root.trim() === "") {
      throw new FsStoreError('FsStore needs a folder path, e.g. new FsStore("./lake").');
    }
    this.uri = resolve(root);
    this.#fsync = options.fsync ?? true;
    this.#syncFolder = options.syncFolder ?? syncDir;
  }

  /** Writes (or overwrites) an object atomically; resolves once it is on disk. */
  async put(key: string, body: Uint8Array): Promise<void> {
    await this.#write(key, body, (temp, path) => Deno.rename(temp, path));
  }

  /**
   * Writes an object unless the key is taken, atomically: the complete file is hard-linked into
   * place, and `link` fails when the name exists, so of two racing writers exactly one wins.
   */
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    let written = false;
    await this.#write(key, body, async (temp, path) => {
      try {
        await Deno.link(temp, path);
        written = true;
      } catch (cause) {
        if (!(cause instanceof Deno.errors.AlreadyExists)) throw cause;
      }
      await Deno.remove(temp);
    });
    return written;
  }

  /** Writes `body` to a synced temp file beside the key's path, then lets `place` move it in. */
  async #write(
    key: string,
    body: Uint8Array,
    place: (temp: string, path: string) => Promise<void>,
  ): Promise<void> {
    const path = this.#path(key);
    const dir = dirname(path);
    const temp = join(dir, `.${path.slice(dir.length + 1)}.${randomHex()}.tmp`);
    try {
      const file = await this.#create(dir, temp);
      try {
        let written = 0;
        while (written < body.byteLength) written += await file.write(body.subarray(written));
        // fdatasync: the data and the size, all a reader needs, without the timestamps.
        if (this.#fsync) await file.syncData();
      } finally {
        file.close();
      }
      await place(temp, path);
      if (this.#fsync) await this.#syncFolder(dir);
    } catch (cause) {
      await Deno.remove(temp).catch(() => {});
      throw this.#error("write", key, cause);
    }
  }

  /**
   * Creates `temp` in `dir`, making the folder first when this store has not seen it, or when it
   * has since been removed. With `fsync`, the entry of every folder not seen before is flushed in
   * its parent (up to the lake folder itself), once: a new `dt=` folder whose object was reported
   * durable must not vanish in a crash, taking the object with it.
   */
  async #create(dir: string, temp: string): Promise<Deno.FsFile> {
    const open = () => Deno.open(temp, { write: true, createNew: true });
    if (this.#folders.has(dir)) {
      try {
        return await open();
      } catch (cause) {
        if (!(cause instanceof Deno.errors.NotFound)) throw cause;
        // Removed behind this store's back: any folder on the way up may have gone with it.
        for (let f = dir; f !== dirname(this.uri); f = dirname(f)) this.#folders.delete(f);
      }
    }
    await Deno.mkdir(dir, { recursive: true });
    // The folders on the way up that this store has not seen: any of them may be new. A folder
    // made by a racing writer is flushed here too, so no put resolves before its folder's entry
    // is on disk.
    const unseen: string[] = [];
    for (
      let folder = dir;
      !this.#folders.has(folder) && folder !== dirname(this.uri);
      folder = dirname(folder)
    ) unseen.push(folder);
    if (this.#fsync) {
      for (const folder of unseen) await this.#syncFolder(dirname(folder));
    }
    if (this.#folders.size + unseen.length > MAX_KNOWN_FOLDERS) this.#folders.clear();
    for (const folder of unseen) this.#folders.add(folder);
    return await open();
  }

  /** Reads an object, or `undefined` when there is none. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const path = this.#path(key);
    try {
      return await Deno.readFile(path);
    } catch (cause) {
      if (cause instanceof Deno.errors.NotFound) return undefined;
      throw this.#error("read", key, cause);
    }
  }

  /** Lists every object whose key starts with `prefix`, in key order; skips in-flight temp files. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    assertStorePrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const start = slash < 0 ? "" : prefix.slice(0, slash);
    const found: StoredObject[] = [];
    try {
      await this.#walk(start, prefix, found);
    } catch (cause) {
      throw this.#error("list", prefix, cause);
    }
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* found;
  }

  /** Deletes an object; no error when it is already gone. */
  async delete(key: string): Promise<void> {
    const path = this.#path(key);
    try {
      await Deno.remove(path);
    } catch (cause) {
      if (cause instanceof Deno.errors.NotFound) return;
      throw this.#error("delete", key, cause);
    }
  }

  async #walk(dirKey: string, prefix: string, found: StoredObject[]): Promise<void> {
    const dir = dirKey === "" ? this.uri : join(this.uri, ...dirKey.split("/"));
    let entries: AsyncIterable<Deno.DirEntry>;
    try {
      entries = Deno.readDir(dir);
      for await (const entry of entries) {
        const key = dirKey === "" ? entry.name : `${dirKey}/${entry.name}`;
        if (entry.isDirectory) {
          // Descend only where keys can still match the prefix.
          if (prefix.startsWith(`${key}/`) || key.startsWith(prefix)) {
            await this.#walk(key, prefix, found);
          }
        } else if (entry.isFile && key.startsWith(prefix) && !TEMP_PATTERN.test(entry.name)) {
          const size = await sizeOf(join(dir, entry.name));
          if (size !== undefined) found.push({ key, size });
        }
      }
    } catch (cause) {
      // The folder itself is gone (or became a file): it holds nothing.
      if (cause instanceof Deno.errors.NotFound || cause instanceof Deno.errors.NotADirectory) {
        return;
      }
      throw cause;
    }
  }

  #path(key: string): string {
    assertStoreKey(key);
    const path = join(this.uri, ...key.split("/"));
    const rel = relative(this.uri, path);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel) || rel.includes(`..${sep}`)) {
      throw new FsStoreError(`Key "${key}" escapes the lake folder ${this.uri}.`);
    }
    return path;
  }

  #error(action: string, key: string, cause: unknown): Error {
    if (cause instanceof FsStoreError) return cause;
    const reason = cause instanceof Error ? cause.message : String(cause);
    let advice = "check the lake folder and the disk";
    if (cause instanceof Deno.errors.PermissionDenied) {
      advice = "make the lake folder writable by this user or choose another with --lake";
    } else if (
      cause instanceof Deno.errors.NotADirectory || cause instanceof Deno.errors.AlreadyExists
    ) {
      advice = "a file stands where the lake expects a folder; move it away";
    } else if (cause instanceof Deno.errors.IsADirectory) {
      advice = "a folder stands where the lake expects an object; move it away";
    }
    return new FsStoreError(
      `Cannot ${action} "${key}" in lake folder ${this.uri}: ${reason}; ${advice}.`,
      { cause },
    );
  }
}

/**
 * The size of a listed file, or `undefined` when it was deleted since the folder was read (a
 * compaction's cleanup deletes while queries list): skip it, keep listing the folder.
 */
async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await Deno.stat(path)).size;
  } catch (cause) {
    if (cause instanceof Deno.errors.NotFound) return undefined;
    throw cause;
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

function randomHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
