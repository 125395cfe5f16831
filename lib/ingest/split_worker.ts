/**
 * The inside of the split worker ({@linkcode ./splitter.ts} starts it as a Deno Worker): splits
 * each packed batch it is sent ({@linkcode splitPacked}) and transfers the rows back.
 *
 * @module
 */

import { type PackedBatch, type SplitBatch, splitPacked } from "./split.ts";
import { workerScope } from "../worker_scope.ts";

/** Main thread → worker: one packed batch to split. */
export interface SplitRequest {
  /** Matches the reply to the request. */
  id: number;
  /** The batch (transferred). */
  packed: PackedBatch;
}

/**
 * Worker → main thread: the split batch, or why it could not be split. The rows' symbols travel
 * as a dictionary and one code per row (a batch has a handful of distinct symbols): fewer strings
 * for the main thread to make, and one string per symbol in the rows it buffers.
 */
export type SplitReply =
  | { id: number; split: SplitBatch; symbols: string[]; codes: Uint16Array; spare?: ArrayBuffer }
  | { id: number; error: string; spare?: ArrayBuffer };

/** The worker's side of the messages, so that a test can drive it without a Worker. */
export interface SplitScope {
  postMessage(message: SplitReply, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<SplitRequest>) => void) | null;
}

/** Answers each request on `scope` with its split batch, the row columns transferred. */
export function serveSplits(scope: SplitScope): void {
  scope.onmessage = ({ data: { id, packed } }) => {
    let split: SplitBatch;
    try {
      split = splitPacked(packed);
    } catch (error) {
      const spare = packed.bytes.buffer as ArrayBuffer;
      scope.postMessage(
        { id, error: error instanceof Error ? error.message : String(error), spare },
        [spare],
      );
      return;
    }
    const { rows } = split;
    const { symbols, codes } = dictionaryOf(rows.symbols);
    const columns = [rows.times, rows.offsets, rows.ingest, rows.sizes, ...rows.prices];
    const transfer = [...columns, ...rows.defined, codes].map((a) => a.buffer as ArrayBuffer);
    // The values' buffer goes back for the next batch (the rows hold nothing of it).
    const spare = packed.bytes.buffer as ArrayBuffer;
    scope.postMessage(
      { id, split: { ...split, rows: { ...rows, symbols: [] } }, symbols, codes, spare },
      [...transfer, spare],
    );
  };
}

/** The distinct strings of `values` and each value's index among them (at most 65,536 distinct). */
export function dictionaryOf(values: readonly string[]): { symbols: string[]; codes: Uint16Array } {
  const index = new Map<string, number>();
  const symbols: string[] = [];
  const codes = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let code = index.get(values[i]);
    if (code === undefined) {
      if (symbols.length === 65_536) throw new RangeError("more than 65,536 symbols in one batch");
      index.set(values[i], code = symbols.length);
      symbols.push(values[i]);
    }
    codes[i] = code;
  }
  return { symbols, codes };
}

const scope = workerScope<SplitScope>();
if (scope) serveSplits(scope);
