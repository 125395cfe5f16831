import assert from "node:assert/strict";
import { LocalQueryError } from "../query/local.ts";
import { lakeTestPython, tempLake } from "../testing/lake.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import { benchQuery, compareResults, QueryBenchError } from "./query.ts";

Deno.test("benchQuery times monthly OHLC in Polars and DuckDB's own SQL, which agree value by value", async () => {
  await using lake = await tempLake();
  const ticks = sampleTicks({ days: 75 });
  await writeTestLake(lake.store, ticks);
  const figure = await benchQuery({ lakeDir: lake.dir, python: lakeTestPython(), runs: 2 });
  assert.equal(figure.rows, ticks.length);
  assert.equal(figure.groups, 3 * 3); // 3 symbols × Jan, Feb, Mar 2021
  assert.equal(figure.runs, 2);
  assert.ok(figure.polarsMs > 0 && figure.duckdbMs > 0);
  assert.equal(figure.ratio, figure.polarsMs / figure.duckdbMs);
  assert.equal(figure.valuesCompared, 9 * 8);
  assert.equal(figure.polarsRuns.length, 2);
  assert.ok(figure.polarsPlainMs > 0 && figure.duckdbPlainMs > 0);
});

Deno.test("compareResults names the first value the engines disagree on", () => {
  const polars = [{
    symbol: "A",
    period: "2021-01-01",
    open: 1,
    high: 2,
    low: 0.5,
    close: 1.5,
    volume: 10n,
    bars: 2,
  }];
  assert.equal(compareResults(polars, [["A", "2021-01-01", 1, 2, 0.5, 1.5, 10, 2]]), 8);
  assert.throws(
    () => compareResults(polars, [["A", "2021-01-01", 1, 2, 0.5, 1.6, 10, 2]]),
    (error: Error) =>
      error instanceof QueryBenchError && /row 0 \(A 2021-01-01\), close/.test(error.message),
  );
  assert.throws(() => compareResults(polars, []), /Polars returned 1 symbol-months, DuckDB 0/);
});

Deno.test("benchQuery on an empty lake says how to fill it", async () => {
  await using lake = await tempLake();
  await assert.rejects(
    benchQuery({ lakeDir: lake.dir, python: lakeTestPython() }),
    (error: Error) => error instanceof LocalQueryError && /deno task consume/.test(error.message),
  );
});

Deno.test("benchQuery with a Python lacking duckdb or missing says what to do", async () => {
  await using lake = await tempLake();
  await writeTestLake(lake.store, sampleTicks({ days: 5 }));
  await assert.rejects(
    benchQuery({ lakeDir: lake.dir, python: "/nonexistent/python" }),
    (error: Error) => error instanceof QueryBenchError && /deno task up/.test(error.message),
  );
  await assert.rejects(
    benchQuery({ lakeDir: lake.dir, python: lakeTestPython(), runs: 0 }),
    /at least 1/,
  );
});
