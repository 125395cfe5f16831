import assert from "node:assert/strict";
import {
  choiceFlag,
  durationFlag,
  numberFlag,
  parseDuration,
  parseFlags,
  parseSize,
  sizeFlag,
  UsageError,
} from "./cli.ts";

const SPEC = {
  lake: { type: "string", description: "Lake root" },
  gzip: { type: "boolean", description: "Gzip" },
} as const;

Deno.test("parseFlags reads known flags", () => {
  const { values } = parseFlags(["--lake", "x", "--gzip"], SPEC);
  assert.equal(values.lake, "x");
  assert.equal(values.gzip, true);
});

Deno.test("an unknown flag is a usage error that lists the accepted flags", () => {
  assert.throws(() => parseFlags(["--lak", "x"], SPEC), (e: unknown) => {
    assert.ok(e instanceof UsageError);
    assert.match((e as Error).message, /Unknown option '--lak'/);
    assert.match((e as Error).message, /--lake <value>/);
    return true;
  });
});

Deno.test("numberFlag and choiceFlag explain bad values", () => {
  assert.equal(numberFlag("limit", "1_000", { integer: true }), 1000);
  assert.equal(numberFlag("limit", undefined), undefined);
  assert.throws(
    () => numberFlag("limit", "ten", { integer: true }),
    /--limit must be a whole number/,
  );
  assert.throws(
    () => numberFlag("rate", "0", { positive: true }),
    /--rate must be a number above 0/,
  );
  assert.equal(choiceFlag("format", "jsonl", ["parquet", "jsonl"]), "jsonl");
  assert.throws(() => choiceFlag("format", "csv", ["parquet", "jsonl"]), /one of parquet, jsonl/);
});

Deno.test("durations take a unit and come back as milliseconds; bad ones say the shape", () => {
  assert.equal(parseDuration("2d"), 172_800_000);
  assert.equal(parseDuration(" 1.5h "), 5_400_000);
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("0s"), 0);
  assert.equal(parseDuration("250ms"), 250);
  for (const bad of ["10", "-1h", "1w", "h", ""]) assert.equal(parseDuration(bad), undefined, bad);
  assert.equal(durationFlag("older-than", undefined), undefined);
  assert.throws(() => durationFlag("older-than", "soon"), UsageError);
  assert.throws(() => durationFlag("older-than", "10"), /--older-than must be a duration.*2d/);
});

Deno.test("sizes take an optional unit and come back as bytes; bad ones say the shape", () => {
  assert.equal(parseSize("128MiB"), 134_217_728);
  assert.equal(parseSize("64 mb"), 64_000_000);
  assert.equal(parseSize("1_000"), 1000);
  assert.equal(parseSize("1.5KiB"), 1536);
  for (const bad of ["", "MiB", "-1MB", "1TB"]) assert.equal(parseSize(bad), undefined, bad);
  assert.throws(() => sizeFlag("target-size", "0"), /--target-size must be a size above 0/);
  assert.equal(sizeFlag("target-size", undefined), undefined);
});
