/**
 * Rebalance tests of the lake consumer: two members of one group share a live stream; one leaves
 * (gracefully, or by SIGKILL) and its partitions move to the other. The lake must still hold
 * every tick exactly once.
 *
 * A SIGKILLed member says no goodbye: the test does not evict it, the broker drops it once its
 * session times out, so those consumers run with the broker's minimum, `--session-timeout 6`.
 */

import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { pace } from "../source/pace.ts";
import { sleep } from "../time.ts";
import { simulateTicks } from "../source/simulate.ts";
import { waitForGroup } from "../testing/faults.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  sendTicks,
  startScript,
  sumOffsets,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import { readLakeTicks, tempLake } from "../testing/lake.ts";
import { type ConsumeProgress, consumeToLake } from "./consume_to_lake.ts";

/** The broker's minimum session timeout: how long a SIGKILLed member keeps its partitions. */
const SESSION_TIMEOUT_S = 6;

/** Members of the group and how many partitions each holds, once the group is stable. */
async function stableMembers(kafka: Kafka, group: string, count: number): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = performance.now() + 30_000;
    while (true) {
      const { groups } = await admin.describeGroups([group]);
      const g = groups[0];
      if (g?.state === "Stable" && g.members.length === count) return g.members.length;
      assert.ok(performance.now() < deadline, `group ${group} never had ${count} stable members`);
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Waits until the group has committed the whole topic. */
async function caughtUp(kafka: Kafka, group: string, topic: string, timeoutMs: number) {
  const end = sumOffsets(await endOffsets(kafka, topic));
  const deadline = performance.now() + timeoutMs;
  while (sumOffsets(await committedOffsets(kafka, group, topic)) < end) {
    assert.ok(performance.now() < deadline, `group ${group} did not commit all of ${topic}`);
    await sleep(500);
  }
}

Deno.test({
  name:
    "two consumers in one group share a stream; when one stops gracefully the other takes over its partitions and the lake holds every tick exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "rebalance", partitions: 3 });
    await using lake = await tempLake();
    const ticks = [...simulateTicks({ symbols: 14, count: 3_000, intervalMs: 60_000, seed: 21 })];
    const producing = sendTicks(kafka, t.topic, pace(ticks, { rate: 3_000 }));
    const options = {
      topic: t.topic,
      group: t.group,
      store: lake.store,
      flushRows: 1_500,
      flushSeconds: 1,
    };
    const stopA = new AbortController();
    const stopB = new AbortController();
    const progress: { a?: ConsumeProgress; b?: ConsumeProgress } = {};
    const a = consumeToLake(kafka, {
      ...options,
      signal: stopA.signal,
      onProgress: (p) => progress.a = p,
    });
    const b = consumeToLake(kafka, {
      ...options,
      signal: stopB.signal,
      onProgress: (p) => progress.b = p,
    });
    try {
      await stableMembers(kafka, t.group, 2);
      while ((progress.a?.commits ?? 0) < 2 || (progress.b?.commits ?? 0) < 2) await sleep(200);
      stopA.abort(); // mid-stream
      const resultA = await a;
      assert.equal(resultA.stoppedBy, "signal");
      assert.ok(resultA.messages > 0 && resultA.messages < ticks.length);
      assert.equal(await producing, ticks.length);
      await caughtUp(kafka, t.group, t.topic, 60_000);
    } finally {
      stopA.abort();
      stopB.abort();
      await Promise.allSettled([a, b]);
    }
    const resultB = await b;
    assert.ok(resultB.messages > 0);
    assertExactlyOnce(await readLakeTicks(lake.store), ticks);
    assert.deepEqual(
      await committedOffsets(kafka, t.group, t.topic),
      await endOffsets(kafka, t.topic),
    );
  },
});

