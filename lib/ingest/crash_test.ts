/**
 * Crash test of the lake consumer: `deno task consume` is SIGKILLed at random moments again and
 * again, restarted each time, and the lake must still hold every produced tick exactly once.
 * The kill schedule is seeded (env `CRASH_TEST_SEED`, printed on every run) so a failure replays.
 */

import assert from "node:assert/strict";
import { FsStore } from "../lake/fs_store.ts";
import { parseObjectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { pace } from "../source/pace.ts";
import { simulateTicks } from "../source/simulate.ts";
import type { Tick } from "../tick.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  evictGroupMembers,
  seededRandom,
  sendTicks,
  startScript,
  sumOffsets,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import {
  listLakeObjects,
  readLakeTicks,
  runTestPython,
  s3TestStore,
  tempLake,
} from "../testing/lake.ts";

const SEED = Number(Deno.env.get("CRASH_TEST_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = 5;

/** 14 symbols of 30-second bars over ~5 days: a 7,000-row flush often spans two dates. */
function crashTicks(barsPerSymbol: number): Tick[] {
  return [...simulateTicks({
    symbols: 14,
    count: barsPerSymbol,
    intervalMs: 30_000,
    start: Date.UTC(2024, 2, 4, 20),
    seed: SEED,
  })];
}

interface CrashRun {
  /** Committed offsets seen right after each kill, summed over partitions. */
  committedAfterKills: bigint[];
  /** Kills that left a checkpoint ahead of the committed offset (a range to replay). */
  killsBetweenCheckpointAndCommit: number;
}

/**
 * Produces `ticks` as a paced stream while it starts the consumer and SIGKILLs it KILLS times at
 * seeded random moments (each restart joins at once: the dead member is evicted rather than left
 * to its 30 s session timeout), then runs it to idle exit.
 */
async function consumeThroughCrashes(
  lakeUri: string,
  store: Store,
  topic: string,
  group: string,
  ticks: Tick[],
  random: () => number,
): Promise<CrashRun> {
  const kafka = testKafka();
  const args = [
    "--topic",
    topic,
    "--group",
    group,
    "--lake",
    lakeUri,
    "--idle-exit",
    "3",
    "--flush-rows",
    "7000",
    "--flush-seconds",
    "1",
  ];
  const producing = sendTicks(kafka, topic, pace(ticks, { rate: ticks.length / 20 }));
  const run: CrashRun = { committedAfterKills: [], killsBetweenCheckpointAndCommit: 0 };
  for (let kill = 1; kill <= KILLS; kill++) {
    const delayMs = Math.round(1000 + random() * 4000);
    const consumer = startScript("consume", args);
    const early = await Promise.race([
      consumer.done,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), delayMs)),
    ]);
    if (early) {
      assert.fail(
        `consume ended by itself before kill ${kill} (exit ${early.code}; seed ${SEED}):\n${early.stderr}`,
      );
    }
    consumer.child.kill("SIGKILL");
    const result = await consumer.done;
    assert.equal(result.signal, "SIGKILL", `seed ${SEED}: ${result.stderr}`);
    await evictGroupMembers(kafka, group);
    const committed = await committedOffsets(kafka, group, topic);
    run.committedAfterKills.push(sumOffsets(committed));
    for (const [partition, offset] of committed) {
      const bytes = await store.get(`_sink/${group}/${topic}+${partition}.json`);
      if (!bytes) continue;
      const checkpoint = JSON.parse(new TextDecoder().decode(bytes));
      if (BigInt(checkpoint.end) + 1n > offset) run.killsBetweenCheckpointAndCommit++;
    }
    console.log(
      `seed ${SEED}: kill ${kill} after ${delayMs} ms, committed ${
        [...committed].map(([p, o]) => `${p}:${o}`).join(" ")
      }`,
    );
  }
  assert.equal(await producing, ticks.length);
  const final = await startScript("consume", args).done;
  assert.equal(final.code, 0, `final consume failed (seed ${SEED}):\n${final.stderr}`);
  assert.match(final.stderr + final.stdout, /Done \(idle\)/);
  return run;
}

