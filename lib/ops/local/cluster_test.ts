/**
 * Leader-kill drill on a real 3-broker KRaft cluster: while the project's idempotent producer
 * streams ticks and `deno task consume` (a child process) sinks them into a folder lake, the
 * leader of partition 0 is SIGKILLed mid-produce, restarted, and the new leader is SIGKILLed
 * again mid-consume. Every tick the producer acknowledged must be in the lake exactly once,
 * recounted independently with pyarrow.
 *
 * The cluster is this test's own (a temp folder, free ports, the shared jars): the broker of
 * `deno task test` on 9092 is never touched. Env `CLUSTER_TEST_SEED` replays a run's ticks.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Kafka } from "kafkajs";
import { ensureTopic } from "../../kafka/admin.ts";
import { createKafka } from "../../kafka/client.ts";
import { createTickProducer, produceTicks } from "../../kafka/producer.ts";
import { FsStore } from "../../lake/fs_store.ts";
import { pace } from "../../source/pace.ts";
import { simulateTicks } from "../../source/simulate.ts";
import { MemoryLogger } from "../../log.ts";
import type { Tick } from "../../tick.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  formatOffsets,
  type ScriptResult,
  startScript,
  sumOffsets,
  tickKey,
} from "../../testing/kafka.ts";
import { readLakeTicks, runTestPython, tempLake } from "../../testing/lake.ts";
import { LocalBroker, LocalCluster } from "./local_broker.ts";

const SEED = Number(Deno.env.get("CLUSTER_TEST_SEED") ?? Math.floor(Math.random() * 2 ** 31));
/** 14 symbols × 3,000 one-minute bars. */
const BARS_PER_SYMBOL = 3_000;
/** Messages per second the producer is paced at: the stream lasts ~40 s plus the failovers. */
const RATE = 1_000;
/** The whole test, cluster start and stop included, must end within this. */
const TEST_DEADLINE_MS = 240_000;

const SHARED_CACHE = fileURLToPath(new URL("../../../.cache/kafka", import.meta.url));

/**
 * A first port P with P…P+2 (clients) and P+100…P+102 (controllers) all free on 127.0.0.1, below
 * Linux's ephemeral range (32768+), where outgoing connections could take one before a node binds.
 */
function freePortBase(): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 22_000 + Math.floor(Math.random() * 7_000);
    const ports = [0, 1, 2, 100, 101, 102].map((offset) => base + offset);
    const listeners: Deno.Listener[] = [];
    try {
      for (const port of ports) listeners.push(Deno.listen({ hostname: "127.0.0.1", port }));
      return base;
    } catch {
      // Taken; try another base.
    } finally {
      for (const listener of listeners) listener.close();
    }
  }
  throw new Error("No free block of ports for the test cluster.");
}

/** Polls `check` every 200 ms until it is true; fails naming `what` after `timeoutMs`. */
async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`Timed out after ${timeoutMs / 1000} s waiting for ${what}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return Date.now() - started;
}

/** Partition metadata of a topic: leader and in-sync replicas by partition. */
async function partitionsOf(
  kafka: Kafka,
  topic: string,
): Promise<{ partitionId: number; leader: number; replicas: number[]; isr: number[] }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0].partitions;
  } finally {
    await admin.disconnect();
  }
}

/** The node that leads partition 0 of `topic` now. */
async function leaderOfPartition0(kafka: Kafka, topic: string): Promise<number> {
  const partition = (await partitionsOf(kafka, topic)).find((p) => p.partitionId === 0);
  assert.ok(partition && partition.leader >= 1, `partition 0 of ${topic} has no leader`);
  return partition.leader;
}

/** What {@linkcode fullyInSync} saw last: partitions short of replicas, or the error. */
let lastSyncState = "";

/** Whether every partition of each topic has all `replicas` in sync. */
async function fullyInSync(kafka: Kafka, topics: string[], replicas: number): Promise<boolean> {
  try {
    const short: string[] = [];
    for (const topic of topics) {
      const partitions = await partitionsOf(kafka, topic);
      if (partitions.length === 0) short.push(`${topic}: no partitions`);
      for (const p of partitions.filter((p) => p.isr.length < replicas)) {
        short.push(`${topic}-${p.partitionId} leader ${p.leader} isr [${p.isr}]`);
      }
    }
    lastSyncState = short.join("; ");
    return short.length === 0;
  } catch (error) {
    lastSyncState = String(error);
    return false; // Metadata is briefly unavailable while a node rejoins.
  }
}

/** Rows, distinct (symbol, ts) and per-symbol count / Σts / min / max, read with pyarrow alone. */
const PYARROW_RECOUNT = `
import sys, json
import pyarrow as pa, pyarrow.dataset as ds
table = ds.dataset(sys.argv[1] + "/ticks", format="parquet", partitioning="hive").to_table(
    columns=["symbol", "ts"])
