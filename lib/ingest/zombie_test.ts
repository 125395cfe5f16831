/**
 * Zombie test of the lake consumer: pause, not kill. Two `deno task consume` members of one group
 * share a live stream; one is frozen with SIGSTOP past its session timeout, so the coordinator
 * gives its partitions to the other while data keeps arriving and age-based flushes fire; then it
 * is woken with SIGCONT, with its stale buffers and its stale idea of what it owns. Both run on
 * until the stream ends and they idle-exit. The lake must hold every acknowledged tick exactly
 * once (counted by the project's reader and, independently, by pyarrow).
 *
 * The test also checks that the dangerous path really ran: the frozen member owned partitions and
 * reported buffered rows just before it froze, and while it was frozen the other member was given
 * its partitions and committed them further (commits follow durable writes).
 */

import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import { parseObjectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { pace } from "../source/pace.ts";
import { simulateTicks } from "../source/simulate.ts";
import {
  freeze,
  type GroupView,
  lakeFigures,
  lakeObjectInfo,
  lakeTicksByPartition,
  parseConsumeLine,
  partitionBreakdown,
  recountWithPyarrow,
  secondsSince,
  startTracedScript,
  thaw,
  type TracedScript,
  waitForGroup,
} from "../testing/faults.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  formatOffsets,
  sendTicks,
  testKafka,
  testTopic,
  tickKey,
} from "../testing/kafka.ts";
import { readLakeTicks, s3TestStore, tempLake } from "../testing/lake.ts";

const RATE = 2_000;
const SYMBOLS = 14;
const BARS = 5_715; // 80,010 ticks: 40 s of stream at 2,000/s
const SESSION_TIMEOUT_S = 10;
const FREEZE_NOT_BEFORE_MS = 7_000;
const FREEZE_MS = 25_000;
const IDLE_EXIT_S = 5;

/** What the run observed, printed whatever the outcome. */
interface ZombieRun {
  acknowledged: number;
  victim: { process: "A" | "B"; memberId: string; partitions: number[] };
  survivor: { process: "A" | "B"; memberId: string };
  frozenAt: number;
  thawedAt: number;
  takeoverAt?: number;
  bufferedAtFreeze: number;
  committedAtFreeze: Map<number, bigint>;
  committedBeforeThaw: Map<number, bigint>;
  exits: { A: ScriptExit; B: ScriptExit };
}

interface ScriptExit {
  code: number;
  signal: Deno.Signal | null;
  stderr: string;
}

/** Prints a script's output lines with their times since `t0` (all of them: a run is short). */
function printLines(name: string, script: TracedScript, t0: number): void {
  console.log(`--- ${name} output (time since stream start) ---`);
  for (const line of script.lines) {
    if (line.text.trim() !== "") console.log(`  [${secondsSince(t0, line.at)}] ${line.text}`);
  }
}

