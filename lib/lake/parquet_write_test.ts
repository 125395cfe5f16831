import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import pl from "nodejs-polars";
import { codecFor, type ParquetColumn, writeParquet } from "./parquet_write.ts";
import { runTestPython } from "../testing/lake.ts";

/** 20 rows with nulls in every column, an all-null column, signed zeros and extreme values. */
function hardColumns(): { columns: ParquetColumn[]; rows: Record<string, unknown>[] } {
  const n = 20;
  const symbols = Array.from(
    { length: n },
    (_, i) => i % 7 === 3 ? null : ["A", "Ünï €", "😀🚀", "中文", "", "zz"][i % 6],
  );
  const ts = Float64Array.from(
    { length: n },
    (_, i) =>
      [-8.64e15, 8.64e15, -1, 0, 1, Date.UTC(1900, 0, 1), Date.UTC(2199, 11, 31, 23, 59, 59, 999)][
        i % 7
      ] + i,
  );
  const tsDefined = Uint8Array.from({ length: n }, (_, i) => i % 5 === 4 ? 0 : 1);
  const extremes = [-0, 0, -1e308, 1e308, 5e-324, -5e-324, Number.MAX_VALUE, 1.5, -2.25];
  const price = Float64Array.from({ length: n }, (_, i) => extremes[i % extremes.length]);
  const priceDefined = Uint8Array.from({ length: n }, (_, i) => i % 3 === 2 ? 0 : 1);
  const columns: ParquetColumn[] = [
    { name: "symbol", type: "string", values: symbols },
    { name: "ts", type: "timestamp_ms", values: ts, defined: tsDefined },
    { name: "price", type: "double", values: price, defined: priceDefined },
    { name: "full", type: "double", values: price },
    { name: "empty", type: "double", values: new Float64Array(n), defined: new Uint8Array(n) },
  ];
  const rows = Array.from({ length: n }, (_, i) => ({
    symbol: symbols[i],
    ts: tsDefined[i] ? ts[i] : null,
    price: priceDefined[i] ? price[i] : null,
    full: price[i],
    empty: null,
  }));
  return { columns, rows };
}

/** Polars gives ts as Date (ms) and -0 as 0 in records; compare through JSON-safe numbers. */
function polarsRows(bytes: Uint8Array): Record<string, unknown>[] {
  const frame = pl.readParquet(Buffer.from(bytes)).withColumns(pl.col("ts").cast(pl.Int64));
  return frame.toRecords().map((r) => ({ ...r, ts: r.ts === null ? null : Number(r.ts) }));
}

Deno.test("writeParquet round-trips extreme values, nulls and non-ASCII strings through Polars", () => {
  const { columns, rows } = hardColumns();
  for (const layout of [{}, { pageRows: 3, rowGroupRows: 7 }]) {
    const bytes = writeParquet({ columns, ...layout });
    const frame = pl.readParquet(Buffer.from(bytes));
    assert.equal(frame.getColumn("symbol").dtype.variant, "String");
    assert.ok(frame.getColumn("ts").dtype.equals(pl.Datetime("ms", "UTC")));
    assert.ok(frame.getColumn("empty").dtype.equals(pl.Float64));
    assert.deepEqual(polarsRows(bytes), rows, JSON.stringify(layout));
    // Signed zeros survive (deepEqual treats -0 and 0 as different).
    assert.ok(Object.is(frame.getColumn("full").get(0), -0));
  }
});

Deno.test("writeParquet of no rows is a valid file with the schema", () => {
  const bytes = writeParquet({
    columns: [
      { name: "s", type: "string", values: [] },
      { name: "ts", type: "timestamp_ms", values: new Float64Array() },
    ],
  });
  const frame = pl.readParquet(Buffer.from(bytes));
  assert.deepEqual(frame.columns, ["s", "ts"]);
  assert.equal(frame.height, 0);
});

