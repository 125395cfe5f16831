import assert from "node:assert/strict";
import {
  CsvDateFormatError,
  CsvReadError,
  type CsvReadOptions,
  detectLayout,
  formatKaggleCsvRow,
  KAGGLE_CSV_HEADER,
  parseCsvFields,
  parseCsvTicks,
  readCsvTicks,
  UnknownCsvLayoutError,
} from "./csv.ts";
import { formatReject, type Reject } from "./rejects.ts";
import { CALENDAR_DATE_FORMS, type Tick } from "../tick.ts";
import { simulateTicks } from "./simulate.ts";
import { evalUnderTz } from "../testing/timezone.ts";

const testdata = new URL("./testdata/", import.meta.url);
const fixture = (name: string) => new URL(name, testdata).pathname;

/** Reads every tick of CSV text in chunks of `chunkSize` bytes, collecting rejects. */
async function readText(text: string | Uint8Array, chunkSize = 7, options: CsvReadOptions = {}) {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  async function* chunks() {
    for (let i = 0; i < bytes.length; i += chunkSize) yield bytes.subarray(i, i + chunkSize);
  }
  const rejects: Reject[] = [];
  const stream = parseCsvTicks(chunks(), {
    file: "t.csv",
    ...options,
    onReject: (r) => rejects.push(r),
  });
  const ticks: Tick[] = [];
  for await (const tick of stream) ticks.push(tick);
  return { ticks, rejects, counts: stream.counts, layout: stream.layout };
}

/** {@linkcode readText} with read options. */
const readTextWith = (text: string, options: CsvReadOptions) => readText(text, 7, options);

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

const KAGGLE_HEADER = KAGGLE_CSV_HEADER;

Deno.test("readCsvTicks maps the Kaggle indexProcessed layout to ticks at 00:00 UTC", async () => {
  const stream = readCsvTicks(fixture("index_processed.csv"));
  const ticks = await Array.fromAsync(stream);
  assert.equal(stream.layout?.name, "kaggle");
  assert.deepEqual(stream.counts, { rows: 4, good: 4, rejected: 0 });
  assert.deepEqual(ticks[0], {
    symbol: "HSI",
    ts: Date.UTC(1986, 11, 31),
    open: 2568.300049,
    high: 2568.300049,
    low: 2568.300049,
    close: 2568.300049,
    adj_close: 2568.300049,
    volume: 0,
    close_usd: 333.87900637,
  });
  assert.equal(ticks[2].volume, 2978130000);
  assert.equal(ticks[3].symbol, "000001.SS");
  assert.equal(ticks[3].low, 3580.11499);
});

Deno.test("readCsvTicks rejects the null rows of Kaggle indexData.csv and keeps the rest", async () => {
  const rejects: Reject[] = [];
  const stream = readCsvTicks(fixture("index_data.csv"), { onReject: (r) => rejects.push(r) });
  const ticks = await Array.fromAsync(stream);
  assert.deepEqual(ticks.map((t) => t.ts), [Date.UTC(1965, 11, 31), Date.UTC(1966, 0, 4)]);
  assert.equal(ticks[0].close_usd, null);
  assert.equal(rejects.length, 1);
  assert.equal(
    formatReject(rejects[0]),
    `${fixture("index_data.csv")}:3: open is "null" (the source has no value)`,
  );
  assert.equal(rejects[0].raw, "NYA,1966-01-03,null,null,null,null,null,null");
  assert.deepEqual(stream.counts, { rows: 3, good: 2, rejected: 1 });
});

Deno.test("readCsvTicks reads plain OHLCV in any column order with quotes, zones and epochs", async () => {
  const stream = readCsvTicks(fixture("ohlcv.csv"));
  const ticks = await Array.fromAsync(stream);
  assert.equal(stream.layout?.name, "ohlcv");
  assert.deepEqual(ticks.map((t) => t.symbol), ["AAPL", "BRK.B", "MSFT", "GOOG"]);
  assert.deepEqual(ticks[0], {
    symbol: "AAPL",
    ts: Date.UTC(2024, 2, 1, 14, 30),
    open: 179,
    high: 181.25,
    low: 178.5,
    close: 180.5,
    adj_close: 180.5,
    volume: 1200,
    close_usd: null,
  });
  assert.equal(ticks[1].ts, Date.UTC(2024, 2, 1, 13, 30), "+02:00 is converted to UTC");
  assert.equal(ticks[1].adj_close, null, "an empty optional cell is null");
  assert.equal(ticks[2].ts, 1709303400_000, "10-digit epochs are seconds");
  assert.deepEqual([ticks[2].open, ticks[2].volume], [null, null]);
  assert.equal(ticks[3].ts, 1709303400500, "13-digit epochs are milliseconds");
  assert.deepEqual(stream.counts, { rows: 4, good: 4, rejected: 0 });
});

