import assert from "node:assert/strict";
import { join } from "node:path";
import pl from "nodejs-polars";
import {
  DecodeError,
  decodeJsonl,
  decodeObject,
  decodeParquet,
  encodeJsonl,
  encodeParquet,
  encodeTicks,
  ticksToFrame,
} from "./encode.ts";
import { LayoutError } from "./layout.ts";
import { encodeTick, type Tick, TICK_COLUMNS } from "../tick.ts";
import { edgeTicks, runTestPython, tempLake } from "../testing/lake.ts";
import { discoverLake } from "../catalog/discover.ts";
import { queryLocal } from "../query/local.ts";

Deno.test("parquet round-trips ticks with nulls, dotted symbols and millisecond times", () => {
  const ticks = edgeTicks();
  assert.deepEqual(decodeParquet(encodeParquet(ticks)), ticks);
});

Deno.test("parquet has exactly the lake columns with string, UTC-millisecond and double types", () => {
  const frame = pl.readParquet(Buffer.from(encodeParquet(edgeTicks())));
  assert.deepEqual(frame.columns, [...TICK_COLUMNS]);
  assert.equal(frame.getColumn("symbol").dtype.variant, "String");
  assert.ok(frame.getColumn("ts").dtype.equals(pl.Datetime("ms", "UTC")));
  for (const column of TICK_COLUMNS.slice(2)) {
    assert.ok(frame.getColumn(column).dtype.equals(pl.Float64), column);
  }
});

Deno.test("parquet of no ticks is a valid file with the lake schema", () => {
  const bytes = encodeParquet([]);
  assert.deepEqual(decodeParquet(bytes), []);
  assert.deepEqual(pl.readParquet(Buffer.from(bytes)).columns, [...TICK_COLUMNS]);
});

Deno.test("parquet decoding accepts other timestamp units and zones, epoch ms, and extra columns", () => {
  const ticks = edgeTicks();
  for (
    const type of [
      pl.Datetime("us"),
      pl.Datetime("ns", "Europe/Paris"),
      pl.Datetime("ms"),
      pl.Int64,
    ]
  ) {
    const frame = ticksToFrame(ticks).withColumns(
      pl.col("ts").cast(type),
      pl.lit("2021-05-31").alias("dt"),
    );
    assert.deepEqual(decodeParquet(new Uint8Array(frame.writeParquet())), ticks, String(type));
  }
});

Deno.test("parquet decoding names the missing lake columns", () => {
  const frame = pl.DataFrame({ symbol: ["A"], price: [1] });
  assert.throws(
    () => decodeParquet(new Uint8Array(frame.writeParquet())),
    (e: unknown) =>
      e instanceof DecodeError &&
      /lacks lake column\(s\) ts, open,.*found symbol, price/.test(e.message),
  );
});

Deno.test("parquet decoding rejects bytes that are not parquet", () => {
  assert.throws(() => decodeParquet(new TextEncoder().encode("not parquet")), DecodeError);
});

Deno.test("objects written through Polars by earlier versions and new ones read as one table", async () => {
  // Earlier versions wrote Parquet with nodejs-polars; lakes hold both kinds side by side.
  const polarsParquet = (ticks: Tick[]) =>
    new Uint8Array(ticksToFrame(ticks).writeParquet({ compression: "snappy" }));
  const [a, b, c, d, e] = edgeTicks();
  await using lake = await tempLake();
  const objects = [
    ["ticks/dt=2021-05-30/t+0+00000000000000000000.parquet", polarsParquet([a, b])],
    ["ticks/dt=2021-05-30/t+1+00000000000000000000.parquet", encodeParquet([c])],
    ["ticks/dt=2021-05-31/t+0+00000000000000000002.parquet", encodeParquet([d, e])],
    ["ticks/dt=2021-06-01/t+0+00000000000000000004.parquet", encodeParquet([])],
  ] as const;
  for (const [key, bytes] of objects) await lake.store.put(key, bytes);
  const found = await discoverLake(lake.store);
  assert.deepEqual(found.columns.map((col) => `${col.name} ${col.type}`), [
    "symbol string",
    "ts timestamp",
    ...TICK_COLUMNS.slice(2).map((name) => `${name} double`),
  ]);
  const result = await queryLocal(
    `SELECT ${TICK_COLUMNS.join(", ")}, dt FROM ticks ORDER BY dt, symbol`,
    { store: lake.store },
  );
  const rows = result.rows.map((row) => ({ ...row, ts: (row.ts as Date).getTime() }));
  const expected = [[a, "2021-05-30"], [b, "2021-05-30"], [c, "2021-05-30"], [e, "2021-05-31"], [
    d,
    "2021-05-31",
  ]] as const;
  assert.deepEqual(rows, expected.map(([tick, dt]) => ({ ...tick, dt })));
});

