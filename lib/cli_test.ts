import assert from "node:assert/strict";
import { choiceFlag, numberFlag, parseFlags, UsageError } from "./cli.ts";

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