keys = pa.table({"symbol": table["symbol"], "ms": table["ts"].cast(pa.int64())})
distinct = keys.group_by(["symbol", "ms"]).aggregate([]).num_rows
per = keys.group_by("symbol").aggregate([("ms", "count"), ("ms", "sum"), ("ms", "min"), ("ms", "max")])
print(json.dumps({
    "rows": table.num_rows,
    "distinct": distinct,
    "perSymbol": {r["symbol"]: [r["ms_count"], str(r["ms_sum"]), r["ms_min"], r["ms_max"]]
                  for r in per.to_pylist()},
}))
`;

/** The same per-symbol figures as {@linkcode PYARROW_RECOUNT}, from the acknowledged ticks. */
function expectedPerSymbol(
  ticks: readonly Tick[],
): Record<string, [number, string, number, number]> {
  const per = new Map<string, { count: number; sum: bigint; min: number; max: number }>();
  for (const tick of ticks) {
    const entry = per.get(tick.symbol) ?? { count: 0, sum: 0n, min: Infinity, max: -Infinity };
    entry.count++;
    entry.sum += BigInt(tick.ts);
    entry.min = Math.min(entry.min, tick.ts);
    entry.max = Math.max(entry.max, tick.ts);
    per.set(tick.symbol, entry);
  }
  return Object.fromEntries(
    [...per].map(([symbol, e]) => [symbol, [e.count, String(e.sum), e.min, e.max]]),
  );
}

/**
 * For a failure message: the acknowledged ticks missing from the lake, as runs of producer indices
 * with their symbols, and which acknowledged send each run was in (ms relative to the kills).
 */
function describeMissing(
  lake: readonly Tick[],
  acknowledged: readonly Tick[],
  acks: readonly { at: number; sent: number }[],
  kills: readonly number[],
): string {
  const seen = new Set(lake.map(tickKey));
  const runs: [number, number][] = [];
  acknowledged.forEach((tick, i) => {
    if (seen.has(tickKey(tick))) return;
    const last = runs[runs.length - 1];
    if (last && last[1] === i - 1) last[1] = i;
    else runs.push([i, i]);
  });
  if (runs.length === 0) return "none missing";
  return runs.slice(0, 10).map(([from, to]) => {
    const ack = acks.find((a) => a.sent > to);
    const symbols = new Set(acknowledged.slice(from, to + 1).map((t) => t.symbol));
    const relative = ack
      ? kills.map((k, n) => `kill ${n + 1}${ack.at - k >= 0 ? "+" : ""}${ack.at - k} ms`)
      : [];
    return `ticks ${from}…${to} (${to - from + 1}; ${[...symbols].join(",")}) acked ${
      relative.join(", ")
    } ` +
      `in the send ending at ${ack?.sent}`;
  }).join("\n") + (runs.length > 10 ? `\n… ${runs.length} runs` : "");
}

/** The longest wait, from `since` on, for the producer's next acknowledgement. */
function longestAckGap(acks: readonly { at: number; sent: number }[], since: number): number {
  let previous = since;
  let longest = 0;
  for (const ack of acks.filter((a) => a.at >= since)) {
    longest = Math.max(longest, ack.at - previous);
    previous = ack.at;
  }
  return longest;
}

/** Rejects after `ms` unless `promise` settles first. */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not finish within ${ms / 1000} s.`)),
      ms,
    );
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