Deno.test("parquet is snappy-compressed and reads back in pyarrow and duckdb with the same values", async () => {
  const ticks = edgeTicks();
  const dir = await Deno.makeTempDir({ prefix: "lake_parquet_" });
  try {
    const path = join(dir, "ticks.parquet");
    await Deno.writeFile(path, encodeParquet(ticks));
    const report = JSON.parse(await runTestPython(INDEPENDENT_READER, [path]));
    assert.deepEqual(report.arrow_types, {
      symbol: report.arrow_types.symbol, // "string" or "string_view" depending on pyarrow
      ts: "timestamp[ms, tz=UTC]",
      open: "double",
      high: "double",
      low: "double",
      close: "double",
      adj_close: "double",
      volume: "double",
      close_usd: "double",
    });
    assert.match(report.arrow_types.symbol, /^(large_)?string(_view)?$/);
    assert.equal(report.parquet_ts.Type, "Timestamp");
    assert.equal(report.parquet_ts.isAdjustedToUTC, true);
    assert.equal(report.parquet_ts.timeUnit, "milliseconds");
    assert.deepEqual(report.compression, ["SNAPPY"]);
    assert.equal(report.duckdb_types.ts, "TIMESTAMP WITH TIME ZONE");
    assert.equal(report.duckdb_types.symbol, "VARCHAR");
    assert.equal(report.duckdb_types.close_usd, "DOUBLE");
    const expected = ticks.map((t) => ({ ...t }));
    assert.deepEqual(report.arrow_rows, expected);
    assert.deepEqual(report.duckdb_rows, expected);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Reads a Parquet file with pyarrow and duckdb; prints types and rows (ts as epoch ms) as JSON. */
const INDEPENDENT_READER = `
import json, sys
import duckdb, pyarrow.parquet as pq
path = sys.argv[1]
file = pq.ParquetFile(path)
table = file.read()
columns = [f.name for f in table.schema]
ts = file.schema.column(columns.index("ts")).logical_type
meta = file.metadata
compression = sorted({meta.row_group(g).column(c).compression
  for g in range(meta.num_row_groups) for c in range(meta.num_columns)})
arrow_rows = []
for row in table.to_pylist():
    row["ts"] = int(row["ts"].timestamp() * 1000)
    arrow_rows.append(row)
con = duckdb.connect()
duck_types = {name: kind for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()}
cursor = con.execute(f"SELECT * REPLACE (epoch_ms(ts) AS ts) FROM read_parquet('{path}')")
names = [d[0] for d in cursor.description]
duck_rows = [dict(zip(names, r)) for r in cursor.fetchall()]
print(json.dumps({
  "arrow_types": {f.name: str(f.type) for f in table.schema},
  "parquet_ts": json.loads(ts.to_json()),
  "compression": compression,
  "duckdb_types": duck_types,
  "arrow_rows": arrow_rows,
  "duckdb_rows": duck_rows,
}))
`;

Deno.test("jsonl writes one wire-form object per line and round-trips", () => {
  const ticks = edgeTicks();
  const text = new TextDecoder().decode(encodeJsonl(ticks));
  assert.equal(text, ticks.map((t) => encodeTick(t) + "\n").join(""));
  assert.match(text.split("\n")[0], /"ts":"2021-05-31T00:00:00.000Z"/);
  assert.deepEqual(decodeJsonl(encodeJsonl(ticks)), ticks);
});

Deno.test("gzipped jsonl round-trips, with gzip given or detected", () => {
  const ticks = edgeTicks();
  const gz = encodeJsonl(ticks, { gzip: true });
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
  assert.deepEqual(decodeJsonl(gz, { gzip: true }), ticks);
  assert.deepEqual(decodeJsonl(gz), ticks);
  assert.deepEqual(decodeJsonl(encodeJsonl([], { gzip: true })), []);
});

Deno.test("jsonl decoding names the line that is not a tick", () => {
  const good = encodeTick(edgeTicks()[0]);
  const bytes = new TextEncoder().encode(`${good}\n\n{"symbol":"X","ts":"yesterday"}\n`);
  assert.throws(
    () => decodeJsonl(bytes),
    (e: unknown) =>
      e instanceof DecodeError && /line 3 is not a tick: ts "yesterday"/.test(e.message),
  );
  assert.throws(() => decodeJsonl(new Uint8Array([0x1f, 0x8b, 1, 2, 3])), /Cannot gunzip/);
});

Deno.test("encodeTicks and decodeObject pick the codec from the format and the key", () => {
  const ticks: Tick[] = edgeTicks();
  const cases = [
    ["a/t+0+00000000000000000000.parquet", { format: "parquet" }],
    ["a/t+0+00000000000000000000.jsonl", { format: "jsonl" }],
    ["a/t+0+00000000000000000000.jsonl.gz", { format: "jsonl", gzip: true }],
  ] as const;
  for (const [key, options] of cases) {
    assert.deepEqual(decodeObject(key, encodeTicks(ticks, options)), ticks, key);
  }
  assert.throws(() => encodeTicks(ticks, { format: "parquet", gzip: true }), LayoutError);
  assert.throws(
    () => decodeObject("a/b.csv", new Uint8Array()),
    /Cannot tell the format of "a\/b.csv"/,
  );
  assert.throws(
    () => decodeObject("a/b.parquet", new TextEncoder().encode("nope")),
    /Cannot decode "a\/b.parquet": Cannot read Parquet/,
  );
});
