/**
 * The walking skeleton's guarantees, exercised as a user would: `deno task produce` and
 * `deno task consume` as child processes against the real broker, and the lake read back.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { readCsvTicks } from "../source/csv.ts";
import { simulateTicks } from "../source/simulate.ts";
import type { Tick } from "../tick.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  REPO_ROOT,
  runScript,
  sendTicks,
  testKafka,
  type TestTopic,
  testTopic,
} from "../testing/kafka.ts";
import { readLakeTicks, runTestPython, tempLake, withPut } from "../testing/lake.ts";
import { MemoryLogger } from "../log.ts";
import { CheckpointLog } from "../lake/checkpoint_log.ts";
import { type ConsumeResult, consumeToLake } from "./consume_to_lake.ts";
import type { Store } from "../lake/store.ts";

/** The count in the consumer's summary line `Done (idle): 1,234 messages, …`. */
function summaryMessages(output: string): number {
  const match = output.match(/Done \((\w+)\): ([\d,]+) messages/);
  assert.ok(match, `no summary line in:\n${output}`);
  return Number(match[2].replaceAll(",", ""));
}

async function collect(ticks: AsyncIterable<Tick>): Promise<Tick[]> {
  const all: Tick[] = [];
  for await (const tick of ticks) all.push(tick);
  return all;
}

Deno.test({
  name:
    "data/stock_data.csv goes through deno task produce and consume into the lake with every row exactly once and equal values",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "skeleton" });
    await using lake = await tempLake();
    const file = join(REPO_ROOT, "data/stock_data.csv");
    const expected = await collect(readCsvTicks(file));
    assert.equal(expected.length, 50_400);

    const produced = await runScript("produce", [
      "--file",
      file,
      "--topic",
      t.topic,
      "--speed",
      "max",
      "--rejects",
      join(lake.dir, "rejects.csv"),
    ]);
    assert.match(produced.stderr + produced.stdout, /50,400 messages sent/);
    const consumed = await runScript("consume", [
      "--topic",
      t.topic,
      "--group",
      t.group,
      "--lake",
      lake.dir,
      "--idle-exit",
      "5",
      "--dt-granularity",
      "month",
    ]);
    assert.equal(summaryMessages(consumed.stderr + consumed.stdout), 50_400);
    assertExactlyOnce(await readLakeTicks(lake.store), expected);
    assert.deepEqual(
      await committedOffsets(kafka, t.group, t.topic),
      await endOffsets(kafka, t.topic),
    );

    // DuckDB reads the folder as a hive-partitioned table with the same rows.
    const counted = JSON.parse(
      await runTestPython(
        `import sys, json, duckdb
row = duckdb.connect().execute(f"select count(*), count(distinct (symbol, ts)), count(distinct dt), sum(volume) " +
                 f"from read_parquet('{sys.argv[1]}/ticks/**/*.parquet', hive_partitioning=true)").fetchone()
print(json.dumps({"rows": row[0], "distinct": row[1], "dts": row[2], "volume": row[3]}))`,
        [lake.dir],
      ),
    );
    assert.equal(counted.rows, 50_400);
    assert.equal(counted.distinct, 50_400);
    const months = new Set(expected.map((x) => new Date(x.ts).toISOString().slice(0, 7)));
    assert.equal(counted.dts, months.size, "one dt partition per month");
    const volume = expected.reduce((sum, x) => sum + (x.volume ?? 0), 0);
    assert.ok(Math.abs(counted.volume - volume) / volume < 1e-9, "sum of volume");
  },
});

Deno.test({
  name:
    "a restarted consumer continues from its committed offset: the second run receives exactly the new messages",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "restart" });
    await using lake = await tempLake();
    const all = [...simulateTicks({ symbols: 7, count: 1_000, intervalMs: 60_000, seed: 5 })];
    const first = all.slice(0, 4_200);
    const second = all.slice(4_200);
    const consume = async () =>
      summaryMessages(
        (await runScript("consume", [
          "--topic",
          t.topic,
          "--group",
          t.group,
          "--lake",
          lake.dir,
          "--idle-exit",
          "3",
          "--flush-rows",
          "1000",
        ])).stderr,
      );

    await sendTicks(kafka, t.topic, first);
    assert.equal(await consume(), first.length);
    assertExactlyOnce(await readLakeTicks(lake.store), first);

    await sendTicks(kafka, t.topic, second);
    assert.equal(await consume(), second.length, "the second run re-read old messages");
    assertExactlyOnce(await readLakeTicks(lake.store), all);

    assert.equal(await consume(), 0, "a third run with nothing new receives nothing");
    assertExactlyOnce(await readLakeTicks(lake.store), all);
  },
});

