/**
 * What the transform remembers between runs, one small JSON object per curated table in the lake
 * (`_transform/<table>/state.json`, outside every table so no reader or crawler sees it): for each
 * `dt` the fingerprint of the input objects it was built from and a digest of what it wrote.
 *
 * @module
 */

import type { Store, StoredObject } from "../lake/store.ts";

/** What was built for one partition. */
export interface PartitionState {
  /** {@linkcode fingerprint} of the input objects (keys and sizes). */
  inputs: string;
  /** SHA-256 of the object written. */
  output: string;
  /** Rows written. */
  rows: number;
}

/** The state of one curated table. */
export interface TransformState {
  /** Format of this document. */
  version: 1;
  /** The curated table. */
  table: string;
  /** Per `dt` partition (or `""` for an unpartitioned table), what it was built from. */
  partitions: Record<string, PartitionState>;
}

/** The key of a table's state object. */
export function stateKey(table: string): string {
  return `_transform/${table}/state.json`;
}

/** Raised when a state object cannot be read; the message says how to start over. */
export class TransformStateError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransformStateError";
  }
}

/** Reads a table's state; an empty state when there is none yet. */
export async function readState(store: Store, table: string): Promise<TransformState> {
  const bytes = await store.get(stateKey(table));
  if (!bytes) return { version: 1, table, partitions: {} };
  try {
    const state = JSON.parse(new TextDecoder().decode(bytes)) as TransformState;
    if (state.version !== 1 || typeof state.partitions !== "object") {
      throw new Error("unknown shape");
    }
    return state;
  } catch (cause) {
    throw new TransformStateError(
      `The transform state "${stateKey(table)}" in ${store.uri} cannot be read ` +
        `(${(cause as Error).message}): delete it and run \`deno task transform --full\`.`,
      { cause },
    );
  }
}

/** The state as stored: partitions in key order, so the same state gives the same bytes. */
export function encodeState(state: TransformState): Uint8Array {
  const partitions = Object.fromEntries(
    Object.entries(state.partitions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return new TextEncoder().encode(
    JSON.stringify({ version: 1, table: state.table, partitions }, null, 1) + "\n",
  );
}

/** Writes the state when it differs from what is stored; `true` when it wrote. */
export async function writeState(store: Store, state: TransformState): Promise<boolean> {
  const body = encodeState(state);
  const current = await store.get(stateKey(state.table));
  if (current && new TextDecoder().decode(current) === new TextDecoder().decode(body)) return false;
  await store.put(stateKey(state.table), body);
  return true;
}

/** SHA-256 of bytes or text, as hex. */
export async function sha256(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The fingerprint of a partition's input objects: SHA-256 of their sorted keys and sizes. New,
 * removed, replaced (other size) or compacted objects change it; the sink's replays, which put the
 * same bytes under the same keys, do not.
 */
export async function fingerprint(objects: readonly StoredObject[]): Promise<string> {
  const lines = objects.map((o) => `${o.key}\t${o.size}`).sort();
  return await sha256(lines.join("\n"));
}
