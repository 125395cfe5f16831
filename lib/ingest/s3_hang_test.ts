/**
 * S3 hang test of the lake consumer: hang, not refuse. `deno task consume` with production
 * settings (the default 30 s session timeout, the store's default S3 timeouts) writes to moto
 * through a proxy that, mid-stream, turns into a black hole for 65 s: it accepts connections and
 * reads requests but never answers (a hung load balancer, a half-open network path), which is
 * longer than the session timeout and longer than one S3 request timeout. Then S3 answers again.
 *
 * While S3 hangs no offset may be committed beyond what is durable in the lake; the consumer must
 * not crash, and must keep its group membership (README, Guarantees: outages are retried while the
 * consumer heartbeats) rather than be evicted and rejoin; afterwards every acknowledged tick must
 * land exactly once (the project's reader and pyarrow), with the group committed to the end. The
 * membership check comes last, so a run that only loses membership says so after the lake checks
 * passed.
 */

import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { pace } from "../source/pace.ts";
import { simulateTicks } from "../source/simulate.ts";
import {
  commitsAheadOfLake,
  describeGroup,
  faultProxy,
  type GroupView,
  lakeFigures,
  lakeTicksByPartition,
  partitionBreakdown,
  recountWithPyarrow,
  secondsSince,
  startTracedScript,
  waitForGroup,
} from "../testing/faults.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  formatOffsets,
  sendTicks,
  sumOffsets,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import { readLakeTicks, s3TestStore } from "../testing/lake.ts";

const RATE = 1_000;
const BARS = 5_358; // 75,012 ticks: 75 s of stream
const HANG_NOT_BEFORE_MS = 6_000;
const HANG_MS = 65_000;
const GRACE_MS = 2_000;
/** Longer than the whole run: the test stops the consumer with SIGTERM once it caught up, so an
 * idle exit cannot end it while a flush hangs. */
const IDLE_EXIT_S = 300;

function groupText(view: GroupView | undefined): string {
  if (!view) return "unknown";
  return `${view.state} [${view.members.map((m) => m.partitions.join(",")).join(" | ")}]`;
}