Deno.test({
  name:
    "deno task produce reports every broken CSV row as file:line: reason, keeps it in the rejects file, and every good row reaches the lake",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "rejects" });
    await using lake = await tempLake();
    const csv = join(lake.dir, "broken.csv");
    const rejectsPath = join(lake.dir, "broken.rejects.csv");
    const lines = [
      "Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD",
      "NYA,2021-02-25,100,110,90,105,105,1000,105", // 2 good
      "NYA,2021-02-26,100,110,90,105", // 3 field count
      "NYA,2021-03-01,NaN,110,90,105,105,1000,105", // 4 NaN
      "NYA,2021-03-02,100,110,90,-105,-105,1000,105", // 5 negative
      "HSI,2021-03-01,100,90,110,105,105,1000,13", // 6 high < low
      "HSI,2021-02-30,100,110,90,105,105,1000,13", // 7 impossible date
      ",2021-03-03,100,110,90,105,105,1000,105", // 8 empty symbol
      "HSI,2021-03-02,100,110,90,105,105,1000,13", // 9 good
      "HSI,2021-03-03,100,110,90,105,105,1000,13", // 10 good
    ];
    await Deno.writeTextFile(csv, lines.join("\n") + "\n");
    const produced = await runScript("produce", [
      "--file",
      csv,
      "--topic",
      t.topic,
      "--rejects",
      rejectsPath,
    ]);
    const bad: [number, RegExp][] = [
      [3, /field|column/i],
      [4, /open|number|NaN/i],
      [5, /negative/i],
      [6, /high 90 is below low 110/i],
      [7, /2021-02-30|date/i],
      [8, /symbol/i],
    ];
    for (const [line, reason] of bad) {
      const reported = produced.stderr.split("\n").find((l) => l.includes(`${csv}:${line}: `));
      assert.ok(reported, `line ${line} is not reported on stderr:\n${produced.stderr}`);
      assert.match(reported, reason, `line ${line}`);
    }
    const rejects = (await Deno.readTextFile(rejectsPath)).trim().split("\n");
    assert.equal(rejects[0], "file,line,reason,raw");
    assert.equal(rejects.length, 1 + bad.length, rejects.join("\n"));
    for (const [line] of bad) {
      assert.ok(
        rejects.some((r) => r.includes(`,${line},`) && r.includes(lines[line - 1].slice(0, 14))),
      );
    }

    const result = await runScript("consume", [
      "--topic",
      t.topic,
      "--group",
      t.group,
      "--lake",
      lake.dir,
      "--idle-exit",
      "3",
    ]);
    assert.equal(summaryMessages(result.stderr), 3);
    const good = await collect(readCsvTicks(csv));
    assert.equal(good.length, 3);
    assertExactlyOnce(await readLakeTicks(lake.store), good);
  },
});

Deno.test({
  name:
    "idle exit waits for a slow flush: a consumer busy writing many objects still consumes the whole topic",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A flush of daily bars writes one object per day, which takes longer than idleExitSeconds;
    // idleness must count from the end of the last batch, not from its arrival.
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "idle", partitions: 3 });
    await using lake = await tempLake();
    const ticks = [...simulateTicks({ symbols: 6, count: 600, seed: 9 })]; // daily bars
    await sendTicks(kafka, t.topic, ticks);
    const result = await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store: lake.store,
      flushRows: 500,
      idleExitSeconds: 1,
    });
    assert.equal(result.stoppedBy, "idle");
    assert.equal(result.messages, ticks.length, "stopped as idle with messages left unread");
    assertExactlyOnce(await readLakeTicks(lake.store), ticks);
  },
});

Deno.test({
  name:
    "--from-beginning while another member of the group runs says to stop it, not that the broker is unreachable",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "reset-busy" });
    await using lake = await tempLake();
    await sendTicks(kafka, t.topic, [...simulateTicks({ symbols: 3, count: 10, seed: 1 })]);
    // Another member of the group, joined and running.
    const member = kafka.consumer({ groupId: t.group });
    await member.connect();
    let joined!: () => void;
    const isJoined = new Promise<void>((resolve) => joined = resolve);
    member.on(member.events.GROUP_JOIN, () => joined());
    await member.subscribe({ topics: [t.topic], fromBeginning: true });
    await member.run({ eachMessage: async () => {} });
    try {
      await isJoined;
      const result = await runScript("consume", [
        "--topic",
        t.topic,
        "--group",
        t.group,
        "--lake",
        lake.dir,
        "--from-beginning",
        "--idle-exit",
        "3",
      ], { allowFailure: true });
      assert.notEqual(result.code, 0);
      assert.match(
        result.stderr,
        new RegExp(`Cannot reset group ${t.group} to the beginning of ${t.topic}: other members`),
      );
      assert.match(result.stderr, /leave out --from-beginning/);
      assert.doesNotMatch(result.stderr, /Check that the broker is running/);

      await member.disconnect();
      // Alone in the group, the reset goes through and the topic is read from its start.
      const alone = await consumeToLake(kafka, {
        topic: t.topic,
        group: t.group,
        store: lake.store,
        fromBeginning: true,
        idleExitSeconds: 3,
      });
      assert.equal(alone.messages, 30);
    } finally {
      await member.disconnect();
    }
  },
});

