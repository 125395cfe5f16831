/**
 * Compound fault test of the lake consumer: the broker is lost while a flush is stuck on S3.
 *
 * A dedicated single-node Kafka (its own ports and data folder, so the shared broker is never
 * touched) feeds `deno task consume`, which writes to moto through a proxy. Mid-stream S3 turns
 * into a black hole, so a flush hangs waiting for an answer; while it hangs the broker is
 * SIGKILLed, then restarted on the same data folder; then S3 answers again (no sooner than 45 s
 * after it went silent: past an S3 request timeout and the session timeout) and more ticks are
 * produced. The consumer may die on the way, but only with an honest error that names the
 * component that was actually failing at that moment (Kafka while the broker is gone, S3 while only
 * S3 hangs), never an unrelated one (no "cannot use Kafka, check that the broker is running" once
 * the broker answers again); one fresh `deno task consume` may then drain the rest. In
 * the end the lake holds every acknowledged tick exactly once (the project's reader and pyarrow),
 * and the group is committed to the end of the topic.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureTopic } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { LocalBroker } from "../ops/local/local_broker.ts";
import { portAcceptsConnections } from "../ops/local/daemon.ts";
import { pace } from "../source/pace.ts";
import { simulateTicks } from "../source/simulate.ts";
import {
  faultProxy,
  freePort,
  lakeFigures,
  lakeTicksByPartition,
  partitionBreakdown,
  recountWithPyarrow,
  secondsSince,
  startTracedScript,
  type TracedScript,
} from "../testing/faults.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  formatOffsets,
  REPO_ROOT,
  sendTicks,
  sumOffsets,
  uniqueName,
} from "../testing/kafka.ts";
import { readLakeTicks, s3TestStore } from "../testing/lake.ts";

const RATE = 2_000;
const BARS = 2_429; // 34,006 ticks
const PHASE_1 = 24_000; // 12 s at 2,000/s, before the broker is lost
const HOLE_NOT_BEFORE_MS = 7_000;
const BROKER_DOWN_MS = 5_000;
/**
 * S3 stays black-holed at least this long, whenever the broker is back: past one S3 request
 * timeout (30 s, after which the SDK's second attempt goes into the hole too) and past the session
 * timeout (30 s). Restoring S3 earlier lets the first attempt's retry succeed before anything
 * expires, and the run no longer tests the compound case.
 */
const MIN_HOLE_MS = 45_000;
/** After the faults, how long the group may take to commit everything. */
const CATCH_UP_MS = 120_000;

function printLines(name: string, script: TracedScript, t0: number): void {
  console.log(`--- ${name} output (time since stream start) ---`);
  for (const line of script.lines) {
    if (line.text.trim() !== "") console.log(`  [${secondsSince(t0, line.at)}] ${line.text}`);
  }
}

/** The last `error: …` line a script printed, or its last line. */
function errorLine(stderr: string): string {
  const lines = stderr.split(/\r?\n/).filter((l) => l.trim() !== "");
  return lines.findLast((l) => l.startsWith("error:")) ?? lines.at(-1) ?? "";
}