Deno.test("parseCsvTicks counts line numbers from the header across quoted line breaks", async () => {
  const { ticks, rejects } = await readText(
    'date,symbol,close,note\n2024-01-01,A,1,"two\nlines"\n2024-01-02,B,-1,x\n',
  );
  assert.equal(ticks.length, 1);
  assert.deepEqual(rejects.map(formatReject), ["t.csv:4: close -1 is negative"]);
});

Deno.test("parseCsvTicks handles a UTF-8 BOM, CRLF line endings and a trailing empty line", async () => {
  const body = `\uFEFF${KAGGLE_HEADER}\r\nNYA,2020-01-02,1,2,0.5,1.5,1.5,0.0,1.5\r\n\r\n`;
  for (const chunkSize of [1, 3, 1024]) {
    const { ticks, rejects, layout } = await readText(body, chunkSize);
    assert.equal(layout?.header[0], "Index", "the BOM is not part of the first column name");
    assert.deepEqual(rejects, []);
    assert.equal(ticks.length, 1);
    assert.equal(ticks[0].close_usd, 1.5, "no \\r is left on the last field");
  }
});

Deno.test("parseCsvTicks reads a last row that has no line ending", async () => {
  const { ticks } = await readText("date,symbol,close\n2024-01-01,A,1\n2024-01-02,B,2");
  assert.deepEqual(ticks.map((t) => t.symbol), ["A", "B"]);
});

Deno.test("parseCsvTicks rejects each kind of bad row with its line and reason while good rows flow", async () => {
  const rows = [
    KAGGLE_HEADER, // 1
    "NYA,2020-01-02,1,2,0.5,1.5,1.5,0.0,1.5", // 2 good
    "NYA,2020-01-03,1,2,0.5,1.5,1.5,0.0", // 3 too few fields
    "NYA,2020-01-06,1,2,0.5,1.5,1.5,0.0,1.5,9", // 4 too many fields
    "NYA,2020-01-07,abc,2,0.5,1.5,1.5,0.0,1.5", // 5 not a number
    "NYA,2020-01-08,NaN,2,0.5,1.5,1.5,0.0,1.5", // 6 NaN
    "NYA,2020-01-09,1,2,0.5,-1.5,1.5,0.0,1.5", // 7 negative
    "NYA,2020-01-10,1,0.5,2,1.5,1.5,0.0,1.5", // 8 high below low
    "NYA,2021-02-30,1,2,0.5,1.5,1.5,0.0,1.5", // 9 impossible date
    " ,2020-01-13,1,2,0.5,1.5,1.5,0.0,1.5", // 10 empty symbol
    "NYA,2020.01.13,1,2,0.5,1.5,1.5,0.0,1.5", // 11 unknown date format
    "NYA,2020-01-14,1,2,0.5,,1.5,0.0,1.5", // 12 empty cell in the Kaggle layout
    "", // 13 blank line: skipped, not a row
    "NYA,2020-01-15,1,2,0.5,1.5,1.5,0.0,1.5", // 14 good
    'NYA,2020-01-16,1,2,0.5,1.5,1.5,0.0,"1.5', // 15 unterminated quote
  ];
  const { ticks, rejects, counts } = await readText(rows.join("\n") + "\n");
  assert.deepEqual(ticks.map((t) => t.ts), [Date.UTC(2020, 0, 2), Date.UTC(2020, 0, 15)]);
  assert.deepEqual(rejects.map(formatReject), [
    "t.csv:3: has 8 fields, expected 9 (Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD)",
    "t.csv:4: has 10 fields, expected 9 (Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD)",
    't.csv:5: open "abc" is not a number',
    't.csv:6: open "NaN" is not a number',
    "t.csv:7: close -1.5 is negative",
    "t.csv:8: high 0.5 is below low 2",
    't.csv:9: date "2021-02-30" is not a real calendar date or time',
    "t.csv:10: empty symbol",
    't.csv:11: date "2020.01.13" is not a date this reader knows: expected ' +
    `YYYY-MM-DD[(T| )HH:MM[:SS[.fff]][Z|±HH:MM]] (no zone = UTC), ${CALENDAR_DATE_FORMS}, ` +
    "or epoch seconds/milliseconds",
    "t.csv:12: close is empty",
    "t.csv:15: a quoted field is never closed",
  ]);
  assert.equal(rejects[0].raw, rows[2], "the raw line is kept");
  assert.equal(rejects[0].file, "t.csv");
  assert.deepEqual(counts, { rows: 13, good: 2, rejected: 11 });
});