/** Checks the lake against the produced ticks and what the runs show. */
async function checkLake(
  store: Store,
  ticks: Tick[],
  topic: string,
  group: string,
  run: CrashRun,
): Promise<void> {
  const kafka = testKafka();
  assertExactlyOnce(await readLakeTicks(store), ticks);
  // Every partition is committed to its end.
  assert.deepEqual(await committedOffsets(kafka, group, topic), await endOffsets(kafka, topic));
  // The kills really fell mid-stream: at least two runs made progress and were killed before the
  // end of the topic.
  const total = BigInt(ticks.length);
  const midStream = run.committedAfterKills.filter((n, i) =>
    n > (run.committedAfterKills[i - 1] ?? 0n) && n < total
  );
  assert.ok(
    midStream.length >= 2,
    `seed ${SEED}: fewer than 2 kills fell mid-stream (committed after kills: ${run.committedAfterKills})`,
  );
  // Some ranges span two event dates, so a replay has to rewrite several objects per range.
  const datesPerRange = new Map<string, Set<string>>();
  for (const key of await listLakeObjects(store)) {
    const parsed = parseObjectKey(key);
    assert.ok(parsed, `unexpected lake object ${key}`);
    const range = `${parsed.partition}+${parsed.startOffset}`;
    if (!datesPerRange.has(range)) datesPerRange.set(range, new Set());
    datesPerRange.get(range)!.add(parsed.dt);
  }
  assert.ok(
    [...datesPerRange.values()].some((dates) => dates.size >= 2),
    "no flushed range spans two dt partitions",
  );
  console.log(
    `seed ${SEED}: ${datesPerRange.size} ranges, ` +
      `${run.killsBetweenCheckpointAndCommit} kill(s) between checkpoint and commit`,
  );
}

/** Counts rows and distinct (symbol, ts) with pyarrow, independently of nodejs-polars. */
const PYARROW_COUNT = `
import sys, json
import pyarrow.dataset as ds, pyarrow.fs as pafs, pyarrow.compute as pc
source = sys.argv[1]
if source.startswith("s3://"):
    cfg = json.loads(sys.argv[2])
    fs = pafs.S3FileSystem(endpoint_override=cfg["endpoint"], scheme="http", access_key="test",
                           secret_key="test", region="us-east-1")
    dataset = ds.dataset(source[5:] + "/ticks", format="parquet", partitioning="hive", filesystem=fs)
else:
    dataset = ds.dataset(source + "/ticks", format="parquet", partitioning="hive")
table = dataset.to_table(columns=["symbol", "ts", "dt"])
distinct = table.group_by(["symbol", "ts"]).aggregate([]).num_rows
print(json.dumps({"rows": table.num_rows, "distinct": distinct,
                  "dates": len(pc.unique(table["dt"]))}))
`;

async function pyarrowCount(source: string): Promise<{ rows: number; distinct: number }> {
  const endpoint = Deno.env.get("AWS_ENDPOINT_URL") ?? "";
  return JSON.parse(await runTestPython(PYARROW_COUNT, [source, JSON.stringify({ endpoint })]));
}

Deno.test({
  name:
    "a folder lake holds every one of 200,000 ticks exactly once after the consumer is SIGKILLed 5 times",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    console.log(`consumer crash test seed ${SEED} (set CRASH_TEST_SEED=${SEED} to replay)`);
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "crash-fs", partitions: 3 });
    await using lake = await tempLake();
    const ticks = crashTicks(14_286); // 200,004 ticks
    const run = await consumeThroughCrashes(
      lake.dir,
      lake.store,
      t.topic,
      t.group,
      ticks,
      seededRandom(SEED),
    );
    await checkLake(new FsStore(lake.dir), ticks, t.topic, t.group, run);
    const counted = await pyarrowCount(lake.dir);
    assert.equal(counted.rows, ticks.length, "pyarrow row count");
    assert.equal(counted.distinct, ticks.length, "pyarrow distinct (symbol, ts)");
  },
});

Deno.test({
  name: "an S3 lake on moto holds every tick exactly once after the consumer is SIGKILLed 5 times",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    console.log(`consumer crash test seed ${SEED} (set CRASH_TEST_SEED=${SEED} to replay)`);
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "crash-s3", partitions: 3 });
    await using s3 = await s3TestStore({ prefix: "lake" });
    const ticks = crashTicks(Number(Deno.env.get("CRASH_TEST_S3_BARS") ?? 7_143)); // 100,002
    const uri = `s3://${s3.bucket}/lake`;
    const run = await consumeThroughCrashes(
      uri,
      s3,
      t.topic,
      t.group,
      ticks,
      seededRandom(SEED + 1),
    );
    await checkLake(s3, ticks, t.topic, t.group, run);
    const counted = await pyarrowCount(`s3://${s3.bucket}/lake`);
    assert.equal(counted.rows, ticks.length, "pyarrow row count");
    assert.equal(counted.distinct, ticks.length, "pyarrow distinct (symbol, ts)");
  },
});