Deno.test({
  name:
    "when the broker is SIGKILLed and restarted while a flush hangs on a black-holed S3, the consumer ends with every acknowledged tick exactly once, and any exit on the way names the failing component",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cacheDir = await Deno.makeTempDir({ prefix: "broker_loss_test_" });
    // Ports the system picks: fixed ones collide with other drills (and other runs of this test).
    const port = freePort();
    const controllerPort = freePort(undefined, [port]);
    const broker = new LocalBroker({
      cacheDir,
      jarsDir: join(REPO_ROOT, ".cache/kafka/jars"),
      port,
      controllerPort,
      startTimeoutMs: 90_000,
    });
    const bootstrap = broker.bootstrap;
    const consumers: TracedScript[] = [];
    try {
      const startedIn = performance.now();
      const started = await broker.start();
      assert.ok(!started.alreadyRunning, `another broker already answers on ${bootstrap}`);
      console.log(`dedicated broker on ${bootstrap} up in ${secondsSince(startedIn)}`);
      const kafka = createKafka({ brokers: [bootstrap], clientId: "lake-tests" });
      const topic = uniqueName("broker-loss");
      const group = `${topic}-group`;
      await ensureTopic(kafka, { topic, partitions: 3 });
      await using s3 = await s3TestStore({ prefix: "lake" });
      const motoPort = Number(new URL(Deno.env.get("AWS_ENDPOINT_URL")!).port);
      await using proxy = faultProxy(motoPort);
      const lakeUri = `s3://${s3.bucket}/lake`;
      const ticks = [...simulateTicks({ symbols: 14, count: BARS, intervalMs: 60_000, seed: 51 })];
      const args = [
        "--topic",
        topic,
        "--group",
        group,
        "--lake",
        lakeUri,
        // Longer than the whole outage: the consumer is stopped with SIGTERM once it caught up,
        // so an idle exit can never hide a broker that is gone.
        "--idle-exit",
        "120",
        "--flush-rows",
        "3000",
        "--flush-seconds",
        "2",
      ];
      const env = { KAFKA_BROKERS: bootstrap, AWS_ENDPOINT_URL: proxy.endpoint };

      const t0 = performance.now();
      const phase1 = sendTicks(kafka, topic, pace(ticks.slice(0, PHASE_1), { rate: RATE }));
      const first = startTracedScript("consume", args, { env });
      consumers.push(first);
      let firstExitAt: number | undefined;
      first.done.then(() => firstExitAt = performance.now());

      // Normal operation, then S3 hangs while data is still flowing.
      while (
        performance.now() - t0 < HOLE_NOT_BEFORE_MS ||
        sumOffsets(await committedOffsets(kafka, group, topic)) < 3_000n
      ) {
        assert.ok(performance.now() - t0 < 40_000, "the consumer never committed 3,000 rows");
        await new Promise((r) => setTimeout(r, 250));
      }
      const committedBeforeHole = await committedOffsets(kafka, group, topic);
      proxy.blackHole();
      const holeAt = performance.now();
      console.log(
        `[${secondsSince(t0, holeAt)}] S3 black-holed; committed ${
          formatOffsets(committedBeforeHole)
        }`,
      );
      // A flush is stuck: a request went into the hole and is waiting for its answer.
      while (proxy.stats.swallowedBytes === 0) {
        assert.ok(performance.now() - holeAt < 20_000, "no S3 request went into the black hole");
        await new Promise((r) => setTimeout(r, 100));
      }
      const stuckAt = performance.now();
      const acknowledged1 = await phase1;
      const committedAtKill = await committedOffsets(kafka, group, topic);
      const endAtKill = await endOffsets(kafka, topic);
      console.log(
        `[${secondsSince(t0, stuckAt)}] a flush is stuck on S3 (${
          JSON.stringify(proxy.stats)
        }); phase 1 acknowledged ${acknowledged1}; committed ${
          formatOffsets(committedAtKill)
        }, end ${formatOffsets(endAtKill)}`,
      );

      // Lose the broker while the flush hangs, then bring it back on the same data.
      const { pid } = await broker.status();
      assert.ok(pid, "the dedicated broker has no pid");
      Deno.kill(pid, "SIGKILL");
      const killedAt = performance.now();
      while (await portAcceptsConnections("127.0.0.1", port)) {
        await new Promise((r) => setTimeout(r, 100));
      }
      console.log(`[${secondsSince(t0, killedAt)}] broker pid ${pid} SIGKILLed`);
      await new Promise((r) => setTimeout(r, BROKER_DOWN_MS));
      const restartAt = performance.now();
      await broker.start();
      const brokerBackAt = performance.now();
      console.log(
        `[${secondsSince(t0, brokerBackAt)}] broker back (restart took ${
          secondsSince(restartAt, brokerBackAt)
        }); first consumer ${firstExitAt === undefined ? "running" : "exited"}`,
      );
      while (performance.now() - holeAt < MIN_HOLE_MS) await new Promise((r) => setTimeout(r, 200));
      proxy.passThrough();
      const restoredAt = performance.now();
      console.log(
        `[${secondsSince(t0, restoredAt)}] S3 answers again after ${
          secondsSince(holeAt, restoredAt)
        }; proxy ${JSON.stringify(proxy.stats)}`,
      );
      const acknowledged2 = await sendTicks(
        kafka,
        topic,
        pace(ticks.slice(PHASE_1), { rate: RATE }),
      );
      const acknowledged = acknowledged1 + acknowledged2;
      console.log(`[${secondsSince(t0)}] phase 2 acknowledged ${acknowledged2}`);

      // The first consumer catches up by itself, or it has exited (then one fresh run drains).
      const end = sumOffsets(await endOffsets(kafka, topic));
      const caughtUp = async (exited: () => boolean) => {
        const deadline = performance.now() + CATCH_UP_MS;
        while (performance.now() < deadline && !exited()) {
          if (sumOffsets(await committedOffsets(kafka, group, topic)) >= end) return true;
          await new Promise((r) => setTimeout(r, 500));
        }
        return false;
      };
      const firstCaughtUp = await caughtUp(() => firstExitAt !== undefined);
      const firstCaughtUpAt = firstCaughtUp ? performance.now() : undefined;
      // Exited by itself (before being told to stop), or neither caught up nor exited (stuck).
      const exitedByItself = firstExitAt !== undefined;
      const stuck = !firstCaughtUp && !exitedByItself;
      if (!exitedByItself) first.child.kill("SIGTERM"); // graceful: flush, commit, leave
      const firstExit = await Promise.race([
        first.done,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000)),
      ]);
      if (!firstExit) first.child.kill("SIGKILL");
      const firstResult = await first.done;
      console.log(
        `[${
          secondsSince(t0)
        }] first consumer: exit ${firstResult.code} signal ${firstResult.signal}` +
          ` at ${secondsSince(t0, firstExitAt ?? performance.now())}; caught up: ${
            firstCaughtUpAt ? secondsSince(t0, firstCaughtUpAt) : "no"
          }; last error: ${errorLine(firstResult.stderr)}`,
      );
      // Which faults were live when it exited (if it exited by itself).
      // The broker was unreachable from its SIGKILL until it answered again (plus a few seconds
      // for an error raised just before it came back to surface).
      const brokerWasDown = firstExitAt !== undefined && firstExitAt >= killedAt &&
        firstExitAt <= brokerBackAt + 5_000;
      const s3WasHung = firstExitAt !== undefined && firstExitAt >= holeAt &&
        firstExitAt <= restoredAt;

      let drainResult: Awaited<TracedScript["done"]> | undefined;
      if (!firstCaughtUp) {
        const drain = startTracedScript("consume", args, { env });
        consumers.push(drain);
        let drainExitAt: number | undefined;
        drain.done.then(() => drainExitAt = performance.now());
        const drained = await caughtUp(() => drainExitAt !== undefined);
        console.log(`[${secondsSince(t0)}] drain consumer caught up: ${drained}`);
        if (drainExitAt === undefined) drain.child.kill("SIGTERM");
        drainResult = await drain.done;
      }
      printLines("first consumer", first, t0);
      if (consumers[1]) printLines("drain consumer", consumers[1], t0);

      // Figures, then verdicts.
      const sent = ticks.slice(0, acknowledged);
      const lake = await readLakeTicks(s3);
      const figures = lakeFigures(lake, sent);
      const counted = await recountWithPyarrow(lakeUri);
      const committed = await committedOffsets(kafka, group, topic);
      const ends = await endOffsets(kafka, topic);
      console.log(
        `broker loss: acknowledged ${figures.acknowledged}, in lake ${figures.inLake}, distinct ` +
          `${figures.distinct}, lost ${figures.lost}, duplicated ${figures.duplicated}, unexpected ` +
          `${figures.unexpected}; pyarrow rows ${counted.rows}, distinct ${counted.distinct}, ` +
          `repeated keys ${counted.repeatedKeys}, files ${counted.files}\n  ${
            partitionBreakdown(await lakeTicksByPartition(s3), sent).join("\n  ")
          }\n  S3 hole at ${secondsSince(t0, holeAt)}, flush stuck at ${
            secondsSince(t0, stuckAt)
          }, broker killed at ${secondsSince(t0, killedAt)}, back at ${
            secondsSince(t0, brokerBackAt)
          }, S3 restored at ${secondsSince(t0, restoredAt)}; first consumer ${
            exitedByItself
              ? `exited by itself at ${
                secondsSince(t0, firstExitAt)
              } (code ${firstResult.code}; broker down then: ${brokerWasDown}, S3 hung then: ${s3WasHung})`
              : stuck
              ? `neither caught up nor exited within ${CATCH_UP_MS / 1000} s`
              : `caught up at ${secondsSince(t0, firstCaughtUpAt)}`
          }; drain run ${drainResult ? `exit ${drainResult.code}` : "not needed"}; committed ${
            formatOffsets(committed)
          }, end ${formatOffsets(ends)}`,
      );

      // An exit on the way must say what failed: Kafka while the broker was gone; while the
      // broker was up it must not claim Kafka cannot be reached (nor send the user to check that
      // the broker runs or its advertised.listeners); and never an S3 configuration problem that
      // did not exist.
      if (exitedByItself) {
        const message = errorLine(firstResult.stderr);
        assert.notEqual(firstResult.code, 0, `the first consumer stopped early saying: ${message}`);
        assert.match(message, /^error: /, "the first consumer died without an error message");
        assert.doesNotMatch(
          message,
          /NoSuchBucket|AccessDenied|access denied|credentials|wrong region|does not exist/i,
          "the first consumer blamed an S3 configuration problem that does not exist",
        );
        if (brokerWasDown) {
          assert.match(message, /kafka|broker/i, "exit while the broker was gone must name Kafka");
        } else {
          assert.doesNotMatch(
            message,
            /Cannot use Kafka|Check that the broker is running|advertised\.listeners/,
            `the first consumer exited ${
              secondsSince(brokerBackAt, firstExitAt)
            } after the broker was back (S3 ${
              s3WasHung ? "still hung" : "answering"
            }), blaming Kafka's reachability`,
          );
          if (s3WasHung) {
            assert.match(message, /\bS3\b|s3:\/\//, "exit while only S3 hung must name S3");
          }
        }
        assert.ok(drainResult, "no drain run");
        assert.equal(drainResult.code, 0, `the drain run failed:\n${drainResult.stderr}`);
      } else {
        assert.ok(!stuck, `the first consumer neither caught up nor exited in ${CATCH_UP_MS} ms`);
        assert.equal(
          firstResult.code,
          0,
          `the first consumer's stop failed:\n${firstResult.stderr}`,
        );
        assert.match(firstResult.stderr, /Done \(signal\)/);
      }
      // Exactly once.
      assertExactlyOnce(lake, sent);
      assert.equal(counted.rows, acknowledged, "pyarrow row count");
      assert.equal(counted.distinct, acknowledged, "pyarrow distinct (symbol, ts)");
      assert.deepEqual(committed, ends, "committed offsets at the end of the topic");
    } finally {
      for (const c of consumers) {
        try {
          c.child.kill("SIGKILL");
        } catch {
          // already ended
        }
        await c.done;
      }
      const stopped = await broker.stop();
      console.log(`dedicated broker: ${stopped.outcome}`);
      await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
    }
  },
});
