import assert from "node:assert/strict";
import { benchCompaction } from "./compaction.ts";
import { requireTestEnv } from "../testing/lake.ts";

Deno.test("the compaction bench times one query before and after compacting an S3 lake (moto)", async () => {
  const endpoint = requireTestEnv("AWS_ENDPOINT_URL", "moto, e.g. http://127.0.0.1:5000");
  const result = await benchCompaction({
    endpoint,
    days: 3,
    perDay: 40,
    rowsPerObject: 10,
    runs: 1,
  });
  assert.equal(result.rows, 3 * 40 * 3);
  assert.ok(result.objectsAfter < result.objectsBefore);
  assert.equal(result.figure.id, "query.compacted_ms");
  assert.ok(result.figure.value > 0 && result.figure.reference.value > 0);
  assert.equal(result.figure.ratio, result.figure.value / result.figure.reference.value);
});
