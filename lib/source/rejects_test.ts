import assert from "node:assert/strict";
import { formatReject, RejectsFile, rejectsPathFor } from "./rejects.ts";
import { parseCsvFields } from "./csv.ts";

Deno.test("formatReject reports file:line: reason", () => {
  assert.equal(
    formatReject({ file: "data/x.csv", line: 17, reason: "close is empty", raw: "a,b" }),
    "data/x.csv:17: close is empty",
  );
});

Deno.test("rejectsPathFor puts the rejects of a file under rejects/ by its base name", () => {
  assert.equal(rejectsPathFor("data/indexData.csv"), "rejects/indexData.csv.rejects.csv");
  assert.equal(rejectsPathFor("/tmp/a/b.csv", "out/"), "out/b.csv.rejects.csv");
});

Deno.test("RejectsFile appends quoted rows under one header and keeps the raw line intact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/nested/x.rejects.csv`;
    const raw = 'NYA,2020-01-01,"1,5",say "hi"';
    {
      using rejects = await RejectsFile.open(path);
      rejects.add({ file: "x.csv", line: 2, reason: 'open "1,5" is not a number', raw });
      assert.equal(rejects.count, 1);
    }
    {
      using rejects = await RejectsFile.open(path);
      rejects.add({ file: "x.csv", line: 9, reason: "empty symbol", raw: ",2020" });
    }
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assert.equal(lines.length, 3, "the header is written once");
    assert.equal(lines[0], "file,line,reason,raw");
    assert.deepEqual(parseCsvFields(lines[1]), ["x.csv", "2", 'open "1,5" is not a number', raw]);
    assert.deepEqual(parseCsvFields(lines[2]), ["x.csv", "9", "empty symbol", ",2020"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("RejectsFile refuses writes after close and explains an unwritable path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const rejects = await RejectsFile.open(`${dir}/r.csv`);
    rejects.close();
    rejects.close();
    assert.throws(
      () => rejects.add({ file: "f", line: 1, reason: "r", raw: "" }),
      /rejects file ".*r\.csv" is closed/,
    );
    await Deno.writeTextFile(`${dir}/file`, "");
    await assert.rejects(
      () => RejectsFile.open(`${dir}/file/r.csv`),
      /Cannot open the rejects file ".*file\/r\.csv".*Pass a writable path with --rejects/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
