import assert from "node:assert/strict";
import type { DisplayBundle } from "./display.ts";
import {
  candlestickChart,
  type ChartBundle,
  ChartError,
  priceLinesChart,
  VEGA_LITE_MIME,
  volumeChart,
} from "./charts.ts";

/** The spec as plain JSON, as Jupyter receives it. */
function specOf(chart: ChartBundle) {
  return JSON.parse(JSON.stringify(chart[VEGA_LITE_MIME]));
}

const closes = [
  { symbol: "NYA", ts: new Date("2021-01-05T00:00:00Z"), close: 110 },
  { symbol: "NYA", ts: new Date("2021-01-04T00:00:00Z"), close: 100 },
  { symbol: "HSI", ts: new Date("2021-01-04T00:00:00Z"), close: 20 },
  { symbol: "HSI", ts: new Date("2021-01-05T00:00:00Z"), close: 30 },
  { symbol: "HSI", ts: new Date("2021-01-06T00:00:00Z"), close: null },
];

Deno.test("price lines rebase each symbol to 100 at its first bar, in time order", () => {
  const chart = priceLinesChart(closes);
  const spec = specOf(chart);
  assert.equal(spec.$schema, "https://vega.github.io/schema/vega-lite/v5.json");
  assert.equal(spec.encoding.y.field, "rebased");
  assert.equal(spec.encoding.color.field, "symbol");
  assert.deepEqual(spec.data.values, [
    { symbol: "HSI", ts: "2021-01-04T00:00:00.000Z", close: 20, rebased: 100 },
    { symbol: "HSI", ts: "2021-01-05T00:00:00.000Z", close: 30, rebased: 150 },
    { symbol: "NYA", ts: "2021-01-04T00:00:00.000Z", close: 100, rebased: 100 },
    { symbol: "NYA", ts: "2021-01-05T00:00:00.000Z", close: 110, rebased: 110.00000000000001 },
  ]);
  assert.match(chart["text/plain"], /2 symbols \(HSI, NYA\), 4 points/);
  const plain = specOf(priceLinesChart(closes, { rebase: false, title: "t" }));
  assert.equal(plain.encoding.y.field, "close");
  assert.equal(plain.title, "t");
});

Deno.test("a chart is a MIME bundle that the kernel displays and JSON keeps without extras", () => {
  const chart = priceLinesChart(closes);
  const json = JSON.parse(JSON.stringify(chart));
  assert.deepEqual(Object.keys(json).sort(), [VEGA_LITE_MIME, "text/plain"].sort());
  const render = (chart as unknown as Record<symbol, () => DisplayBundle>)[
    Symbol.for("Jupyter.display")
  ];
  assert.equal(typeof render, "function");
  assert.deepEqual(Object.keys(render()).sort(), [VEGA_LITE_MIME, "text/plain"].sort());
});

Deno.test("charts refuse empty rows and rows without the columns they draw, saying which", () => {
  assert.throws(() => priceLinesChart([]), (e: Error) => {
    assert.ok(e instanceof ChartError);
    assert.match(e.message, /no rows.*01_kafka_producer\.ipynb/);
    return true;
  });
  assert.throws(
    () => priceLinesChart([{ symbol: "A", ts: 1 }]),
    /no "close" column \(they have symbol, ts\)/,
  );
  assert.throws(
    () => candlestickChart([{ symbol: "A", period: "2021-01-01", close: 1 }]),
    /no "open", "high", "low" column.*ohlc analysis/,
  );
  assert.throws(() => volumeChart([{ symbol: "A", period: "2021-01-01" }]), /no "volume" column/);
});

const ohlc = [
  { symbol: "NYA", period: "2021-01-01", open: 10, high: 12, low: 9, close: 11, volume: 5 },
  { symbol: "NYA", period: "2021-02-01", open: 11, high: 11, low: 8, close: 9, volume: 6 },
  { symbol: "HSI", period: "2021-01-01", open: 1, high: 2, low: 1, close: 2, volume: 7 },
];

Deno.test("candlesticks draw one symbol: a low-high rule and an open-close bar coloured by direction", () => {
  const chart = candlestickChart(ohlc, { symbol: "NYA" });
  const spec = specOf(chart);
  assert.equal(spec.data.values.length, 2);
  assert.ok(spec.data.values.every((v: { symbol: string }) => v.symbol === "NYA"));
  assert.deepEqual(
    spec.layer.map((
      l: { encoding: { y: { field: string }; y2: { field: string } } },
    ) => [l.encoding.y.field, l.encoding.y2.field]),
    [
      ["low", "high"],
      ["open", "close"],
    ],
  );
  assert.equal(spec.encoding.color.condition.test, "datum.open <= datum.close");
  assert.match(chart["text/plain"], /NYA, 2 bars/);
  assert.match(candlestickChart(ohlc)["text/plain"], /HSI/, "defaults to the first symbol");
  assert.throws(
    () => candlestickChart(ohlc, { symbol: "DAX" }),
    /"DAX": the rows have only HSI, NYA/,
  );
});

Deno.test("volume bars stack the summed volume of each symbol per period", () => {
  const spec = specOf(volumeChart(ohlc));
  assert.equal(spec.mark, "bar");
  assert.deepEqual([spec.encoding.y.field, spec.encoding.y.aggregate, spec.encoding.y.stack], [
    "volume",
    "sum",
    "zero",
  ]);
  assert.deepEqual(spec.data.values[2], { symbol: "HSI", period: "2021-01-01", volume: 7 });
});
