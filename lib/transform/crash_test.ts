/**
 * `deno task transform` SIGKILLed mid-run, on a folder and on an S3 (moto) lake: every curated
 * partition is then either its old or its new version, as exactly one live object, and a rerun
 * finishes with the same bytes as an uninterrupted run. Needs AWS_ENDPOINT_URL (moto).
 */

import assert from "node:assert/strict";
import { encodeTicks } from "../lake/encode.ts";
import { objectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { startTracedScript } from "../testing/faults.ts";
import { s3TestStore, tempLake } from "../testing/lake.ts";
import { sampleTicks, writeTestLake } from "../testing/query.ts";
import { type Tick, utcDate } from "../tick.ts";
import { BARS_DAILY } from "./bars_daily.ts";
import { tablePartitions } from "./publish.ts";
import { transformLake } from "./transform.ts";

const TICKS = sampleTicks({ symbols: ["HSI", "N225"], days: 160 });
const DAYS = [...new Set(TICKS.map((t) => utcDate(t.ts)))].sort();

/** One more tick per day, in an object of its own: every partition's input changes. */
async function addLateTicks(store: Store): Promise<void> {
  for (const day of DAYS) {
    const tick: Tick = { ...TICKS[0], ts: Date.parse(`${day}T23:59:59.999Z`), close: 4242 };
    const key = objectKey({
      dt: day,
      topic: "stock_market",
      partition: 9,
      startOffset: 0,
      format: "parquet",
    });
    await store.put(key, encodeTicks([tick], { format: "parquet" }));
  }
}

/** The bytes of each bars_daily partition's one live object (fails on a partition seen twice). */
async function liveBars(store: Store): Promise<Map<string, string>> {
  const bars = new Map<string, string>();
  for (const [dt, objects] of await tablePartitions(store, BARS_DAILY)) {
    assert.equal(objects.length, 1, `dt=${dt}: readers see ${objects.length} objects`);
    bars.set(dt, new TextDecoder("latin1").decode(await store.get(objects[0].key)));
  }
  return bars;
}

async function crashMidRun(store: Store, lakeUri: string): Promise<void> {
  await writeTestLake(store, TICKS);
  await transformLake({ store });
  const old = await liveBars(store);
  assert.equal(old.size, DAYS.length);

  // The reference: the same input transformed without interruption, in another lake.
  await using reference = await tempLake();
  await writeTestLake(reference.store, TICKS);
  await addLateTicks(reference.store);
  await transformLake({ store: reference.store });
  const fresh = await liveBars(reference.store);

  await addLateTicks(store);
  const script = startTracedScript("transform", ["--lake", lakeUri, "--verbose"]);
  const rebuilt = /bars_daily dt=\S+: rebuilt \((\d+)\//;
  let since = 0;
  for (let seen = 0; seen < 5; seen++) {
    since = (await script.nextLine(rebuilt, { since, timeoutMs: 60_000 })).at + 1e-6;
  }
  script.child.kill("SIGKILL");
  const ended = await script.done;
  assert.equal(ended.signal, "SIGKILL", `the transform was killed, not finished:\n${ended.stderr}`);

  const after = await liveBars(store);
  assert.equal(after.size, DAYS.length, "no partition disappeared");
  let olds = 0, news = 0;
  for (const day of DAYS) {
    const bytes = after.get(day);
    if (bytes === old.get(day)) olds++;
    else if (bytes === fresh.get(day)) news++;
    else assert.fail(`dt=${day} is neither its old nor its new version`);
  }
  assert.ok(news >= 5 && olds >= 1, `killed mid-run (${news} new, ${olds} old partitions)`);

  const rerun = await transformLake({ store });
  assert.ok(rerun.written.length <= olds, "the rerun rewrites only what was still old");
  assert.deepEqual(await liveBars(store), fresh, "the rerun ends where an uninterrupted run does");
  const third = await transformLake({ store });
  assert.deepEqual([third.rebuilt, third.written], [[], []]);
}

Deno.test("a transform SIGKILLed mid-run leaves each partition old or new, once; a rerun finishes (folder)", async () => {
  await using lake = await tempLake();
  await crashMidRun(lake.store, lake.dir);
});

Deno.test("a transform SIGKILLed mid-run leaves each partition old or new, once; a rerun finishes (S3)", async () => {
  await using s3 = await s3TestStore();
  await crashMidRun(s3, `s3://${s3.bucket}`);
});