Deno.test("writeParquet rejects columns of different lengths, bad timestamps and layouts", () => {
  assert.throws(
    () =>
      writeParquet({
        columns: [
          { name: "a", type: "string", values: ["x"] },
          { name: "b", type: "double", values: new Float64Array(2) },
        ],
      }),
    /column "b" has 2 values but "a" has 1/,
  );
  assert.throws(
    () =>
      writeParquet({
        columns: [{ name: "t", type: "timestamp_ms", values: Float64Array.of(1.5) }],
      }),
    /row 0: timestamp 1.5 is not a whole number of milliseconds/,
  );
  assert.throws(
    () =>
      writeParquet({
        columns: [{
          name: "d",
          type: "double",
          values: new Float64Array(2),
          defined: new Uint8Array(1),
        }],
      }),
    /1 defined flags for 2 values/,
  );
  assert.throws(
    () => writeParquet({ columns: [], pageRows: 0 }),
    /pageRows must be a whole number of rows ≥ 1, not 0/,
  );
});

Deno.test("writeParquet files read alike in pyarrow and duckdb, with v1 pages, Snappy and exact statistics", async () => {
  const { columns, rows } = hardColumns();
  const dir = await Deno.makeTempDir({ prefix: "parquet_write_" });
  try {
    const path = join(dir, "t.parquet");
    await Deno.writeFile(path, writeParquet({ columns, pageRows: 3, rowGroupRows: 7 }));
    const report = JSON.parse(await runTestPython(READER, [path]));
    assert.deepEqual(report.arrow_rows, rows);
    assert.deepEqual(report.duckdb_rows, rows);
    assert.equal(report.row_groups, 3);
    assert.deepEqual(report.codecs, ["SNAPPY"]);
    assert.deepEqual(report.page_types, ["DATA_PAGE", "DICTIONARY_PAGE"]);
    assert.equal(report.ts_logical, "Timestamp(isAdjustedToUTC=true, timeUnit=milliseconds)");
    assert.equal(report.ts_converted, "TIMESTAMP_MILLIS");
    assert.equal(report.symbol_logical, "String");
    // Each row group's statistics equal the min, max and null count of its rows.
    for (const [g, group] of report.statistics.entries()) {
      const slice = rows.slice(g * 7, g * 7 + 7);
      for (const name of ["symbol", "ts", "price", "full", "empty"]) {
        const present = slice.map((r) => r[name]).filter((v) => v !== null) as (string | number)[];
        const order = name === "symbol"
          ? (a: string | number, b: string | number) => Buffer.compare(utf8(a), utf8(b))
          : (a: string | number, b: string | number) => (a as number) - (b as number);
        const sorted = [...present].sort(order);
        const stats = group[name];
        assert.equal(stats.null_count, slice.length - present.length, `${g} ${name}`);
        if (present.length === 0) {
          assert.equal(stats.has_min_max, false, `${g} ${name}`);
          continue;
        }
        // Zeros compare equal: the Parquet rule writes a zero minimum as -0, a zero maximum as +0.
        assert.equal(stats.min, sorted[0] === 0 ? -0 : sorted[0], `${g} ${name} min`);
        assert.equal(stats.max, sorted.at(-1) === 0 ? 0 : sorted.at(-1), `${g} ${name} max`);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a column Snappy cannot shrink is stored uncompressed; pyarrow, duckdb and Polars read both alike", async () => {
  const n = 3000;
  let seed = 7;
  // Prices of several symbols (10 to 10,000): the exponents vary and the mantissas are noise.
  const noise = Float64Array.from({ length: n }, (_, i) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (1 + seed / 2 ** 32) * 10 ** (1 + (i % 4));
  });
  const steps = Float64Array.from({ length: n }, (_, i) => i % 10);
  const ts = Float64Array.from({ length: n }, (_, i) => Date.UTC(2024, 0, 1) + i * 60_000);
  const columns: ParquetColumn[] = [
    { name: "symbol", type: "string", values: Array.from({ length: n }, (_, i) => `S${i % 3}`) },
    { name: "ts", type: "timestamp_ms", values: ts },
    { name: "noise", type: "double", values: noise },
    { name: "steps", type: "double", values: steps },
  ];
  const rows = Array.from({ length: n }, (_, i) => ({
    symbol: `S${i % 3}`,
    ts: ts[i],
    noise: noise[i],
    steps: steps[i],
  }));
  const bytes = writeParquet({ columns, pageRows: 1000, rowGroupRows: 2000 });
  assert.deepEqual(polarsRows(bytes), rows);
  const dir = await Deno.makeTempDir({ prefix: "parquet_codec_" });
  try {
    const path = join(dir, "t.parquet");
    await Deno.writeFile(path, bytes);
    const report = JSON.parse(await runTestPython(READER, [path]));
    assert.deepEqual(report.arrow_rows, rows);
    assert.deepEqual(report.duckdb_rows, rows);
    assert.deepEqual(report.column_codecs, {
      symbol: ["SNAPPY"],
      ts: ["SNAPPY"],
      noise: ["UNCOMPRESSED"],
      steps: ["SNAPPY"],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // Too little to judge: Snappy, as before.
  assert.equal(codecFor(new Uint8Array(new Float64Array(noise.subarray(0, 31)).buffer)), "SNAPPY");
  assert.equal(codecFor(new Uint8Array(noise.buffer)), "UNCOMPRESSED");
});

/** The UTF-8 bytes of a string, which Parquet statistics order byte by byte. */
function utf8(value: string | number): Buffer {
  return Buffer.from(String(value), "utf8");
}

/** Reads a Parquet file with pyarrow and duckdb; prints rows (ts as epoch ms), layout and stats. */
const READER = `
import json, sys
import duckdb, pyarrow as pa, pyarrow.parquet as pq
path = sys.argv[1]
file = pq.ParquetFile(path)
meta = file.metadata
table = file.read()
# Python datetimes end at year 9999: read ts as its int64 milliseconds.
table = table.set_column(1, "ts", table.column("ts").cast(pa.int64()))
arrow_rows = table.to_pylist()
con = duckdb.connect()
cursor = con.execute(f"SELECT * REPLACE (epoch_ms(ts) AS ts) FROM read_parquet('{path}')")
names = [d[0] for d in cursor.description]
duck_rows = [dict(zip(names, r)) for r in cursor.fetchall()]
# A page header starts with field 1 (the page type, zigzag varint): 0 DATA_PAGE, 4 DICTIONARY_PAGE
# (2), 6 DATA_PAGE_V2 (3).
raw = open(path, "rb").read()
kinds = {0: "DATA_PAGE", 4: "DICTIONARY_PAGE", 6: "DATA_PAGE_V2"}
page_types = set()
for g in range(meta.num_row_groups):
    for c in range(meta.num_columns):
        column = meta.row_group(g).column(c)
        for offset in (column.data_page_offset, column.dictionary_page_offset):
            if offset is not None:
                assert raw[offset] == 0x15, raw[offset]
                page_types.add(kinds.get(raw[offset + 1], raw[offset + 1]))
page_types = sorted(page_types)
statistics = []
for g in range(meta.num_row_groups):
    group = {}
    for c in range(meta.num_columns):
        column = meta.row_group(g).column(c)
        s = column.statistics
        entry = {"null_count": s.null_count, "has_min_max": s.has_min_max}
        if s.has_min_max:
            lo, hi = s.min_raw, s.max_raw
            if isinstance(lo, bytes):
                lo, hi = lo.decode(), hi.decode()
            entry.update(min=lo, max=hi)
        group[column.path_in_schema] = entry
    statistics.append(group)
ts = file.schema.column(1)
print(json.dumps({
  "arrow_rows": arrow_rows,
  "duckdb_rows": duck_rows,
  "row_groups": meta.num_row_groups,
  "codecs": sorted({meta.row_group(g).column(c).compression
    for g in range(meta.num_row_groups) for c in range(meta.num_columns)}),
  "column_codecs": {meta.row_group(0).column(c).path_in_schema:
    sorted({meta.row_group(g).column(c).compression for g in range(meta.num_row_groups)})
    for c in range(meta.num_columns)},
  "page_types": page_types,
  "ts_logical": str(ts.logical_type).split(", is_from")[0] + ")",
  "ts_converted": ts.converted_type,
  "symbol_logical": str(file.schema.column(0).logical_type),
  "statistics": statistics,
}))
`;
