import assert from "node:assert/strict";
import { formatResult } from "./format.ts";
import type { QueryResult } from "./result.ts";

const RESULT: QueryResult = {
  engine: "local",
  sql: "SELECT …",
  stats: { elapsedMs: 1 },
  columns: [
    { name: "symbol", type: "string" },
    { name: "ts", type: "timestamp" },
    { name: "close", type: "double" },
  ],
  rows: [
    { symbol: 'A,"B"', ts: new Date(Date.UTC(2021, 4, 31)), close: 0.1 + 0.2 },
    { symbol: "N225", ts: null, close: null },
  ],
};

Deno.test("csv quotes fields with commas and quotes, writes ISO times and empty nulls", () => {
  assert.equal(
    formatResult(RESULT, "csv"),
    'symbol,ts,close\n"A,""B""",2021-05-31T00:00:00.000Z,0.30000000000000004\nN225,,\n',
  );
});

Deno.test("json keeps nulls and numbers exact, times as ISO strings", () => {
  assert.deepEqual(JSON.parse(formatResult(RESULT, "json")), [
    { symbol: 'A,"B"', ts: "2021-05-31T00:00:00.000Z", close: 0.30000000000000004 },
    { symbol: "N225", ts: null, close: null },
  ]);
});

Deno.test("table aligns columns, right-aligns numbers, shows NULL and the row count", () => {
  const lines = formatResult(RESULT, "table").trimEnd().split("\n");
  assert.equal(lines[0], "symbol  ts                                      close");
  assert.equal(lines[1], `${"-".repeat(6)}  ${"-".repeat(24)}  ${"-".repeat(19)}`);
  assert.equal(lines[3], "N225    NULL                                     NULL");
  assert.equal(lines.at(-1), "(2 rows)");
});

Deno.test("an unknown output format is refused with the accepted ones", () => {
  assert.throws(() => formatResult(RESULT, "xml" as never), /use table, csv, json/);
});