Deno.test({
  name:
    "when S3 accepts connections but never answers for 65 s (past the session timeout and an S3 request timeout), the consumer commits nothing undurable, keeps its group membership without crashing, and afterwards every tick lands exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka: Kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "s3-hang", partitions: 3 });
    await using s3 = await s3TestStore({ prefix: "lake" });
    const motoPort = Number(new URL(Deno.env.get("AWS_ENDPOINT_URL")!).port);
    await using proxy = faultProxy(motoPort);
    const lakeUri = `s3://${s3.bucket}/lake`;
    const ticks = [...simulateTicks({ symbols: 14, count: BARS, intervalMs: 60_000, seed: 41 })];

    const t0 = performance.now();
    let producedAt = 0;
    const producing = sendTicks(kafka, t.topic, pace(ticks, { rate: RATE })).then((n) => {
      producedAt = performance.now();
      return n;
    });
    // Production settings: no --session-timeout, the store's own S3 timeouts. Only the flush
    // triggers are small so that flushes happen during the test.
    const consumer = startTracedScript("consume", [
      "--topic",
      t.topic,
      "--group",
      t.group,
      "--lake",
      lakeUri,
      "--idle-exit",
      String(IDLE_EXIT_S),
      "--flush-rows",
      "5000",
      "--flush-seconds",
      "2",
    ], { env: { AWS_ENDPOINT_URL: proxy.endpoint } });
    let exitedAt: number | undefined;
    consumer.done.then(() => exitedAt = performance.now());

    const samples: string[] = [];
    let memberId = "";
    /** Samples during the hang in which the original member was not in the group. */
    const membershipLost: string[] = [];
    let caughtUpAt: number | undefined;
    let sigtermAt: number | undefined;
    const movedDuringHang: string[] = [];
    let hungAt = 0;
    let restoredAt = 0;
    let committedAtHang = new Map<number, bigint>();
    let maxCommittedDuringHang = new Map<number, bigint>();
    let endAtHang = new Map<number, bigint>();
    let endAtRestore = new Map<number, bigint>();
    let aheadOfLake: string[] = [];
    let groupAfterRestore: GroupView | undefined;
    let proxyStats = proxy.stats;
    try {
      // Normal operation first: the member joined and committed a few flushes.
      const joined = await waitForGroup(
        kafka,
        t.group,
        t.topic,
        (v) => v.state === "Stable" && v.members.length === 1,
        "had its member",
      );
      memberId = joined.members[0].memberId;
      while (
        performance.now() - t0 < HANG_NOT_BEFORE_MS ||
        sumOffsets(await committedOffsets(kafka, t.group, t.topic)) < 5_000n
      ) {
        assert.ok(performance.now() - t0 < 40_000, "the consumer never committed 5,000 rows");
        await new Promise((r) => setTimeout(r, 250));
      }

      proxy.blackHole();
      hungAt = performance.now();
      console.log(
        `[${secondsSince(t0, hungAt)}] S3 black-holed; committed ${
          formatOffsets(await committedOffsets(kafka, t.group, t.topic))
        }`,
      );
      // A write acknowledged just before the hole may still be committed; then nothing may
      // move that is not durable.
      await new Promise((r) => setTimeout(r, GRACE_MS));
      committedAtHang = await committedOffsets(kafka, t.group, t.topic);
      maxCommittedDuringHang = new Map(committedAtHang);
      endAtHang = await endOffsets(kafka, t.topic);
      while (performance.now() - hungAt < HANG_MS) {
        await new Promise((r) => setTimeout(r, 3_000));
        const committed = await committedOffsets(kafka, t.group, t.topic);
        for (const [p, o] of committed) {
          if (o !== committedAtHang.get(p)) {
            movedDuringHang.push(`${p}:${o} at ${secondsSince(t0)}`);
          }
          if (o > (maxCommittedDuringHang.get(p) ?? -1n)) maxCommittedDuringHang.set(p, o);
        }
        let view: GroupView | undefined;
        try {
          view = await describeGroup(kafka, t.group, t.topic);
        } catch {
          // reported as unknown
        }
        const sample = `[${secondsSince(t0)}] committed ${formatOffsets(committed)} · group ${
          groupText(view)
        } · consumer ${exitedAt === undefined ? "running" : "EXITED"} · proxy ${
          JSON.stringify(proxy.stats)
        }`;
        samples.push(sample);
        if (!view?.members.some((m) => m.memberId === memberId)) {
          membershipLost.push(`${secondsSince(t0)} (${groupText(view)})`);
        }
        console.log(sample);
      }
      // Every commit seen during the hang must be covered by the lake as it is now (read from
      // moto directly, not through the black hole).
      aheadOfLake = commitsAheadOfLake(
        maxCommittedDuringHang,
        await lakeTicksByPartition(s3),
        ticks,
      );
      endAtRestore = await endOffsets(kafka, t.topic);
      proxyStats = proxy.stats;
      proxy.passThrough();
      restoredAt = performance.now();
      console.log(
        `[${secondsSince(t0, restoredAt)}] S3 answers again after ${
          secondsSince(hungAt, restoredAt)
        }; commits ahead of the lake during the hang: ${
          aheadOfLake.length === 0 ? "none" : aheadOfLake.join("; ")
        }`,
      );

      const acknowledged = await producing;
      console.log(`[${secondsSince(t0, producedAt)}] stream ended: ${acknowledged} acknowledged`);
      try {
        groupAfterRestore = await waitForGroup(
          kafka,
          t.group,
          t.topic,
          (v) =>
            v.state === "Stable" && v.members.length === 1 &&
            v.members[0].partitions.length === 3,
          "had one stable member after the hang",
          20_000,
        );
      } catch (error) {
        console.log(`[${secondsSince(t0)}] ${(error as Error).message}`);
      }
      // How long after S3 came back the group had committed the whole stream.
      const end = sumOffsets(await endOffsets(kafka, t.topic));
      while (exitedAt === undefined && performance.now() - restoredAt < 120_000) {
        if (sumOffsets(await committedOffsets(kafka, t.group, t.topic)) >= end) {
          caughtUpAt = performance.now();
          break;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      console.log(
        `[${secondsSince(t0)}] caught up: ${
          caughtUpAt ? `${secondsSince(restoredAt, caughtUpAt)} after the restore` : "no"
        }`,
      );
      // Graceful stop: flush, commit, leave.
      if (exitedAt === undefined) {
        sigtermAt = performance.now();
        consumer.child.kill("SIGTERM");
      }
      const deadline = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 30_000));
      if (await Promise.race([consumer.done, deadline]) === "timeout") {
        console.log(`[${secondsSince(t0)}] the consumer did not stop within 30 s of SIGTERM`);
        consumer.child.kill("SIGKILL");
      }
    } finally {
      proxy.passThrough();
      if (exitedAt === undefined) {
        try {
          consumer.child.kill("SIGKILL");
        } catch {
          // already ended
        }
      }
      const exit = await consumer.done;
      console.log(
        `[${secondsSince(t0)}] consumer exit code ${exit.code} signal ${exit.signal}` +
          (exitedAt ? ` at ${secondsSince(t0, exitedAt)}` : ""),
      );
      console.log("--- consumer output (time since stream start) ---");
      for (const line of consumer.lines) {
        if (line.text.trim() !== "") console.log(`  [${secondsSince(t0, line.at)}] ${line.text}`);
      }
    }
    const exit = await consumer.done;

    // Figures, then verdicts.
    const acknowledged = ticks.slice(0, await producing);
    const lake = await readLakeTicks(s3);
    const figures = lakeFigures(lake, acknowledged);
    const counted = await recountWithPyarrow(lakeUri);
    const committed = await committedOffsets(kafka, t.group, t.topic);
    const end = await endOffsets(kafka, t.topic);
    const byPartition = await lakeTicksByPartition(s3);
    // Rows missing below the committed offsets are lost for good; the rest are still in Kafka.
    const lostForGood = commitsAheadOfLake(committed, byPartition, acknowledged);
    console.log(
      `s3 hang: acknowledged ${figures.acknowledged}, in lake ${figures.inLake}, distinct ` +
        `${figures.distinct}, lost ${figures.lost}, duplicated ${figures.duplicated}, unexpected ` +
        `${figures.unexpected}; pyarrow rows ${counted.rows}, distinct ${counted.distinct}, ` +
        `repeated keys ${counted.repeatedKeys}, files ${counted.files}\n  ${
          partitionBreakdown(byPartition, acknowledged).join("\n  ")
        }\n  missing below the committed offsets (lost for good): ${
          lostForGood.length === 0 ? "none" : lostForGood.join("; ")
        }; the other missing rows are still in Kafka, uncommitted\n  hang ${
          secondsSince(t0, hungAt)
        } → ${secondsSince(t0, restoredAt)}; committed at ` +
        `hang+${GRACE_MS / 1000} s ${formatOffsets(committedAtHang)}, max during hang ` +
        `${formatOffsets(maxCommittedDuringHang)}, moved during hang: ${
          movedDuringHang.length === 0 ? "never" : movedDuringHang.join(", ")
        }; end offsets at hang ${formatOffsets(endAtHang)}, at restore ${
          formatOffsets(endAtRestore)
        }; ` +
        `committed at the end ${formatOffsets(committed)}, end ${formatOffsets(end)}; proxy ${
          JSON.stringify(proxyStats)
        }; member ${memberId} missing from the group during the hang at: ${
          membershipLost.length === 0 ? "never" : membershipLost.join(", ")
        }; group after restore ${groupText(groupAfterRestore)}; caught up ${
          caughtUpAt ? `${secondsSince(restoredAt, caughtUpAt)} after the restore` : "never"
        }; consumer exit ${exit.code}` +
        (exitedAt ? ` at ${secondsSince(t0, exitedAt)}` : ""),
    );

    // The hang really stalled the consumer mid-stream.
    assert.ok(proxyStats.swallowedBytes > 0, "no S3 request went into the black hole");
    assert.ok(
      sumOffsets(endAtRestore) > sumOffsets(endAtHang),
      "the stream went on during the hang",
    );
    // Nothing undurable was committed while S3 hung.
    assert.deepEqual(aheadOfLake, [], "offsets committed beyond the durable rows during the hang");
    // The consumer survived the hang: it did not exit before the stream ended, and the group had
    // a stable member with every partition afterwards.
    assert.ok(
      exitedAt === undefined || (sigtermAt !== undefined && exitedAt >= sigtermAt),
      `the consumer exited by itself at ${
        secondsSince(t0, exitedAt)
      } (code ${exit.code}):\n${exit.stderr}`,
    );
    assert.ok(groupAfterRestore, "no stable member owned the partitions after the hang");
    assert.ok(caughtUpAt !== undefined, "the group did not commit the whole stream after the hang");
    // Exactly once.
    assertExactlyOnce(lake, acknowledged);
    assert.equal(counted.rows, acknowledged.length, "pyarrow row count");
    assert.equal(counted.distinct, acknowledged.length, "pyarrow distinct (symbol, ts)");
    assert.deepEqual(committed, end, "committed offsets at the end of the topic");
    assert.equal(exit.code, 0, `the consumer exited with ${exit.code}:\n${exit.stderr}`);
    assert.match(exit.stderr, /Done \(signal\)/);
    // Kept its membership through the hang (README, Guarantees: outages are retried "while the
    // consumer keeps its group membership with heartbeats"), rather than being evicted after the
    // session timeout and rejoining as a new member.
    assert.deepEqual(
      membershipLost,
      [],
      `member ${memberId} was out of the group during the S3 hang (evicted: no heartbeat while a request hung)`,
    );
  },
});