Deno.test({
  name:
    "a 3-broker cluster loses the leader of partition 0 mid-produce and again mid-consume, and the lake holds every acknowledged tick exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const testStarted = Date.now();
    const elapsed = () => `${((Date.now() - testStarted) / 1000).toFixed(1)} s`;
    const log = (line: string) => console.log(`[cluster test ${elapsed()}] ${line}`);
    log(`seed ${SEED} (set CLUSTER_TEST_SEED=${SEED} to replay the ticks)`);

    const jarsDir = (await new LocalBroker({ cacheDir: SHARED_CACHE }).ensureJars()).jarsDir;
    const cacheDir = await Deno.makeTempDir({ prefix: "cluster_test_" });
    const cluster = new LocalCluster({ cacheDir, jarsDir, brokers: 3, port: freePortBase() });
    await using lake = await tempLake();
    const brokers = cluster.bootstrap.split(",");
    // kafkajs warnings (retries, leader moves) are kept and printed when the test fails.
    const clientLog = new MemoryLogger();
    const kafka = createKafka({ brokers, clientId: "cluster-test", logger: clientLog });
    const producer = createTickProducer(kafka);
    const stopProducing = new AbortController();
    let consumer: ReturnType<typeof startScript> | undefined;

    const run = async () => {
      const up = await cluster.start();
      assert.deepEqual(up.started, [1, 2, 3]);
      log(`cluster up on ${cluster.bootstrap} (${cacheDir})`);

      const topic = "ticks";
      const group = "cluster-test-lake";
      const info = await ensureTopic(kafka, { topic, partitions: 3, brokers });
      assert.deepEqual(
        { replicationFactor: info.replicationFactor, minIsr: info.minInsyncReplicas },
        { replicationFactor: 3, minIsr: 2 },
        "a topic on 3 brokers gets 3 replicas and min.insync.replicas 2",
      );

      const ticks = [...simulateTicks({
        symbols: 14,
        count: BARS_PER_SYMBOL,
        intervalMs: 60_000,
        start: Date.UTC(2024, 2, 4),
        seed: SEED,
      })];

      // `deno task consume` into the lake. A run that ends with an error is started again (as a
      // supervisor would), so the lake can still be checked, and the test fails at the end.
      const consumeArgs = [
        "--brokers",
        cluster.bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--lake",
        lake.dir,
        // Longer than a failover (broker session timeout 9 s + election), so a stall is no exit.
        "--idle-exit",
        "25",
        "--flush-rows",
        "5000",
        "--flush-seconds",
        "1",
        "--session-timeout",
        "10",
      ];
      const consumerFailures: string[] = [];
      let consumerEnded: ScriptResult | undefined;
      const startConsumer = () => {
        consumerEnded = undefined;
        consumer = startScript("consume", consumeArgs);
        consumer.done.then((result) => consumerEnded = result);
      };
      /** Restarts a consume run that has ended with an error; fails on one that ended cleanly. */
      const superviseConsumer = () => {
        if (consumerEnded === undefined) return;
        const ended = consumerEnded;
        const output = `${ended.stderr}\n${ended.stdout}`;
        assert.notEqual(ended.code, 0, `consume ended while ticks were still coming:\n${output}`);
        consumerFailures.push(
          `at ${elapsed()}, exit ${ended.code}:\n${
            output.trimEnd().split("\n").slice(-12).join("\n")
          }`,
        );
        log(`consume exited with ${ended.code}; starting it again`);
        startConsumer();
      };
      startConsumer();

      await producer.connect();
      const acks: { at: number; sent: number }[] = [];
      let acked = 0;
      const producing = produceTicks(
        producer,
        pace(ticks, { rate: RATE }, { signal: stopProducing.signal }),
        {
          topic,
          brokers,
          batchSize: 500,
          signal: stopProducing.signal,
          onProgress: (p) => {
            acked = p.sent;
            acks.push({ at: Date.now(), sent: p.sent });
          },
        },
      );
      const producerFailed = producing.then(() => false, () => true);
      /** Rethrows the producer's error once it has failed; supervises the consumer. */
      const checkStreams = async () => {
        if (await Promise.race([producerFailed, Promise.resolve(false)])) await producing;
        superviseConsumer();
      };

      // Kill 1, mid-produce: the leader of partition 0, once a fifth of the stream is acknowledged.
      await waitFor("a fifth of the ticks acknowledged", async () => {
        await checkStreams();
        return acked >= ticks.length / 5;
      }, 60_000);
      const leader1 = await leaderOfPartition0(kafka, topic);
      const ackedAtKill1 = acked;
      const committedAtKill1 = sumOffsets(await committedOffsets(kafka, group, topic));
      const kill1At = Date.now();
      assert.equal((await cluster.killNode(leader1)).outcome, "killed");
      log(
        `kill 1: node ${leader1} (leader of partition 0) SIGKILLed at ${ackedAtKill1} acks ` +
          `(${committedAtKill1} offsets committed)`,
      );

      await waitFor("the producer to get acks again after kill 1", async () => {
        await checkStreams();
        return acked >= ackedAtKill1 + 2_000;
      }, 90_000);
      const leaderAfterKill1 = await leaderOfPartition0(kafka, topic);
      assert.notEqual(leaderAfterKill1, leader1, "partition 0 got a new leader");
      log(
        `producer acknowledging again (longest wait for an ack after kill 1: ` +
          `${longestAckGap(acks, kill1At)} ms); partition 0 now led by node ${leaderAfterKill1}`,
      );

      // Restart the killed node and wait until it is back in every ISR (so the next kill leaves
      // two in-sync replicas everywhere).
      const restart = await cluster.start();
      assert.deepEqual(restart.started, [leader1]);
      const inSyncMs = await waitFor(
        `node ${leader1} back in sync`,
        async () => {
          await checkStreams();
          return await fullyInSync(kafka, [topic, "__consumer_offsets"], 3);
        },
        90_000,
      ).catch((error) => {
        throw new Error(`${error.message} Last seen: ${lastSyncState.slice(0, 2000)}`);
      });
      log(`node ${leader1} restarted and back in every ISR after ${inSyncMs} ms more`);
      const offsetsTopic = await partitionsOf(kafka, "__consumer_offsets");
      assert.ok(
        offsetsTopic.every((p) => p.replicas.length === 3),
        "the group's offsets topic has 3 replicas",
      );

      // Kill 2, mid-consume: the leader of partition 0 now, once the sink has committed some of
      // the topic (and the producer is still sending, so not all of it).
      let committedAtKill2 = 0n;
      await waitFor("the consumer to commit some offsets", async () => {
        await checkStreams();
        committedAtKill2 = sumOffsets(await committedOffsets(kafka, group, topic));
        return committedAtKill2 > 0n;
      }, 60_000);
      const leader2 = await leaderOfPartition0(kafka, topic);
      const ackedAtKill2 = acked;
      const kill2At = Date.now();
      assert.equal((await cluster.killNode(leader2)).outcome, "killed");
      log(
        `kill 2: node ${leader2} (leader of partition 0) SIGKILLed with ${committedAtKill2} ` +
          `offsets committed, ${ackedAtKill2} acks`,
      );

      await waitFor("the producer to finish", async () => {
        await checkStreams();
        return acked === ticks.length;
      }, 120_000);
      const produced = await producing;
      assert.equal(produced.sent, ticks.length, "the producer acknowledged every tick");
      assert.equal(produced.stopped, false);
      log(
        `producer done: ${produced.sent} ticks acknowledged (longest wait for an ack after ` +
          `kill 2: ${longestAckGap(acks, kill2At)} ms)`,
      );
      const acknowledged = ticks.slice(0, produced.sent);

      // The consumer drains the topic and stops after 25 s without messages.
      let idleExit: ScriptResult | undefined;
      await waitFor("the consumer to drain the topic and idle-exit", () => {
        if (consumerEnded?.code === 0) idleExit = consumerEnded;
        else if (consumerEnded !== undefined && consumerFailures.length < 5) superviseConsumer();
        else if (consumerEnded !== undefined) assert.fail(consumerFailures.join("\n\n"));
        return idleExit !== undefined;
      }, 120_000);
      const output = `${idleExit!.stderr}\n${idleExit!.stdout}`;
      assert.match(output, /Done \(idle\)/);
      log(`consumer idle-exited: ${output.match(/Done \(idle\)[^\n]*/)?.[0]}`);

      // The kills landed mid-stream.
      const total = BigInt(ticks.length);
      assert.ok(
        ackedAtKill1 > 0 && ackedAtKill1 < ticks.length,
        `kill 1 at ${ackedAtKill1} of ${ticks.length} acks`,
      );
      assert.ok(
        committedAtKill2 > 0n && committedAtKill2 < total,
        `kill 2 with ${committedAtKill2} of ${total} offsets committed`,
      );
      // Offsets are read once no partition is led by the dead node any more (kafkajs leaves a
      // rejection unhandled when it lists offsets on a leader that refuses connections).
      await waitFor("every partition led by a live node", async () => {
        const partitions = await partitionsOf(kafka, topic).catch(() => []);
        return partitions.length === 3 &&
          partitions.every((p) => p.leader >= 1 && p.leader !== leader2);
      }, 60_000);
      // The topic holds each acknowledged tick once and the sink committed all of it.
      const lakeTicks = await readLakeTicks(new FsStore(lake.dir));
      const ends = await endOffsets(kafka, topic);
      if (sumOffsets(ends) !== total || lakeTicks.length !== acknowledged.length) {
        log(
          `end offsets ${formatOffsets(ends)}; missing from the ` +
            `lake:\n${describeMissing(lakeTicks, acknowledged, acks, [kill1At, kill2At])}`,
        );
      }
      assert.equal(sumOffsets(ends), total, "the topic holds every acknowledged tick once");
      assert.deepEqual(await committedOffsets(kafka, group, topic), ends);

      // Exactly once, read back by the project's decoders …
      assertExactlyOnce(lakeTicks, acknowledged);
      // … and recounted independently with pyarrow.
      const recount = JSON.parse(await runTestPython(PYARROW_RECOUNT, [lake.dir]));
      assert.equal(recount.rows, acknowledged.length, "pyarrow row count");
      assert.equal(recount.distinct, acknowledged.length, "pyarrow distinct (symbol, ts)");
      assert.deepEqual(recount.perSymbol, expectedPerSymbol(acknowledged), "pyarrow per symbol");
      log(
        `lake: ${recount.rows} rows, ${recount.distinct} distinct (symbol, ts) by pyarrow; ` +
          `kill 1 at ${ackedAtKill1}/${ticks.length} acks, kill 2 at ${committedAtKill2}/${total} ` +
          `committed`,
      );

      // The sink rode out both kills in one run: a broker loss is no reason for it to stop.
      assert.deepEqual(
        consumerFailures,
        [],
        `deno task consume exited ${consumerFailures.length} time(s) on a broker loss ` +
          `(restarted each time; the lake above is still exactly once):\n` +
          consumerFailures.join("\n\n"),
      );
    };

    try {
      await withDeadline(run(), TEST_DEADLINE_MS, "the cluster test");
    } catch (error) {
      const logs = await Promise.all(cluster.nodes.map(async (node) => {
        const text = await Deno.readTextFile(node.logFile).catch(() => "(no log)");
        return `--- ${node.logFile} (last lines)\n${
          text.trimEnd().split("\n").slice(-15).join("\n")
        }`;
      }));
      // The consume run still going (stuck?), stopped to read what it printed.
      try {
        consumer?.child.kill("SIGTERM");
      } catch {
        // It has exited already.
      }
      let last = consumer
        ? await withDeadline(consumer.done, 15_000, "consume after SIGTERM").catch(() => undefined)
        : undefined;
      let how = "after SIGTERM";
      if (consumer && !last) {
        how = "still running 15 s after SIGTERM, then SIGKILLed";
        consumer.child.kill("SIGKILL");
        last = await consumer.done;
      }
      const consumerTail = last
        ? `${last.stderr}\n${last.stdout}`.trimEnd().split("\n").slice(-30).join("\n")
        : "(none)";
      console.error(
        `seed ${SEED}; kafkajs said (last 40):\n${clientLog.lines.slice(-40).join("\n")}\n` +
          `the last consume run said (last 30 lines, ${how}):\n${consumerTail}\n` +
          `broker logs:\n${logs.join("\n")}`,
      );
      throw error;
    } finally {
      stopProducing.abort();
      try {
        consumer?.child.kill("SIGKILL");
      } catch {
        // It has exited already.
      }
      await consumer?.done.catch(() => {});
      await withDeadline(producer.disconnect(), 10_000, "producer disconnect").catch(() => {});
      await Promise.all(cluster.nodes.map((node) => node.kill()));
      await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
      log("cluster removed");
    }
  },
});
