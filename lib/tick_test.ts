import assert from "node:assert/strict";
import { evalUnderTz } from "./testing/timezone.ts";
import {
  decodeTick,
  decodeTickBytes,
  encodeTick,
  InvalidTickError,
  parseCalendarDate,
  parseIsoTimestamp,
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
    [
      JSON.stringify({ symbol: "X", ts: "2021-02-30T00:00:00.000Z", close: 1 }),
      /not a real calendar date/,
    ],
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

/** Host time zones whose offsets put a zone-less 22:00 on three different instants. */
const HOST_ZONES = [
  { tz: "UTC", offsetMinutes: 0 },
  { tz: "America/New_York", offsetMinutes: 240 }, // 30 June 2021 is EDT, UTC-4
  { tz: "Asia/Kolkata", offsetMinutes: -330 }, // IST, UTC+5:30
];

/**
 * Decodes wire `ts` values in a child `deno eval` whose TZ is `tz` (Deno reads TZ at start, so only
 * a new process honestly plays another host). Each result is epoch ms or `Name: message`.
 */
async function decodeTsUnderTz(
  tz: string,
  values: unknown[],
): Promise<{ offsetMinutes: number; results: (number | string)[] }> {
  const { offsetMinutes, value } = await evalUnderTz<(number | string)[]>(
    tz,
    `
    const { decodeTick } = await import(${JSON.stringify(import.meta.resolve("./tick.ts"))});
    return ${JSON.stringify(values)}.map((ts) => {
      try {
        return decodeTick(JSON.stringify({ symbol: "X", ts, close: 1 })).ts;
      } catch (e) {
        return e.name + ": " + e.message;
      }
    });`,
  );
  return { offsetMinutes, results: value };
}

Deno.test("decodeTick reads a zone-less wire timestamp as UTC whatever the host's TZ", async () => {
  const cases: [unknown, number][] = [
    ["2021-06-30T22:00:00", Date.UTC(2021, 5, 30, 22)],
    ["2021-06-30 22:00:00", Date.UTC(2021, 5, 30, 22)],
    ["2021-06-30T22:00", Date.UTC(2021, 5, 30, 22)],
    ["2021-06-30T23:59:59.999", Date.UTC(2021, 5, 30, 23, 59, 59, 999)],
    ["2021-07-01T01:30:00", Date.UTC(2021, 6, 1, 1, 30)],
    ["2021-06-30", Date.UTC(2021, 5, 30)],
    // An explicit zone keeps its meaning; epoch milliseconds stay accepted.
    ["2021-06-30T22:00:00Z", Date.UTC(2021, 5, 30, 22)],
    ["2021-06-30T22:00:00.000Z", Date.UTC(2021, 5, 30, 22)],
    ["2021-06-30T22:00:00+05:30", Date.UTC(2021, 5, 30, 16, 30)],
    ["2021-06-30T22:00:00-04:00", Date.UTC(2021, 6, 1, 2)],
    [Date.UTC(2021, 5, 30, 22), Date.UTC(2021, 5, 30, 22)],
  ];
  const got: Record<string, Record<string, number | string>> = {};
  const want: typeof got = {};
  for (const { tz, offsetMinutes } of HOST_ZONES) {
    const child = await decodeTsUnderTz(tz, cases.map(([ts]) => ts));
    assert.equal(child.offsetMinutes, offsetMinutes, `the child really runs under TZ=${tz}`);
    got[tz] = Object.fromEntries(cases.map(([ts], i) => [String(ts), child.results[i]]));
    want[tz] = Object.fromEntries(cases.map(([ts, ms]) => [String(ts), ms]));
  }
  assert.deepEqual(got, want);
});

Deno.test("decodeTick refuses free-form and non-ISO date strings under every host TZ", async () => {
  const strings = [
    "Jan 5 2021",
    "2021/01/05",
    "Tue, 05 Jan 2021 10:00:00 GMT", // RFC 2822
    "05 Jan 2021 10:00:00 +0000",
    "2021-01-05T10:00:00 GMT",
    "2021-1-5",
    "2021",
    "2021-01",
    "1609840800000", // epoch ms as a string is not a number
    " 2021-01-05",
    "2021-01-05T10",
    "2021-01-05T24:00:00",
    "2021-01-05T10:60",
  ];
  const accepted: string[] = [];
  for (const { tz } of HOST_ZONES) {
    const { results } = await decodeTsUnderTz(tz, strings);
    strings.forEach((ts, i) => {
      const result = String(results[i]);
      if (
        !/^InvalidTickError: ts ".*" is not (an ISO-8601 date|a real calendar date)/.test(result)
      ) {
        accepted.push(`TZ=${tz} ${JSON.stringify(ts)} -> ${result}`);
      }
    });
  }
  assert.deepEqual(accepted, [], "every one is refused with a reason");
  // The message says which forms are accepted.
  assert.throws(
    () => decodeTick(JSON.stringify({ symbol: "X", ts: "Jan 5 2021", close: 1 })),
    /ts "Jan 5 2021" is not an ISO-8601 date: expected YYYY-MM-DD.*no zone = UTC/,
  );
});

Deno.test("parseIsoTimestamp reads each ISO-8601 form and refuses impossible ones", () => {
  const cases: [string, number | string][] = [
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["2000-02-29", Date.UTC(2000, 1, 29)],
    ["1900-02-29", "is not a real calendar date or time"],
    ["2021-06-30t22:00:00z", Date.UTC(2021, 5, 30, 22)],
    ["2021-06-30T22:00:00,5", Date.UTC(2021, 5, 30, 22, 0, 0, 500)],
    // Fractions are cut to milliseconds, never rounded into the next day.
    ["2021-06-30T23:59:59.999999999", Date.UTC(2021, 5, 30, 23, 59, 59, 999)],
    ["2021-06-30T22:00:00+0530", Date.UTC(2021, 5, 30, 16, 30)],
    ["2021-06-30T22:00:00-03", Date.UTC(2021, 6, 1, 1)],
    ["0050-01-01", Date.parse("0050-01-01T00:00:00Z")], // year 50, not 1950 as Date.UTC reads it
    ["2023-02-29", "is not a real calendar date or time"],
    ["2021-04-31T00:00", "is not a real calendar date or time"],
    ["2021-01-05T24:00:00", "is not a real calendar date or time"],
    ["2021-01-05T23:59:60", "is not a real calendar date or time"],
    ["2021-01-05T10:00+24:00", "has an impossible time zone offset"],
    ["2021-01-05T10:00:00 +02:00", "not ISO-8601"],
    ["2021-01-05Z", "not ISO-8601"],
    ["+002021-01-05", "not ISO-8601"],
    ["", "not ISO-8601"],
  ];
  for (const [text, want] of cases) assert.equal(parseIsoTimestamp(text), want, text);
  assert.equal(new Date(parseIsoTimestamp("0050-01-01") as number).getUTCFullYear(), 50);
});

Deno.test("parseCalendarDate reads month names and ordered numeric dates at UTC, never guessing the order", () => {
  const jan5 = Date.UTC(2021, 0, 5);
  for (const text of ["Jan 5 2021", "January 5, 2021", "5-Jan-2021", "5 jan 2021", "2021/01/05"]) {
    assert.equal(parseCalendarDate(text), jan5, text);
  }
  assert.equal(parseCalendarDate("Sept. 30th, 2021"), Date.UTC(2021, 8, 30));
  assert.equal(parseCalendarDate("01/05/2021"), "needs a day order");
  assert.equal(parseCalendarDate("01/05/2021", "MM/DD/YYYY"), jan5);
  assert.equal(parseCalendarDate("05.01.2021 09:30", "DD/MM/YYYY"), Date.UTC(2021, 0, 5, 9, 30));
  assert.equal(parseCalendarDate("Feb 29 2021"), "is not a real calendar date or time");
  assert.equal(parseCalendarDate("Feb 29 2024"), Date.UTC(2024, 1, 29));
  for (const text of ["Jam 5 2021", "1/5/21", "2021-01-05", "Tue, 05 Jan 2021 10:00:00 GMT"]) {
    assert.equal(parseCalendarDate(text), "not a calendar date", text);
  }
});

/** The outcome of decoding: the tick, or the error message. */
function outcome(decode: () => Tick): Tick | string {
  try {
    return decode();
  } catch (error) {
    assert.ok(error instanceof InvalidTickError, String(error));
    return error.message;
  }
}

/** decodeTickBytes' outcome for `text`'s UTF-8 bytes, and decodeTick's (JSON.parse) for `text`. */
function bothPaths(text: string): [Tick | string, Tick | string] {
  return [
    outcome(() => decodeTickBytes(new TextEncoder().encode(text))),
    outcome(() => decodeTick(text)),
  ];
}

/** A seeded generator of uniform numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_PRICES = [
  ...[0, -0, 1e21, 1.5e300, 5e-7, 123456789012345680000, 0.1, 2 ** 53 + 2, -1, null],
  // 15 digits (read from the bytes) and 16 or more (the text path's).
  ...[999999999999999, 99999.9999999999, 0.00000123456789, 1234567890123456, 0.1234567890123456],
];
const ODD_SYMBOLS = ["NYA", "", " ", 'A"B', "A\\B", "ÆØÅ.OL", "\u0001", "N\nY", "🚀", "A/B"];

/** Wire texts of ticks with ordinary and odd values (escapes, exponents, nulls, old dates). */
function wireTexts(): string[] {
  const next = random(7);
  const texts: string[] = [];
  for (let i = 0; i < 400; i++) {
    const tick = { ...good, ts: Date.UTC(1890 + Math.floor(next() * 330), 0, 1) + i * 3_600_123 };
    for (const column of ["open", "high", "low", "close", "adj_close", "volume", "close_usd"]) {
      const odd = next() < 0.15;
      (tick as Record<string, unknown>)[column] = odd
        ? ODD_PRICES[Math.floor(next() * ODD_PRICES.length)]
        : Math.round(next() * 1e10) / 10 ** Math.floor(next() * 8);
    }
    if (next() < 0.2) tick.symbol = ODD_SYMBOLS[Math.floor(next() * ODD_SYMBOLS.length)];
    texts.push(encodeTick(tick));
  }
  return texts;
}

Deno.test("decodeTickBytes reads every wire text as decodeTick (JSON.parse) does, values and errors alike", () => {
  let ticks = 0;
  for (const text of wireTexts()) {
    const [fast, json] = bothPaths(text);
    assert.deepEqual(fast, json, text);
    if (typeof fast !== "string") ticks++;
  }
  assert.ok(ticks > 100, `${ticks} texts decoded`); // the comparison covered real ticks
});

Deno.test("decodeTickBytes agrees with decodeTick (JSON.parse) on mutated wire texts", () => {
  // Characters that break or bend the exact form: digits, signs, exponents, quotes, escapes,
  // separators, spaces, control characters, letters of null.
  const alphabet = '0123456789-+.eE"\\,:}{ nulx\u0001TZ';
  const next = random(11);
  const texts = wireTexts();
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    const text = texts[i % texts.length];
    const at = 1 + Math.floor(next() * (text.length - 1));
    const char = alphabet[Math.floor(next() * alphabet.length)];
    const kind = Math.floor(next() * 3);
    const mutated = kind === 0
      ? text.slice(0, at) + char + text.slice(at + 1)
      : kind === 1
      ? text.slice(0, at) + char + text.slice(at)
      : text.slice(0, at) + text.slice(at + 1);
    const [fast, json] = bothPaths(mutated);
    assert.deepEqual(fast, json, mutated);
    if (typeof fast !== "string" && mutated !== text) accepted++;
  }
  assert.ok(accepted > 1000, `${accepted} mutated texts were still ticks`);
});

Deno.test("decodeTickBytes keeps symbols apart whose bytes hash alike", () => {
  // "Aa" and "BB" collide in the 31-multiplier hash the symbol cache keys on.
  const base = { ts: 0, open: 1, high: 1, low: 1, close: 1, adj_close: 1, volume: 0, close_usd: 1 };
  const bytes = (symbol: string) => new TextEncoder().encode(encodeTick({ symbol, ...base }));
  for (const symbol of ["Aa", "BB", "Aa", "BB", "Ab"]) {
    assert.equal(decodeTickBytes(bytes(symbol)).symbol, symbol);
  }
});