Deno.test("parseCsvTicks re-reads the lines after a quote that never closes", async () => {
  const lines = [
    '2024-01-01,A,1,"oops',
    ...Array.from({ length: 150 }, (_, i) => `2024-01-02,B${i},2,x`),
  ];
  const { ticks, rejects } = await readText(`date,symbol,close,note\n${lines.join("\n")}\n`, 4096);
  assert.deepEqual(rejects.map(formatReject), ["t.csv:2: a quoted field is never closed"]);
  assert.equal(ticks.length, 150);
  assert.equal(ticks[0].symbol, "B0");
});

Deno.test("readCsvTicks names the file, the header and the accepted layouts for an unknown header", async () => {
  const path = fixture("unknown.csv");
  await assert.rejects(
    () => Array.fromAsync(readCsvTicks(path)),
    (error: unknown) => {
      assert.ok(error instanceof UnknownCsvLayoutError);
      assert.match(
        error.message,
        new RegExp(`^Cannot read "${path}": its header "when,what,price"`),
      );
      assert.match(error.message, /Index, Date, Open, High, Low, Close, Adj Close, Volume/i);
      assert.match(
        error.message,
        /date\|timestamp\|datetime\|time, symbol\|ticker\|name \(or --symbol, or the file name\), close\|price\|last/,
      );
      assert.match(error.message, /ohlcv lacks date\|timestamp\|datetime\|time\)/);
      assert.deepEqual(error.header, ["when", "what", "price"]);
      return true;
    },
  );
});

Deno.test("readCsvTicks explains a missing file and an empty file", async () => {
  await assert.rejects(
    () => Array.fromAsync(readCsvTicks(fixture("nope.csv"))),
    (error: unknown) =>
      error instanceof CsvReadError && /no such file/.test(error.message) &&
      error.message.includes("nope.csv"),
  );
  await assert.rejects(() => readText(""), /the file is empty; expected a header row/);
  await assert.rejects(() => readText("\n\n"), /the file is empty/);
});

Deno.test("detectLayout matches headers case-insensitively and trims names", () => {
  const kaggle = detectLayout([
    " index",
    "DATE ",
    "open",
    "high",
    "low",
    "close",
    "adj close",
    "volume",
  ]);
  assert.equal(kaggle.name, "kaggle");
  assert.equal(kaggle.columns.close_usd, -1);
  const ohlcv = detectLayout(["Symbol", "Date", "Close"]);
  assert.equal(ohlcv.name, "ohlcv");
  assert.deepEqual([ohlcv.columns.symbol, ohlcv.columns.ts, ohlcv.columns.close], [0, 1, 2]);
  assert.equal(ohlcv.columns.open, -1);
  assert.throws(
    () => detectLayout(["Index", "Date", "Close"], { file: "x.csv" }),
    /Cannot read "x.csv".*kaggle lacks Open, High, Low, Adj Close, Volume; ohlcv lacks symbol\|ticker\|name \(or pass --symbol\)/s,
  );
});

Deno.test("parseCsvFields follows RFC 4180 quoting", () => {
  assert.deepEqual(parseCsvFields("a,b,,c"), ["a", "b", "", "c"]);
  assert.deepEqual(parseCsvFields('"a,1","b ""q""",c'), ["a,1", 'b "q"', "c"]);
  assert.deepEqual(parseCsvFields('"",x,""'), ["", "x", ""]);
  assert.deepEqual(parseCsvFields('"multi\nline"'), ["multi\nline"]);
  assert.deepEqual(parseCsvFields('ab"c,d'), ['ab"c', "d"], "a stray quote stays literal");
});

