import assert from "node:assert/strict";
import {
  decodeTick,
  encodeTick,
  InvalidTickError,
  type Tick,
  tickProblem,
  utcDate,
} from "./tick.ts";

const good: Tick = {
  symbol: "000001.SS",
  ts: Date.UTC(2021, 4, 31),
  open: 1,
  high: 2,
  low: 0.5,
  close: 1.5,
  adj_close: 1.5,
  volume: 0,
  close_usd: null,
};

Deno.test("a tick survives its wire form unchanged", () => {
  assert.deepEqual(decodeTick(encodeTick(good)), good);
  assert.match(encodeTick(good), /"ts":"2021-05-31T00:00:00.000Z"/);
});

Deno.test("decodeTick accepts epoch milliseconds and missing prices as null", () => {
  const tick = decodeTick(JSON.stringify({ symbol: "X", ts: 0, close: 3 }));
  assert.equal(tick.ts, 0);
  assert.equal(tick.open, null);
  assert.equal(tick.close, 3);
});

Deno.test("decodeTick names what is wrong with a poison message", () => {
  const cases: [string, RegExp][] = [
    ["not json", /not JSON/],
    ["[1,2]", /not a JSON object/],
    ["null", /not a JSON object/],
    [JSON.stringify({ ts: 0, close: 1 }), /symbol must be a string/],
    [JSON.stringify({ symbol: "X", close: 1 }), /ts must be/],
    [JSON.stringify({ symbol: "X", ts: "yesterday", close: 1 }), /not an ISO-8601 date/],
    [JSON.stringify({ symbol: "X", ts: "2021-02-30T00:00:00.000Z", close: 1 }), /not a real date/],
    [JSON.stringify({ symbol: "X", ts: 0, close: "1" }), /close must be a number or null/],
    [JSON.stringify({ symbol: "X", ts: 0, close: -1 }), /close -1 is negative/],
    [JSON.stringify({ symbol: "X", ts: 0, close: 1, high: 1, low: 2 }), /high 1 is below low 2/],
    [JSON.stringify({ symbol: " ", ts: 0, close: 1 }), /empty symbol/],
    [JSON.stringify({ symbol: "X", ts: 0 }), /close is missing/],
    [JSON.stringify({ symbol: "X", ts: Date.UTC(2300, 0, 1), close: 1 }), /outside 1900..2200/],
  ];
  for (const [text, reason] of cases) {
    assert.throws(() => decodeTick(text), (e: unknown) => {
      assert.ok(e instanceof InvalidTickError, text);
      assert.match((e as Error).message, reason, text);
      return true;
    });
  }
});

Deno.test("tickProblem rejects NaN and infinite prices", () => {
  assert.equal(tickProblem({ ...good, open: NaN }), "open is not a number");
  assert.equal(tickProblem({ ...good, volume: Infinity }), "volume is not finite");
  assert.equal(tickProblem(good), undefined);
});

Deno.test("utcDate gives the UTC calendar date", () => {
  assert.equal(utcDate(Date.UTC(2021, 11, 31, 23, 59, 59)), "2021-12-31");
});
