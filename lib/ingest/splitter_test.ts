import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { benchTicks } from "../bench/data.ts";
import { tickJson } from "../kafka/tick_batch.ts";
import { columnsToTicks } from "../lake/tick_rows.ts";
import { type FetchedMessage, packBatch, splitPacked } from "./split.ts";
import { inlineSplitter, SplitWorkerError, WorkerSplitter } from "./splitter.ts";
import { dictionaryOf } from "./split_worker.ts";

/** 2,000 bench ticks with a poison message every 97th. */
function messages(): FetchedMessage[] {
  return [...benchTicks(2000)].map((tick, i) => ({
    offset: String(5000 + i),
    key: Buffer.from(tick.symbol),
    value: i % 97 === 0 ? Buffer.from(`{"symbol":"${tick.symbol}"`) : Buffer.from(tickJson(tick)),
    timestamp: String(1_700_000_000_000 + i),
  }));
}

Deno.test("the split worker gives the same rows and poison as the split on this thread", async () => {
  const expected = splitPacked(packBatch(messages()));
  const splitter = new WorkerSplitter();
  try {
    // Several at once, as the consumer hands them on: each answer goes to its own request.
    const splits = await Promise.all([0, 1, 2].map(() => splitter.split(packBatch(messages()))));
    for (const split of splits) {
      assert.deepEqual(columnsToTicks(split.rows), columnsToTicks(expected.rows));
      assert.deepEqual(split.rows.offsets, expected.rows.offsets);
      assert.deepEqual(split.rows.ingest, expected.rows.ingest);
      assert.deepEqual(split.rows.sizes, expected.rows.sizes);
      assert.deepEqual(split.poison, expected.poison);
      assert.deepEqual(split.last, expected.last);
    }
    assert.equal(expected.poison.length, 21);
    assert.match(expected.poison[0].reason, /JSON/);
  } finally {
    splitter.close();
  }
});

Deno.test("the split worker hands the values' buffers back, and batches packed into them split alike", async () => {
  const splitter = new WorkerSplitter();
  try {
    const all = messages();
    let handedBack = 0;
    // Batches of different sizes, one after the other, each packed into a buffer handed back.
    for (const size of [2000, 7, 1500, 0, 2000, 300]) {
      const batch = all.slice(0, size);
      const packed = packBatch(batch, (n) => {
        const bytes = splitter.allocate(n);
        // A buffer handed back still holds the last batch's values: packBatch overwrites them.
        if (n > 0 && bytes.some((byte) => byte !== 0)) handedBack++;
        return bytes;
      });
      const split = await splitter.split(packed);
      assert.equal(packed.bytes.byteLength, 0, "transferred to the worker");
      const expected = splitPacked(packBatch(batch));
      assert.deepEqual(columnsToTicks(split.rows), columnsToTicks(expected.rows), `${size}`);
      assert.deepEqual(split.poison, expected.poison, `${size}`);
    }
    assert.equal(handedBack, 4, "every batch after the first reused the buffer handed back");
  } finally {
    splitter.close();
  }
});

Deno.test("the inline splitter is the split on this thread", async () => {
  const split = await inlineSplitter.split(packBatch(messages()));
  assert.deepEqual(split, splitPacked(packBatch(messages())));
});

Deno.test("a closed split worker refuses work and fails what was pending, saying so", async () => {
  const splitter = new WorkerSplitter();
  const pending = splitter.split(packBatch(messages()));
  splitter.close();
  await assert.rejects(pending, SplitWorkerError);
  await assert.rejects(splitter.split(packBatch([])), /closed; make a new one/);
});

Deno.test("symbols travel from the split worker as a dictionary and a code per row", () => {
  const { symbols, codes } = dictionaryOf(["NYA", "HSI", "NYA", "N225", "HSI"]);
  assert.deepEqual(symbols, ["NYA", "HSI", "N225"]);
  assert.deepEqual([...codes], [0, 1, 0, 2, 1]);
  assert.deepEqual(dictionaryOf([]).symbols, []);
  const many = Array.from({ length: 65_537 }, (_, i) => `S${i}`);
  assert.throws(() => dictionaryOf(many), /more than 65,536 symbols/);
  assert.equal(dictionaryOf(many.slice(1)).codes.at(-1), 65_535);
});