async function zombieScenario(
  lakeUri: string,
  store: Store,
  topic: string,
  group: string,
): Promise<void> {
  const kafka: Kafka = testKafka();
  const ticks = [...simulateTicks({ symbols: SYMBOLS, count: BARS, intervalMs: 60_000, seed: 31 })];
  const args = [
    "--topic",
    topic,
    "--group",
    group,
    "--lake",
    lakeUri,
    "--idle-exit",
    String(IDLE_EXIT_S),
    "--flush-rows",
    "3000",
    "--flush-seconds",
    "2",
    "--session-timeout",
    String(SESSION_TIMEOUT_S),
    "--dt-granularity",
    "year",
  ];
  const t0 = performance.now();
  let producedAt = 0;
  const producing = sendTicks(kafka, topic, pace(ticks, { rate: RATE })).then((n) => {
    producedAt = performance.now();
    return n;
  });
  const a = startTracedScript("consume", args);
  let b: TracedScript | undefined;
  const run: Partial<ZombieRun> = {};
  const killAll = async () => {
    for (const p of [a, b]) {
      if (!p) continue;
      try {
        p.child.kill("SIGCONT");
        p.child.kill("SIGKILL");
      } catch {
        // already ended
      }
      await p.done;
    }
  };
  try {
    // A joins alone, then B: their member ids tell the processes apart in the group.
    const alone = await waitForGroup(
      kafka,
      group,
      topic,
      (v) => v.state === "Stable" && v.members.length === 1 && v.members[0].partitions.length > 0,
      "had member A",
    );
    const idA = alone.members[0].memberId;
    b = startTracedScript("consume", args);
    const both = await waitForGroup(
      kafka,
      group,
      topic,
      (v) =>
        v.state === "Stable" && v.members.length === 2 &&
        v.members.every((m) => m.partitions.length > 0),
      "had two members with partitions",
    );
    const memberA = both.members.find((m) => m.memberId === idA);
    assert.ok(memberA, `member A (${idA}) left the group: ${JSON.stringify(both)}`);
    const memberB = both.members.find((m) => m.memberId !== idA)!;
    // Freeze the member with more partitions, so more is taken over.
    const victimIsA = memberA.partitions.length >= memberB.partitions.length;
    const victim = victimIsA ? memberA : memberB;
    const survivor = victimIsA ? memberB : memberA;
    const victimProcess = victimIsA ? a : b;
    run.victim = { process: victimIsA ? "A" : "B", ...victim };
    run.survivor = { process: victimIsA ? "B" : "A", memberId: survivor.memberId };
    console.log(
      `[${secondsSince(t0)}] group stable: A=${idA} ${memberA.partitions}, ` +
        `B=${memberB.memberId} ${memberB.partitions}; freezing ${run.victim.process}`,
    );

    // Let both consume and commit for a while, then freeze the victim right after it reports
    // rows buffered (read, not yet durable).
    const notBefore = t0 + FREEZE_NOT_BEFORE_MS;
    while (performance.now() < notBefore) await new Promise((r) => setTimeout(r, 200));
    const line = await victimProcess.nextLine(/^consumed .* buffered [1-9]/, { timeoutMs: 15_000 });
    run.frozenAt = await freeze(victimProcess.child);
    const reported = parseConsumeLine(line.text)!;
    run.bufferedAtFreeze = reported.buffered;
    run.committedAtFreeze = await committedOffsets(kafka, group, topic);
    const endAtFreeze = await endOffsets(kafka, topic);
    console.log(
      `[${secondsSince(t0, run.frozenAt)}] SIGSTOP ${run.victim.process} ` +
        `(${secondsSince(line.at, run.frozenAt)} after its line "${line.text}"); ` +
        `committed ${formatOffsets(run.committedAtFreeze)}, end ${formatOffsets(endAtFreeze)}`,
    );

    // While it is frozen: the coordinator drops it after the session timeout and gives its
    // partitions to the survivor.
    let takeover: GroupView | undefined;
    try {
      takeover = await waitForGroup(
        kafka,
        group,
        topic,
        (v) =>
          v.state === "Stable" && v.members.length === 1 &&
          v.members[0].memberId === survivor.memberId &&
          victim.partitions.every((p) => v.members[0].partitions.includes(p)),
        "gave the frozen member's partitions to the survivor",
        FREEZE_MS - 1_000,
      );
      run.takeoverAt = performance.now();
      console.log(
        `[${secondsSince(t0, run.takeoverAt)}] takeover: ${survivor.memberId} owns ` +
          `${takeover.members[0].partitions}`,
      );
    } catch (error) {
      console.log(`[${secondsSince(t0)}] no takeover seen: ${(error as Error).message}`);
    }
    while (performance.now() < run.frozenAt + FREEZE_MS - 500) {
      await new Promise((r) => setTimeout(r, 200));
    }
    run.committedBeforeThaw = await committedOffsets(kafka, group, topic);
    const beforeThaw = await lakeObjectInfo(lakeUri);
    run.thawedAt = await thaw(victimProcess.child);
    console.log(
      `[${secondsSince(t0, run.thawedAt)}] SIGCONT ${run.victim.process} after ` +
        `${secondsSince(run.frozenAt, run.thawedAt)} frozen; committed just before: ` +
        formatOffsets(run.committedBeforeThaw),
    );

    run.acknowledged = await producing;
    console.log(`[${secondsSince(t0, producedAt)}] stream ended: ${run.acknowledged} acknowledged`);
    const deadline = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 90_000));
    const ended = await Promise.race([Promise.all([a.done, b.done]), deadline]);
    if (ended === "timeout") {
      console.log(`[${secondsSince(t0)}] a consumer did not exit within 90 s of the stream end`);
      await killAll();
    }
    const [exitA, exitB] = [await a.done, await b.done];
    run.exits = { A: exitA, B: exitB };
    console.log(
      `[${secondsSince(t0)}] exits: A code ${exitA.code} signal ${exitA.signal}, ` +
        `B code ${exitB.code} signal ${exitB.signal}`,
    );
    printLines("A", a, t0);
    printLines("B", b, t0);

    // Objects of the frozen partitions, in ranges already committed before the thaw, that were
    // created or rewritten after it: only the woken zombie writes there.
    const after = await lakeObjectInfo(lakeUri);
    const was = new Map(beforeThaw.map((o) => [o.key, o]));
    const zombieWrites = after.filter((o) => {
      const parsed = parseObjectKey(o.key);
      if (!parsed || !victim.partitions.includes(parsed.partition)) return false;
      if (BigInt(parsed.startOffset) >= (run.committedBeforeThaw!.get(parsed.partition) ?? 0n)) {
        return false;
      }
      const old = was.get(o.key);
      return !old || old.size !== o.size || old.mtimeMs !== o.mtimeMs;
    });
    console.log(
      `objects of committed ranges of partitions ${victim.partitions} written after the thaw: ` +
        (zombieWrites.length === 0
          ? "none"
          : zombieWrites.map((o) => `${o.key} (${was.get(o.key)?.size ?? "new"} → ${o.size} B)`)
            .join(", ")),
    );
  } catch (error) {
    await killAll();
    if (b) {
      printLines("A", a, t0);
      printLines("B", b, t0);
    }
    throw error;
  }

  // The figures, then the verdicts.
  const acknowledged = ticks.slice(0, run.acknowledged);
  const lake = await readLakeTicks(store);
  const figures = lakeFigures(lake, acknowledged);
  const counted = await recountWithPyarrow(lakeUri);
  const committed = await committedOffsets(kafka, group, topic);
  const end = await endOffsets(kafka, topic);
  const perPartition = partitionBreakdown(await lakeTicksByPartition(store), acknowledged);
  const seen = new Set(lake.map(tickKey));
  const lostSample = acknowledged.filter((t) => !seen.has(tickKey(t))).slice(0, 3).map(tickKey);
  console.log(
    `zombie (${
      lakeUri.startsWith("s3://") ? "S3" : "folder"
    } lake): acknowledged ${figures.acknowledged}, ` +
      `in lake ${figures.inLake}, distinct ${figures.distinct}, lost ${figures.lost}, ` +
      `duplicated ${figures.duplicated}, unexpected ${figures.unexpected}; pyarrow rows ` +
      `${counted.rows}, distinct ${counted.distinct}, repeated keys ${counted.repeatedKeys}, ` +
      `files ${counted.files}\n  ${perPartition.join("\n  ")}\n  lost e.g. ${
        lostSample.join("; ")
      }\n` +
      `  frozen ${run.victim!.process} owned ${
        run.victim!.partitions
      } with ${run.bufferedAtFreeze} ` +
      `rows buffered; committed at freeze ${formatOffsets(run.committedAtFreeze!)}, before thaw ` +
      `${formatOffsets(run.committedBeforeThaw!)}, at the end ${
        formatOffsets(committed)
      }, end offsets ` +
      `${formatOffsets(end)}; freeze at ${secondsSince(t0, run.frozenAt)}, takeover at ${
        run.takeoverAt ? secondsSince(t0, run.takeoverAt) : "never"
      }, thaw at ${secondsSince(t0, run.thawedAt)}`,
  );

  // The dangerous path ran: the frozen member owned partitions with rows buffered, and while it
  // was frozen another member took them over and committed them further.
  const victimPartitions = run.victim!.partitions;
  assert.ok(victimPartitions.length > 0, "the frozen member owned no partition");
  assert.ok(run.bufferedAtFreeze! > 0, "the frozen member reported no buffered rows when frozen");
  assert.ok(run.takeoverAt !== undefined, "the survivor never took over the frozen partitions");
  for (const p of victimPartitions) {
    assert.ok(
      (run.committedBeforeThaw!.get(p) ?? -1n) > (run.committedAtFreeze!.get(p) ?? -1n),
      `partition ${p} was not committed further while its owner was frozen`,
    );
  }
  // Exactly once, by both readers.
  assertExactlyOnce(lake, acknowledged);
  assert.equal(counted.rows, run.acknowledged, "pyarrow row count");
  assert.equal(counted.distinct, run.acknowledged, "pyarrow distinct (symbol, ts)");
  assert.deepEqual(committed, end, "committed offsets at the end of the topic");
  // Both members ended by themselves, having flushed and committed.
  for (const [name, exit] of Object.entries(run.exits!)) {
    assert.equal(exit.code, 0, `consumer ${name} exited with ${exit.code}:\n${exit.stderr}`);
    assert.match(exit.stderr, /Done \(idle\)/, `consumer ${name} did not idle-exit`);
  }
}

Deno.test({
  name:
    "a member frozen with SIGSTOP past its session timeout and then woken writes nothing for partitions it no longer owns: a folder lake holds every tick exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "zombie-fs", partitions: 3 });
    await using lake = await tempLake();
    await zombieScenario(lake.dir, lake.store, t.topic, t.group);
  },
});

Deno.test({
  name:
    "a member frozen with SIGSTOP past its session timeout and then woken writes nothing for partitions it no longer owns: an S3 lake on moto holds every tick exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "zombie-s3", partitions: 3 });
    await using s3 = await s3TestStore({ prefix: "lake" });
    await zombieScenario(`s3://${s3.bucket}/lake`, s3, t.topic, t.group);
  },
});