Deno.test("parseCsvTicks yields the first tick before the source has finished", async () => {
  let sent = 0;
  let closed = false;
  const encoder = new TextEncoder();
  async function* source() {
    try {
      yield encoder.encode("date,symbol,close\n");
      while (sent < 1000) {
        sent++;
        yield encoder.encode(`2024-01-01,S${sent},1\n`);
      }
    } finally {
      closed = true;
    }
  }
  const stream = parseCsvTicks(source());
  const first = await stream.next();
  assert.equal((first.value as Tick).symbol, "S1");
  assert.ok(sent <= 2, `read ${sent} chunks before the first tick`);
  await stream.return(stream.counts);
  assert.ok(closed, "stopping early closes the source");
});

Deno.test("parseCsvTicks stops quietly when its signal aborts", async () => {
  const controller = new AbortController();
  const body = "date,symbol,close\n" + "2024-01-01,A,1\n".repeat(100);
  const stream = parseCsvTicks([new TextEncoder().encode(body)], { signal: controller.signal });
  let seen = 0;
  for await (const _ of stream) {
    if (++seen === 3) controller.abort();
  }
  assert.equal(seen, 3);
});

Deno.test("readCsvTicks streams a 200,000-row file row by row", async () => {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    const file = await Deno.open(path, { write: true });
    const writer = file.writable.getWriter();
    const encoder = new TextEncoder();
    await writer.write(encoder.encode(`${KAGGLE_HEADER}\n`));
    const day = 86_400_000;
    for (let block = 0; block < 200; block++) {
      let text = "";
      for (let i = 0; i < 1000; i++) {
        const n = block * 1000 + i;
        const date = new Date(Date.UTC(1990, 0, 1) + (n % 10000) * day).toISOString().slice(0, 10);
        text += `S${n % 14},${date},${n},${n + 1},${n},${n + 0.5},${n + 0.5},0.0,${n}\n`;
      }
      await writer.write(encoder.encode(text));
    }
    await writer.close();

    const stream = readCsvTicks(path);
    let count = 0;
    let last: Tick | undefined;
    for await (const tick of stream) {
      count++;
      last = tick;
    }
    assert.equal(count, 200_000);
    assert.deepEqual(stream.counts, { rows: 200_000, good: 200_000, rejected: 0 });
    assert.equal(last?.open, 199_999);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("the committed data/stock_data.csv reads with no rejects", async () => {
  const path = new URL("../../data/stock_data.csv", import.meta.url).pathname;
  const rejects: Reject[] = [];
  const stream = readCsvTicks(path, { onReject: (r) => rejects.push(r) });
  const symbols = new Set<string>();
  for await (const tick of stream) symbols.add(tick.symbol);
  assert.deepEqual(rejects.map(formatReject).slice(0, 5), []);
  assert.equal(stream.layout?.name, "kaggle");
  assert.ok(stream.counts.good >= 50_000, `only ${stream.counts.good} rows`);
  assert.equal(symbols.size, 14);
});

Deno.test("formatKaggleCsvRow writes simulated ticks that read back unchanged", async () => {
  const ticks = [...simulateTicks({ count: 30, seed: 11, weekdaysOnly: true })];
  const text = `${KAGGLE_CSV_HEADER}\n${ticks.map(formatKaggleCsvRow).join("\n")}\n`;
  const read = await readText(text, 4096);
  assert.deepEqual(read.rejects, []);
  assert.deepEqual(read.ticks, ticks);
});

Deno.test("formatKaggleCsvRow writes whole numbers with one decimal, quotes odd symbols and drops the time", () => {
  assert.equal(
    formatKaggleCsvRow({
      symbol: "A,B",
      ts: Date.UTC(2021, 4, 31, 15, 30),
      open: 1,
      high: 2.5,
      low: 0,
      close: 1e-7,
      adj_close: null,
      volume: 3e9,
      close_usd: 0.128,
    }),
    '"A,B",2021-05-31,1.0,2.5,0.0,1e-7,,3000000000.0,0.128',
  );
});

/** Host time zones whose offsets put a zone-less 22:00 on three different instants. */
const HOST_ZONES = [
  { tz: "UTC", offsetMinutes: 0 },
  { tz: "America/New_York", offsetMinutes: 240 }, // 30 June 2021 is EDT, UTC-4
  { tz: "Asia/Kolkata", offsetMinutes: -330 }, // IST, UTC+5:30
];

/**
 * Parses CSV text in a child `deno eval` whose TZ is `tz` (Deno reads TZ at start, so only a new
 * process honestly plays another host); returns each tick's `ts` and each reject's reason.
 */
async function readCsvUnderTz(
  tz: string,
  text: string,
): Promise<{ offsetMinutes: number; ts: number[]; rejects: string[] }> {
  const { offsetMinutes, value } = await evalUnderTz<{ ts: number[]; rejects: string[] }>(
    tz,
    `
    const { parseCsvTicks } = await import(${JSON.stringify(import.meta.resolve("./csv.ts"))});
    const rejects = [];
    const stream = parseCsvTicks([new TextEncoder().encode(${JSON.stringify(text)})], {
      file: "t.csv",
      onReject: (r) => rejects.push(r.line + ": " + r.reason),
    });
    const ts = [];
    for await (const tick of stream) ts.push(tick.ts);
    return { ts, rejects };`,
  );
  return { offsetMinutes, ...value };
}

Deno.test("CSV dates without a zone are read as UTC whatever the host's TZ", async () => {
  const kaggle = [
    KAGGLE_HEADER,
    "N225,1965-01-05,1257.72,1257.72,1257.72,1257.72,1257.72,0.0,11.57",
    "NYA,2021-06-30,1,2,0.5,1.5,1.5,0.0,1.5",
    "NYA,2021-07-01,1,2,0.5,1.5,1.5,0.0,1.5",
  ].join("\n");
  const ohlcv = [
    "datetime,symbol,close",
    "2021-06-30 22:00:00,A,1",
    "2021-06-30T22:00,A,1",
    "2021-06-30T23:59:59.999,A,1",
    "2021-07-01T01:30:00,A,1",
    "2021-06-30T22:00:00Z,A,1",
    "2021-06-30T22:00:00+05:30,A,1",
    "1625090400,A,1",
  ].join("\n");
  const want = {
    kaggle: [Date.UTC(1965, 0, 5), Date.UTC(2021, 5, 30), Date.UTC(2021, 6, 1)],
    ohlcv: [
      Date.UTC(2021, 5, 30, 22),
      Date.UTC(2021, 5, 30, 22),
      Date.UTC(2021, 5, 30, 23, 59, 59, 999),
      Date.UTC(2021, 6, 1, 1, 30),
      Date.UTC(2021, 5, 30, 22),
      Date.UTC(2021, 5, 30, 16, 30),
      Date.UTC(2021, 5, 30, 22),
    ],
  };
  const got: Record<string, typeof want> = {};
  for (const { tz, offsetMinutes } of HOST_ZONES) {
    const k = await readCsvUnderTz(tz, kaggle);
    const o = await readCsvUnderTz(tz, ohlcv);
    assert.equal(k.offsetMinutes, offsetMinutes, `the child really runs under TZ=${tz}`);
    assert.deepEqual([...k.rejects, ...o.rejects], [], `no rejects under TZ=${tz}`);
    got[tz] = { kaggle: k.ts, ohlcv: o.ts };
  }
  assert.deepEqual(got, Object.fromEntries(HOST_ZONES.map(({ tz }) => [tz, want])));
});

Deno.test("a CSV date in no known form goes to the rejects with the forms expected", async () => {
  const dates = [
    "Jam 5 2021", // no such month
    "1/5/21", // two-digit year
    '"Tue, 05 Jan 2021 10:00:00 GMT"', // RFC 2822, quoted for its comma
    "2021.01.05",
    "2021-1-5",
    "2021-01-05T10:00:00 +02:00", // a space before the zone is not ISO-8601
    "2021-01-05T10:00:00 GMT",
  ];
  const text = ["date,symbol,close", ...dates.map((d) => `${d},A,1`), "2021-01-05,A,1"].join("\n");
  const { ticks, rejects } = await readText(text);
  assert.deepEqual(ticks.map((t) => t.ts), [Date.UTC(2021, 0, 5)]);
  const form = "expected YYYY-MM-DD[(T| )HH:MM[:SS[.fff]][Z|±HH:MM]] (no zone = UTC), " +
    `${CALENDAR_DATE_FORMS}, or epoch seconds/milliseconds`;
  assert.deepEqual(
    rejects.map(formatReject),
    dates.map((d, i) =>
      `t.csv:${i + 2}: date "${d.replaceAll('"', "")}" is not a date this reader knows: ${form}`
    ),
  );
});

Deno.test("detectLayout knows the header aliases of common exports, ignoring case, spaces and underscores", () => {
  const cases: [string[], Partial<Record<string, number>>][] = [
    [["Date", "Symbol", "Price"], { close: 2 }],
    [["date", "ticker", "Last", "Vol"], { close: 2, volume: 3 }],
    [["Date", "Name", "Close/Last", "VOL."], { close: 2, volume: 3 }],
    [["Date", "Symbol", "Close", "Adj Close"], { close: 2, adj_close: 3 }],
    [["date", "symbol", "close", "adj_close"], { adj_close: 3 }],
    [["date", "symbol", "close", "AdjClose"], { adj_close: 3 }],
    [["Date", "Symbol", "Close*", "Adj Close**"], { close: 2, adj_close: 3 }],
    [["Date_Time", "Symbol", "close", "Close_USD"], { ts: 0, close_usd: 3 }],
    // close wins over price and last whatever the column order
    [["date", "symbol", "price", "last", "close"], { close: 4 }],
  ];
  for (const [header, want] of cases) {
    const layout = detectLayout(header);
    assert.equal(layout.name, "ohlcv", header.join(","));
    for (const [field, index] of Object.entries(want)) {
      assert.equal(layout.columns[field as keyof typeof layout.columns], index, header.join(","));
    }
  }
  assert.equal(
    detectLayout(["INDEX", "date", "OPEN", "high", "low", "close", "adj_close", "Volume"]).name,
    "kaggle",
  );
});

Deno.test("a Yahoo export without a symbol column takes the file name's stem and keeps Adj Close apart", async () => {
  const path = fixture("^GSPC.csv");
  const rejects: Reject[] = [];
  const stream = readCsvTicks(path, { onReject: (r) => rejects.push(r) });
  const ticks = await Array.fromAsync(stream);
  assert.deepEqual(stream.layout?.symbol, { value: "^GSPC", from: "file name" });
  assert.deepEqual(ticks.map((t) => [t.symbol, new Date(t.ts).toISOString().slice(0, 10)]), [
    ["^GSPC", "2024-05-28"],
    ["^GSPC", "2024-05-29"],
    ["^GSPC", "2024-05-31"],
  ]);
  assert.deepEqual(ticks[0], {
    symbol: "^GSPC",
    ts: Date.UTC(2024, 4, 28),
    open: 5315.910156,
    high: 5315.910156,
    low: 5280.890137,
    close: 5306.040039,
    adj_close: 5306.040039,
    volume: 3751540000,
    close_usd: null,
  });
  assert.deepEqual(rejects.map(formatReject), [
    `${path}:4: open is "null" (the source has no value)`,
  ]);
});

Deno.test("--symbol names the rows of a file without a symbol column, and is refused for a file with one", async () => {
  const stream = readCsvTicks(fixture("nasdaq_aapl.csv"), {
    symbol: "AAPL",
    dateFormat: "MM/DD/YYYY",
  });
  const ticks = await Array.fromAsync(stream);
  assert.deepEqual(stream.layout?.symbol, { value: "AAPL", from: "option" });
  assert.deepEqual(ticks[0], {
    symbol: "AAPL",
    ts: Date.UTC(2024, 4, 31),
    open: 191.44,
    high: 192.57,
    low: 189.91,
    close: 192.25,
    adj_close: null,
    volume: 75158280,
    close_usd: null,
  });
  assert.deepEqual(ticks.map((t) => t.symbol), ["AAPL", "AAPL", "AAPL"]);
  await assert.rejects(
    () => Array.fromAsync(readCsvTicks(fixture("ohlcv.csv"), { symbol: "AAPL" })),
    (error: unknown) =>
      error instanceof CsvReadError &&
      /has a symbol column \("Ticker"\), so --symbol AAPL does not apply: drop --symbol/.test(
        error.message,
      ),
  );
  // Without a file name there is no stem: the symbol column is required, and the error says so.
  await assert.rejects(
    () => Array.fromAsync(parseCsvTicks([new TextEncoder().encode("date,close\n2024-01-02,1\n")])),
    /ohlcv lacks symbol\|ticker\|name \(or pass --symbol\)/,
  );
  const { ticks: named } = await readTextWith("date,close\n2024-01-02,1\n", { symbol: " X " });
  assert.deepEqual(named.map((t) => t.symbol), ["X"]);
});

Deno.test("an Investing.com export reads unchanged: month-name dates, thousands separators, 2.37B volumes", async () => {
  const stream = readCsvTicks(fixture("investing_hsi.csv"), { symbol: "HSI" });
  const ticks = await Array.fromAsync(stream);
  assert.deepEqual(stream.counts, { rows: 2, good: 2, rejected: 0 });
  assert.deepEqual(ticks[0], {
    symbol: "HSI",
    ts: Date.UTC(2024, 5, 28),
    open: 17640.43,
    high: 17805.33,
    low: 17640.43,
    close: 17718.61,
    adj_close: null,
    volume: 2_370_000_000,
    close_usd: null,
  });
});

Deno.test("month-name dates are read at 00:00 UTC in each common form", async () => {
  const dates = [
    "Jan 5 2021",
    '"January 5, 2021"',
    "5-Jan-2021",
    "05 Jan 2021",
    '"Jan 05, 2021"',
    "Jan-05-2021",
    "jan 5 2021",
    "2021/01/05",
    "Jan 5 2021 14:30",
  ];
  const text = ["date,symbol,close", ...dates.map((d) => `${d},A,1`), "Feb 30 2021,A,1"];
  const { ticks, rejects } = await readText(text.join("\n"));
  assert.deepEqual(
    ticks.map((t) => new Date(t.ts).toISOString()),
    [...dates.slice(0, -1).map(() => "2021-01-05T00:00:00.000Z"), "2021-01-05T14:30:00.000Z"],
  );
  assert.deepEqual(rejects.map(formatReject), [
    `t.csv:${dates.length + 2}: date "Feb 30 2021" is not a real calendar date or time`,
  ]);
});

Deno.test("--date-format reads numeric dates month first or day first", async () => {
  const text = "date,symbol,close\n01/05/2021,A,1\n12.31.2021,A,1\n13/01/2021,A,1\n";
  const us = await readTextWith(text, { dateFormat: "MM/DD/YYYY" });
  assert.deepEqual(us.ticks.map((t) => utcDay(t.ts)), ["2021-01-05", "2021-12-31"]);
  assert.deepEqual(us.rejects.map(formatReject), [
    't.csv:4: date "13/01/2021" is not a real calendar date or time',
  ]);
  const eu = await readTextWith(text, { dateFormat: "DD/MM/YYYY" });
  assert.deepEqual(eu.ticks.map((t) => utcDay(t.ts)), ["2021-05-01", "2021-01-13"]);
  assert.deepEqual(eu.rejects.map(formatReject), [
    't.csv:3: date "12.31.2021" is not a real calendar date or time',
  ]);
  await assert.rejects(
    () => readTextWith(text, { dateFormat: "YYYY/DD/MM" as "MM/DD/YYYY" }),
    /unknown date format "YYYY\/DD\/MM"; use MM\/DD\/YYYY or DD\/MM\/YYYY/,
  );
});

Deno.test("a numeric date without --date-format stops the read, saying what each order reads and what to pass", async () => {
  const text = "date,symbol,close\n2021-01-04,A,1\n01/05/2021,A,1\n01/06/2021,A,1\n";
  const seen: Tick[] = [];
  await assert.rejects(
    async () => {
      for await (const tick of parseCsvTicks([new TextEncoder().encode(text)], { file: "t.csv" })) {
        seen.push(tick);
      }
    },
    (error: unknown) => {
      assert.ok(error instanceof CsvDateFormatError);
      assert.equal(error.line, 3);
      assert.equal(error.date, "01/05/2021");
      assert.equal(
        error.message,
        'Cannot read "t.csv": line 3 has the date "01/05/2021", which reads as 2021-01-05 with ' +
          "MM/DD/YYYY or 2021-05-01 with DD/MM/YYYY: pass --date-format MM/DD/YYYY or " +
          "--date-format DD/MM/YYYY (the dateFormat option in code) to say which order the " +
          "file uses: numeric dates are never read day or month first by guess.",
      );
      return true;
    },
  );
  assert.deepEqual(seen.map((t) => utcDay(t.ts)), ["2021-01-04"], "rows before it flowed");
  // A date only one order can read still names that order, and is not guessed either.
  await assert.rejects(
    () => readText("date,symbol,close\n13/01/2021,A,1\n"),
    /"13\/01\/2021", which reads as 2021-01-13 with DD\/MM\/YYYY: pass --date-format DD\/MM\/YYYY /,
  );
});