Deno.test({
  name:
    "when one of two consumer processes is SIGKILLed, its partitions move to the other after the session timeout and the lake holds every tick exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "rebalance-kill", partitions: 3 });
    await using lake = await tempLake();
    const ticks = [...simulateTicks({ symbols: 14, count: 3_000, intervalMs: 60_000, seed: 22 })];
    const args = [
      "--topic",
      t.topic,
      "--group",
      t.group,
      "--lake",
      lake.dir,
      "--flush-rows",
      "1500",
      "--flush-seconds",
      "1",
      "--session-timeout",
      String(SESSION_TIMEOUT_S),
    ];
    const producing = sendTicks(kafka, t.topic, pace(ticks, { rate: 3_000 }));
    const a = startScript("consume", args);
    const b = startScript("consume", args);
    try {
      await stableMembers(kafka, t.group, 2);
      // Both own partitions, so the kill leaves some with the dead member.
      await waitForGroup(
        kafka,
        t.group,
        t.topic,
        (view) =>
          view.state === "Stable" && view.members.length === 2 &&
          view.members.every((m) => m.partitions.length > 0),
        "gave both members partitions",
      );
      await sleep(3_000); // both consume for a while
      a.child.kill("SIGKILL");
      const killed = await a.done;
      assert.equal(killed.signal, "SIGKILL");
      const killedAt = performance.now();
      // The dead member holds its partitions until its session times out; then the broker drops
      // it and the survivor gets every partition (nobody evicts it on the broker's behalf).
      await waitForGroup(
        kafka,
        t.group,
        t.topic,
        (view) =>
          view.state === "Stable" && view.members.length === 1 &&
          view.members[0].partitions.length === 3,
        "gave the survivor every partition",
        SESSION_TIMEOUT_S * 1000 + 30_000,
      );
      console.log(
        `the survivor owned every partition ${
          ((performance.now() - killedAt) / 1000).toFixed(1)
        } s after the SIGKILL (session timeout ${SESSION_TIMEOUT_S} s)`,
      );
      assert.equal(await producing, ticks.length);
      await caughtUp(kafka, t.group, t.topic, 60_000);
      b.child.kill("SIGTERM"); // graceful: flush, commit, leave
      const survivor = await b.done;
      assert.equal(survivor.code, 0, survivor.stderr);
      assert.match(survivor.stderr, /Done \(signal\)/);
    } finally {
      for (const p of [a, b]) {
        try {
          p.child.kill("SIGKILL");
        } catch {
          // already ended
        }
        await p.done;
      }
    }
    assertExactlyOnce(await readLakeTicks(lake.store), ticks);
  },
});

Deno.test({
  name:
    "a consumer keeps running while other members join and leave mid-stream, and the lake holds every tick exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "rebalance-churn", partitions: 3 });
    await using lake = await tempLake();
    const ticks = [...simulateTicks({ symbols: 14, count: 2_000, intervalMs: 60_000, seed: 23 })];
    const producing = sendTicks(kafka, t.topic, pace(ticks, { rate: 2_000 }));
    const options = {
      topic: t.topic,
      group: t.group,
      store: lake.store,
      flushRows: 500,
      flushSeconds: 0.25,
    };
    const stopA = new AbortController();
    let failedA: unknown;
    const a = consumeToLake(kafka, { ...options, signal: stopA.signal });
    a.catch((error) => failedA = error);
    try {
      await stableMembers(kafka, t.group, 1);
      for (let round = 0; round < 4; round++) {
        // Another member joins (a rebalance), consumes a little, and leaves (another one).
        const stopB = new AbortController();
        const b = consumeToLake(kafka, { ...options, signal: stopB.signal });
        await stableMembers(kafka, t.group, 2);
        await sleep(1_000);
        stopB.abort();
        await b;
        assert.equal(failedA, undefined, `the first consumer died in round ${round}: ${failedA}`);
      }
      assert.equal(await producing, ticks.length);
      await caughtUp(kafka, t.group, t.topic, 60_000);
      assert.equal(failedA, undefined, `the first consumer died: ${failedA}`);
    } finally {
      stopA.abort();
      await a.catch(() => {});
    }
    assertExactlyOnce(await readLakeTicks(lake.store), ticks);
  },
});
