import assert from "node:assert/strict";
import {
  assertStoreKey,
  assertStorePrefix,
  dtOutsideGranularity,
  extensionFor,
  formatFor,
  inferDtGranularity,
  LayoutError,
  objectKey,
  parseObjectKey,
  partitionFor,
  partitionPrefix,
  tablePrefix,
} from "./layout.ts";
import type { Tick } from "../tick.ts";
import { encodeParquet } from "./encode.ts";
import { edgeTicks, runTestPython, tempLake } from "../testing/lake.ts";

const parts = {
  dt: "2021-05-31",
  topic: "stock_market",
  partition: 0,
  startOffset: "1234",
  format: "parquet",
} as const;

Deno.test("objectKey names a batch Confluent-style with a 20-digit offset", () => {
  assert.equal(
    objectKey(parts),
    "ticks/dt=2021-05-31/stock_market+0+00000000000000001234.parquet",
  );
  assert.equal(
    objectKey({
      ...parts,
      table: "bars",
      partition: 12,
      startOffset: 0n,
      format: "jsonl",
      gzip: true,
    }),
    "bars/dt=2021-05-31/stock_market+12+00000000000000000000.jsonl.gz",
  );
});

Deno.test("objectKey gives the same key for the same offset as string, number or bigint", () => {
  const keys = ["9007199254740991", 9007199254740991, 9007199254740991n].map((startOffset) =>
    objectKey({ ...parts, startOffset })
  );
  assert.equal(new Set(keys).size, 1);
  assert.equal(
    objectKey({ ...parts, startOffset: "9223372036854775807" }),
    "ticks/dt=2021-05-31/stock_market+0+09223372036854775807.parquet",
  );
});

Deno.test("object keys sort in offset order within a partition", () => {
  const keys = [5, 100, 20, 3000].map((o) => objectKey({ ...parts, startOffset: o }));
  assert.deepEqual(
    [...keys].sort(),
    [5, 20, 100, 3000].map((o) => objectKey({ ...parts, startOffset: o })),
  );
});

Deno.test("parseObjectKey inverts objectKey for every format", () => {
  for (
    const extra of [{ format: "parquet" }, { format: "jsonl" }, {
      format: "jsonl",
      gzip: true,
    }] as const
  ) {
    const input = { table: "ticks", ...parts, topic: "stock.market_v-2", partition: 7, ...extra };
    const parsed = parseObjectKey(objectKey(input));
    assert.deepEqual(parsed, { ...input, gzip: "gzip" in extra ? true : false });
  }
});

Deno.test("parseObjectKey returns undefined for keys outside the layout", () => {
  for (
    const key of [
      "_sink/g/t+0.json",
      "ticks/dt=2021-05-31/stock_market+0+1234.parquet", // offset not padded
      "ticks/dt=2021-02-30/stock_market+0+00000000000000001234.parquet", // no such day
      "ticks/dt=2021-05-31/stock_market+0+00000000000000001234.csv",
      "ticks/dt=2021-05-31/stock_market+0+99999999999999999999.parquet", // above int64
      "ticks/2021-05-31/stock_market+0+00000000000000001234.parquet",
      "x/ticks/dt=2021-05-31/stock_market+0+00000000000000001234.parquet",
    ]
  ) assert.equal(parseObjectKey(key), undefined, key);
});

Deno.test("objectKey rejects bad parts with errors that say what is accepted", () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ startOffset: -1 }, /Invalid start offset -1: expected a non-negative integer/],
    [{ startOffset: "-5" }, /Invalid start offset "-5"/],
    [{ startOffset: 1.5 }, /Invalid start offset 1.5/],
    [{ startOffset: "9223372036854775808" }, /Invalid start offset/],
    [
      { dt: "2021-13-01" },
      /Invalid partition date "2021-13-01": no such calendar day; expected YYYY-MM-DD/,
    ],
    [{ dt: "31/05/2021" }, /wrong shape/],
    [{ topic: "a+b" }, /Invalid topic "a\+b"/],
    [{ topic: "" }, /Invalid topic/],
    [{ partition: -1 }, /Invalid Kafka partition -1/],
    [{ partition: 0.5 }, /Invalid Kafka partition/],
    [{ table: "Ticks" }, /Invalid table name "Ticks": use 1-255 lower-case/],
    [{ format: "csv" }, /Unknown lake format "csv": use one of parquet, jsonl/],
    [{ gzip: true }, /Parquet objects cannot be gzipped/],
  ];
  for (const [bad, message] of cases) {
    assert.throws(
      () => objectKey({ ...parts, ...bad } as Parameters<typeof objectKey>[0]),
      (e: unknown) => e instanceof LayoutError && message.test(e.message),
      JSON.stringify(bad),
    );
  }
});

Deno.test("table and partition prefixes match the keys they contain", () => {
  assert.equal(tablePrefix(), "ticks/");
  assert.equal(partitionPrefix("ticks", "2021-05-31"), "ticks/dt=2021-05-31/");
  assert.ok(objectKey(parts).startsWith(partitionPrefix("ticks", parts.dt)));
  assert.throws(() => tablePrefix("../x"), LayoutError);
  assert.throws(() => partitionPrefix("ticks", "2021-5-31"), LayoutError);
});