Deno.test({
  name: "progress is reported as the first messages arrive, not only on the 250 ms tick",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "first-report" });
    await using lake = await tempLake();
    await sendTicks(kafka, t.topic, [...simulateTicks({ symbols: 1, count: 5, seed: 2 })]);
    const reports: { messages: number; final: boolean }[] = [];
    // The first fetch stops the run at once (max 1 message): without a report on arrival, the
    // only report with messages would be the final one.
    const result = await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store: lake.store,
      maxMessages: 1,
      onProgress: (p) => reports.push({ messages: p.messages, final: "stoppedBy" in p }),
    });
    assert.equal(result.stoppedBy, "limit");
    const first = reports.find((r) => r.messages > 0);
    assert.ok(first, `no report with messages: ${JSON.stringify(reports)}`);
    assert.equal(
      first.final,
      false,
      `only the final report had messages: ${JSON.stringify(reports)}`,
    );
    assert.equal(first.messages, 5);
  },
});

/**
 * Consumes `ticks` from a fresh one-partition topic into a temp lake whose object writes go
 * through `put` (made from the lake's store and the topic), one record batch per fetch and a flush
 * per batch; checks that every tick landed once and the whole topic is committed.
 */
async function consumeThroughPut(
  prefix: string,
  ticks: readonly Tick[],
  put: (store: Store, topic: TestTopic) => (key: string, body: Uint8Array) => Promise<void>,
): Promise<{ result: ConsumeResult; logger: MemoryLogger }> {
  const kafka = testKafka();
  await using t = await testTopic(kafka, { prefix, partitions: 1 });
  await using lake = await tempLake();
  await sendTicks(kafka, t.topic, ticks);
  const logger = new MemoryLogger();
  const result = await consumeToLake(kafka, {
    topic: t.topic,
    group: t.group,
    store: withPut(lake.store, put(lake.store, t)),
    logger,
    flushRows: 400,
    maxBytesPerPartition: 8 * 1024, // one record batch per fetch
    idleExitSeconds: 3,
  });
  assertExactlyOnce(await readLakeTicks(lake.store), ticks);
  assert.deepEqual(
    await committedOffsets(kafka, t.group, t.topic),
    new Map([[0, BigInt(ticks.length)]]),
  );
  return { result, logger };
}

Deno.test({
  name:
    "a batch the sink fails to take, with a batch handed on behind it, is fetched again from what the lake holds",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // 4,000 ticks: two record batches of 2,000 (the producer's requests), the last of the topic.
    const ticks = [...simulateTicks({ symbols: 4, count: 1000, seed: 21 })];
    // The third object write (of the first batch's range) fails, half a second late, with an
    // error the sink does not retry itself and the job retries (a Kafka-side transient, as a
    // refused commit would be). By then the second batch has been handed on and the consumer's
    // position is the end of the topic: no later fetch would bring its rows again.
    let puts = 0;
    const { result, logger } = await consumeThroughPut(
      "pipeline-retry",
      ticks,
      (store) => async (key, body) => {
        if (key.startsWith("ticks/") && ++puts === 3) {
          await new Promise((resolve) => setTimeout(resolve, 500));
          const error = new Error("injected: the connection dropped");
          error.name = "KafkaJSConnectionError";
          throw error;
        }
        return store.put(key, body);
      },
    );
    assert.ok(
      logger.lines.some((line) => /Batch of partition 0 failed, retrying: .*injected/.test(line)),
      `the failure did not reach the job:\n${logger.lines.join("\n")}`,
    );
    assert.ok(
      result.messages > ticks.length,
      `the batch handed on behind the failed one was not fetched again (${result.messages} messages)`,
    );
    assert.equal(result.stoppedBy, "idle");
  },
});

Deno.test({
  name:
    "a takeover found by a batch handed on makes the member rejoin, and it resumes from what is durable",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // 6,000 ticks: three record batches of 2,000, each a flush (400 rows at least).
    const ticks = [...simulateTicks({ symbols: 4, count: 1500, seed: 22 })];
    // During the first range's object writes another writer claims the partition's checkpoint
    // log (as a member that took it over would): the next range's record is refused.
    let tookOver = false;
    const { result, logger } = await consumeThroughPut(
      "pipeline-rejoin",
      ticks,
      (store, t) => async (key, body) => {
        if (key.startsWith("ticks/") && !tookOver) {
          tookOver = true;
          const other = new CheckpointLog({
            store,
            group: t.group,
            topic: t.topic,
            partition: 0,
            writer: "the other member",
          });
          await other.claim();
        }
        return store.put(key, body);
      },
    );
    assert.ok(tookOver);
    assert.ok(result.rejoins >= 1, `no rejoin:\n${logger.lines.join("\n")}`);
    assert.ok(result.fenced >= 1, "the sink never saw the takeover");
  },
});
