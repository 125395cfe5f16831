import assert from "node:assert/strict";
import { benchCsv, csvParseTicks } from "./csv.ts";
import type { Reject } from "../source/rejects.ts";

const CSV = "Date,Symbol,Close\n2021-05-31,HSI,1.5\n2021-06-01,HSI,NaN\n\n2021-06-02,HSI,2\n";

Deno.test("csv-parse reader yields the same ticks and rejects bad rows with their line", async () => {
  const rejects: Reject[] = [];
  const ticks = [];
  const chunks = [new TextEncoder().encode(CSV)];
  for await (
    const tick of csvParseTicks(chunks, {
      file: "x.csv",
      onReject: (r) => rejects.push(r),
    })
  ) {
    ticks.push(tick);
  }
  assert.deepEqual(ticks.map((t) => t.close), [1.5, 2]);
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0].line, 3);
  assert.equal(rejects[0].raw, "2021-06-01,HSI,NaN");
  assert.match(rejects[0].reason, /close "NaN" is not a number/);
});

Deno.test("benchCsv times both readers on a file and reports medians", async () => {
  const file = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(file, CSV);
    const figure = await benchCsv({ file, repeats: 3, chunkBytes: 7 });
    assert.equal(figure.rows, 2);
    assert.equal(figure.runs.ours.length, 3);
    assert.ok(figure.oursRowsPerSec > 0 && figure.csvParseRowsPerSec > 0);
  } finally {
    await Deno.remove(file);
  }
});