const tick: Tick = {
  symbol: "NYA",
  ts: Date.UTC(2021, 4, 31, 23, 59, 59, 999),
  open: null,
  high: null,
  low: null,
  close: 1,
  adj_close: null,
  volume: null,
  close_usd: null,
};

Deno.test("partitionFor uses the tick's UTC date by default", () => {
  assert.equal(partitionFor(tick), "2021-05-31");
  assert.equal(partitionFor({ ...tick, ts: tick.ts + 1 }), "2021-06-01");
  assert.equal(partitionFor({ ...tick, ts: Date.UTC(1965, 0, 5) }), "1965-01-05");
});

Deno.test("partitionFor by ingest uses the ingest time and requires it", () => {
  assert.equal(
    partitionFor(tick, { by: "ingest", ingestMs: Date.UTC(2024, 1, 29, 5) }),
    "2024-02-29",
  );
  assert.throws(() => partitionFor(tick, { by: "ingest" }), /needs ingestMs/);
  assert.throws(
    () => partitionFor(tick, { by: "ingest", ingestMs: NaN }),
    /expected epoch milliseconds/,
  );
  assert.throws(
    () => partitionFor(tick, { by: "wall" as "event" }),
    /Unknown partitioning "wall": use "event" or "ingest"/,
  );
  assert.throws(() => partitionFor({ ...tick, ts: Infinity }), LayoutError);
});

Deno.test("formatFor and extensionFor agree on every format", () => {
  assert.equal(extensionFor("parquet"), ".parquet");
  assert.equal(extensionFor("jsonl"), ".jsonl");
  assert.equal(extensionFor("jsonl", { gzip: true }), ".jsonl.gz");
  assert.deepEqual(formatFor("a/b.parquet"), { format: "parquet", gzip: false });
  assert.deepEqual(formatFor("a/b.jsonl"), { format: "jsonl", gzip: false });
  assert.deepEqual(formatFor("a/b.jsonl.gz"), { format: "jsonl", gzip: true });
  assert.equal(formatFor("a/b.json"), undefined);
  assert.equal(formatFor("a/b.gz"), undefined);
});

Deno.test("store keys must be relative, /-separated and free of dot segments", () => {
  assertStoreKey("ticks/dt=2021-05-31/a+b.parquet");
  assertStorePrefix("");
  assertStorePrefix("ticks/");
  assertStorePrefix("ticks/dt=2021-");
  for (const key of ["", "/a", "a//b", "a/./b", "../a", "a/..", "a\\b", "a\nb", "a/"]) {
    assert.throws(() => assertStoreKey(key), LayoutError, JSON.stringify(key));
  }
  for (const prefix of ["/a", "../", "a//", "a\\"]) {
    assert.throws(() => assertStorePrefix(prefix), LayoutError, JSON.stringify(prefix));
  }
  assert.throws(
    () => assertStoreKey("../x"),
    /Invalid object key "..\/x": it must not contain . or .. segments/,
  );
});

Deno.test("a folder lake in this layout reads in duckdb as one table with a dt partition column", async () => {
  await using lake = await tempLake();
  const ticks = edgeTicks().filter((t) => t.ts > Date.UTC(2000, 0, 1));
  let offset = 0;
  for (const tick of ticks) {
    const key = objectKey({ ...parts, dt: partitionFor(tick), startOffset: offset++ });
    await lake.store.put(key, encodeParquet([tick]));
  }
  const rows = JSON.parse(
    await runTestPython(
      `
import duckdb, json, sys
rows = duckdb.sql(f"""SELECT symbol, epoch_ms(ts) AS ts, CAST(dt AS VARCHAR) AS dt
  FROM read_parquet('{sys.argv[1]}/ticks/*/*.parquet', hive_partitioning = true)
  ORDER BY ts""").fetchall()
print(json.dumps(rows))
`,
      [lake.dir],
    ),
  );
  assert.deepEqual(
    rows,
    ticks.sort((a, b) => a.ts - b.ts).map((t) => [t.symbol, t.ts, partitionFor(t)]),
  );
});

Deno.test("inferDtGranularity widens only when two or more dt values all sit on a period's first day", () => {
  assert.equal(inferDtGranularity(["2021-01-01", "2022-01-01"]), "year");
  assert.equal(inferDtGranularity(["2021-01-01", "2021-02-01"]), "month");
  assert.equal(inferDtGranularity(["2021-01-01", "2021-01-04"]), "day");
  // One value could be the first day of a day lake: a month step would hide the days after it.
  assert.equal(inferDtGranularity(["2021-02-01"]), "day");
  assert.equal(inferDtGranularity([]), "day");
  assert.equal(dtOutsideGranularity(["2021-02-01", "2021-02-17"], "month"), "2021-02-17");
  assert.equal(dtOutsideGranularity(["2021-02-01", "2021-02-17"], "day"), undefined);
});
