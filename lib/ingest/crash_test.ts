/**
 * Crash test of the lake consumer: `deno task consume` is SIGKILLed again and again while a stream
 * is produced, restarted each time, and the lake must still hold every produced tick exactly once.
 * Each run gets its own part of the stream, produced from the moment it owns the partitions, so
 * every kill falls while data flows however slow the machine is.
 *
 * Most kills fall at seeded random moments (env `CRASH_TEST_SEED`, printed on every run, replays
 * a schedule). The interesting moment — after a range was recorded in the partition's checkpoint
 * log and before its offsets were committed — is not left to luck: for the targeted kills the
 * test watches the checkpoint log (`_sink/<group>/<topic>+<p>/<seq>.json`) and the group's
 * committed offsets, freezes the consumer (SIGSTOP) the moment a partition's latest entry is a
 * range the group has not committed, checks that the commit is still missing, and SIGKILLs it.
 * The next run must then replay exactly that range: it appends the same range (same offsets, same
 * object keys) to the log and commits past it.
 *
 * A killed member is not evicted by the test: the broker drops it after its session timeout, so
 * the consumers run with the broker's minimum, `--session-timeout 6`.
 */

import assert from "node:assert/strict";
import type { Kafka } from "kafkajs";
import type { CheckpointRecord } from "../lake/checkpoint_log.ts";
import { parseObjectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { sleep } from "../time.ts";
import { pace } from "../source/pace.ts";
import { simulateTicks } from "../source/simulate.ts";
import type { Tick } from "../tick.ts";
import {
  describeGroup,
  freeze,
  recountWithPyarrow,
  secondsSince,
  thaw,
  waitForGroup,
} from "../testing/faults.ts";
import {
  assertExactlyOnce,
  endOffsets,
  formatOffsets,
  type ScriptProcess,
  type ScriptResult,
  seededRandom,
  sendTicks,
  startScript,
  sumOffsets,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import { listLakeObjects, readLakeTicks, s3TestStore, tempLake } from "../testing/lake.ts";

const SEED = Number(Deno.env.get("CRASH_TEST_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = 5;
/**
 * Kills (1-based) that wait for a range between checkpoint and commit; the others are random,
 * unless a targeted kill's hunt ran out of time: then every later kill hunts until one lands.
 */
const TARGETED_KILLS = new Set([2, 4]);
/** The broker's minimum session timeout: a SIGKILLed member is dropped this long after it died. */
const SESSION_TIMEOUT_S = 6;
/**
 * The stream comes in KILLS + 1 parts. Part i is produced over this many seconds from the moment
 * run i owns the partitions, so every run (however slow the ones before were) has data flowing
 * while it is killed; a part still being sent when the run dies is the next run's backlog. The
 * last part is a reserve: a hunt for the window that sees no data flowing draws a chunk of it;
 * what is left goes before the final run.
 */
const PART_SECONDS = 6;
/** Ticks per chunk a hunt draws from the reserve, and how long a chunk is paced over. */
const RESERVE_CHUNK = 3_000;
const RESERVE_CHUNK_SECONDS = 1;

/** The stream as the test produces it: parts sent one after the other, paced. */
class Stream {
  /** Ticks acknowledged so far. */
  sent = 0;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  readonly #kafka: Kafka;
  readonly #topic: string;

  constructor(kafka: Kafka, topic: string) {
    this.#kafka = kafka;
    this.#topic = topic;
  }

  /** True when nothing is being sent or waiting to be sent. */
  get idle(): boolean {
    return this.#queued === 0;
  }

  /** Sends `ticks` over `seconds` (at once for 0) after everything sent before. */
  send(ticks: Tick[], seconds: number): void {
    if (ticks.length === 0) return;
    this.#queued++;
    this.#chain = this.#chain.then(async () => {
      // The pace starts when this part's turn comes, not when it was queued.
      const source = seconds > 0 ? pace(ticks, { rate: ticks.length / seconds }) : ticks;
      this.sent += await sendTicks(this.#kafka, this.#topic, source);
    }).finally(() => this.#queued--);
  }

  /** Resolves once everything was sent and acknowledged. */
  async done(): Promise<number> {
    await this.#chain;
    return this.sent;
  }
}
/** How often the checkpoint log is read while hunting for the window, and otherwise. */
const HUNT_INTERVAL_MS = 10;
const WATCH_INTERVAL_MS = 50;
/** How often the committed offsets are read while hunting for the window. */
const COMMITTED_INTERVAL_MS = 50;
/** After freezing, time for a commit already on the wire to reach the broker. */
const SETTLE_MS = 500;
/** Longest hunt for the window before a targeted kill falls back to a plain kill. */
const HUNT_MS = 20_000;
/** Longest wait for a restarted consumer to own the partitions and replay what was left. */
const RESTART_MS = 45_000;

/**
 * 14 symbols of bars every `intervalMs`. A flushed range writes one object per date it covers;
 * with hourly bars a partition gets ~50-170 rows per date, so a range writes dozens of objects,
 * which keeps the window between checkpoint and commit wide enough to catch on a fast folder.
 * An S3 put takes longer, so half-hour bars (half as many objects) do there.
 */
function crashTicks(barsPerSymbol: number, intervalMs: number): Tick[] {
  return [...simulateTicks({
    symbols: 14,
    count: barsPerSymbol,
    intervalMs,
    start: Date.UTC(2024, 2, 4, 20),
    seed: SEED,
  })];
}

/** One entry of a partition's checkpoint log, as the test read it. */
interface LogEntry {
  key: string;
  partition: number;
  record: CheckpointRecord;
  /** The writer's process id (the writer is `host:pid:random`). */
  pid: number;
  /** `performance.now()` when the test first read it. */
  seenAt: number;
}

function describeEntry(entry: LogEntry): string {
  const r = entry.record.range;
  return `p${entry.partition} #${entry.record.seq} ${entry.record.kind}` +
    (r ? ` ${r.start}..${r.end} (${r.keys.length} objects)` : "") + ` by pid ${entry.pid}`;
}

/**
 * Reads the checkpoint logs of every partition of a group, again and again, and keeps every entry
 * it has seen (entries never change once written; older ones are pruned, so the history is what
 * was seen). Waiters are told about each new entry as soon as it is read.
 */
class CheckpointWatcher {
  /** Every entry seen, by key. */
  readonly entries = new Map<string, LogEntry>();
  /** Reads of the log so far. */
  polls = 0;
  /** Pause between reads. */
  intervalMs = WATCH_INTERVAL_MS;
  readonly #store: Store;
  readonly #prefix: string;
  readonly #waiters = new Set<(entry: LogEntry) => void>();
  #running?: Promise<void>;
  #stopped = false;
  #loop?: Promise<void>;

  constructor(store: Store, group: string) {
    this.#store = store;
    this.#prefix = `_sink/${group}/`;
  }

  /** The highest entry seen of each partition. */
  latest(): Map<number, LogEntry> {
    const latest = new Map<number, LogEntry>();
    for (const entry of this.entries.values()) {
      const known = latest.get(entry.partition);
      if (!known || known.record.seq < entry.record.seq) latest.set(entry.partition, entry);
    }
    return latest;
  }

  /** Reads the log once (joins a read in progress). */
  poll(): Promise<void> {
    return this.#running ??= this.#poll().finally(() => this.#running = undefined);
  }

  async #poll(): Promise<void> {
    const keys: string[] = [];
    for await (const { key } of this.#store.list(this.#prefix)) {
      if (!this.entries.has(key)) keys.push(key);
    }
    for (const key of keys) {
      const match = /\+(\d+)\/\d{12}\.json$/.exec(key);
      if (!match) continue;
      const bytes = await this.#store.get(key);
      if (bytes === undefined) continue; // pruned since the listing
      const record = JSON.parse(new TextDecoder().decode(bytes)) as CheckpointRecord;
      const entry: LogEntry = {
        key,
        partition: Number(match[1]),
        record,
        pid: Number(/:(\d+):[^:]*$/.exec(record.writer)?.[1] ?? -1),
        seenAt: performance.now(),
      };
      this.entries.set(key, entry);
      for (const waiter of [...this.#waiters]) waiter(entry);
    }
    this.polls++;
  }

  /** Reads the log every `intervalMs` until {@linkcode CheckpointWatcher.stop}. */
  start(): void {
    this.#loop = (async () => {
      while (!this.#stopped) {
        await this.poll().catch(() => {}); // an entry pruned mid-read: next round
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** The first entry read from now on that `accept`s, or `undefined` after `timeoutMs`. */
  next(accept: (entry: LogEntry) => boolean, timeoutMs: number): Promise<LogEntry | undefined> {
    return new Promise((resolve) => {
      const done = (entry: LogEntry | undefined) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        resolve(entry);
      };
      const waiter = (entry: LogEntry) => {
        if (accept(entry)) done(entry);
      };
      const timer = setTimeout(() => done(undefined), Math.max(0, timeoutMs));
      this.#waiters.add(waiter);
    });
  }
}

/** The group's committed offsets (0 before the first commit), through one admin connection. */
async function offsetReader(kafka: Kafka, group: string, topic: string) {
  const admin = kafka.admin();
  await admin.connect();
  return {
    async read(): Promise<Map<number, bigint>> {
      const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      // No commit yet reads as -1: the partition starts at 0.
      return new Map(entry.partitions.map((p) => {
        const offset = BigInt(p.offset);
        return [p.partition, offset < 0n ? 0n : offset];
      }));
    },
    [Symbol.asyncDispose]: () => admin.disconnect(),
  };
}
type OffsetReader = Awaited<ReturnType<typeof offsetReader>>;

/** A range recorded in the log and not committed when a consumer was killed. */
interface Uncommitted {
  /** The entry that recorded it (the range entry, or a later claim that copied it). */
  entry: LogEntry;
  /** The committed offset of its partition after the kill. */
  committed: bigint;
  /** The kill after which it was found. */
  kill: number;
  /** The entry of the run that wrote it again, once seen. */
  replay?: LogEntry;
  /** Run (1-based; KILLS + 1 is the final run) that replayed it. */
  replayRun?: number;
  /** Whether that run printed the sink's `replaying uncommitted range` line for it. */
  replayLine?: boolean;
}

function rangeOf(u: { entry: LogEntry }) {
  return u.entry.record.range!;
}

/** A targeted kill that landed: frozen with the range recorded and not committed, then killed. */
interface WindowKill {
  kill: number;
  entry: LogEntry;
  /** The partition's committed offset while frozen (after the settle time). */
  committedFrozen: bigint;
  /** The partition's committed offset once the process was gone. */
  committedDead: bigint;
  /** Freezes that found the commit already there (thawed and tried again). */
  missed: number;
  /** Ms from the entry's `at` to the test reading it. */
  seenAfterMs: number;
}

interface CrashRun {
  /** Committed offsets seen right after each kill, summed over partitions. */
  committedAfterKills: bigint[];
  /** Kills after which a range this run recorded was not committed. */
  killsBetweenCheckpointAndCommit: number;
  /** Targeted kills that landed between checkpoint and commit (confirmed). */
  windowKills: WindowKill[];
  /** Targeted kills whose hunt ran out of time (then killed at once). */
  huntsFailed: number;
  /** Targeted kills whose commit reached the broker after the freeze's settle time. */
  lateCommits: number;
  /** Every uncommitted range left by a kill, with its replay. */
  uncommitted: Uncommitted[];
}

/** Waits for `promise`, failing if the consumer ends first. */
async function whileRunning<T>(consumer: ScriptProcess, promise: Promise<T>, what: string) {
  const ended = consumer.done.then((r) => ({ ended: r }));
  const result = await Promise.race([promise.then((value) => ({ value })), ended]);
  if ("ended" in result) {
    const r = result.ended;
    assert.fail(
      `consume ended (exit ${r.code}, ${r.signal}) while ${what} (seed ${SEED}):\n${r.stderr}`,
    );
  }
  return result.value;
}

/**
 * Waits until the group is one stable member that is not one of `dead` (the broker dropped them
 * after their session timeout) and owns every partition; returns its member id.
 */
async function newOwner(
  kafka: Kafka,
  group: string,
  topic: string,
  partitions: number,
  dead: Set<string>,
): Promise<string> {
  const deadline = performance.now() + RESTART_MS;
  while (true) {
    const view = await describeGroup(kafka, group, topic).catch(() => undefined);
    const m = view?.members[0];
    if (
      view?.state === "Stable" && view.members.length === 1 && m && !dead.has(m.memberId) &&
      m.partitions.length === partitions
    ) return m.memberId;
    assert.ok(
      performance.now() < deadline,
      `seed ${SEED}: no new member owned ${topic} within ${RESTART_MS} ms; last ${
        JSON.stringify(view)
      }`,
    );
    await sleep(100);
  }
}

/**
 * Waits until run `pid` replayed every range in `pending`: appended the same range (offsets and
 * object keys) to the log after the entry that recorded it, and committed past it.
 */
async function replayed(
  pending: Uncommitted[],
  pid: number,
  run: number,
  watcher: CheckpointWatcher,
  offsets: OffsetReader,
): Promise<void> {
  const deadline = performance.now() + RESTART_MS;
  while (true) {
    await watcher.poll().catch(() => {});
    for (const u of pending) u.replay ??= findReplay(u, watcher, pid);
    const committed = await offsets.read();
    const left = pending.filter((u) =>
      !u.replay || (committed.get(u.entry.partition) ?? -1n) <= BigInt(rangeOf(u).end)
    );
    for (const u of pending) if (u.replay) u.replayRun ??= run;
    if (left.length === 0) return;
    assert.ok(
      performance.now() < deadline,
      `seed ${SEED}: run ${run} (pid ${pid}) did not replay ${
        left.map((u) => describeEntry(u.entry)).join("; ")
      } within ${RESTART_MS} ms (committed ${formatOffsets(committed)}; replay entries ${
        left.map((u) => u.replay ? describeEntry(u.replay) : "none").join("; ")
      })`,
    );
    await sleep(50);
  }
}

/** A range entry after `u`'s with its offsets and keys: `u` written again (by `pid` if given). */
function findReplay(
  u: Uncommitted,
  watcher: CheckpointWatcher,
  pid?: number,
): LogEntry | undefined {
  const r = rangeOf(u);
  for (const e of watcher.entries.values()) {
    const range = e.record.range;
    if (
      e.partition === u.entry.partition && e.record.kind === "range" &&
      e.record.seq > u.entry.record.seq && (pid === undefined || e.pid === pid) && range &&
      range.start === r.start && range.end === r.end
    ) {
      assert.deepEqual(range.keys, r.keys, `seed ${SEED}: replay of ${describeEntry(u.entry)}`);
      assert.deepEqual(range.settings, r.settings, `seed ${SEED}: replay settings`);
      return e;
    }
  }
  return undefined;
}

/**
 * Freezes `consumer` the moment a partition's newest log entry is a range it recorded that the
 * group has not committed (and not the first one it recorded for the partition, so the run made
 * progress before it dies), confirms the commit is still missing once anything on the wire has
 * landed, and SIGKILLs it. A freeze that finds the commit there thaws it and waits for the next
 * range. While no range comes, `topUp` is called every second (to keep data flowing). Returns
 * the landed kill, or `undefined` when `HUNT_MS` passed (the caller kills).
 */
async function killBetweenCheckpointAndCommit(
  consumer: ScriptProcess,
  kill: number,
  watcher: CheckpointWatcher,
  offsets: OffsetReader,
  topUp: () => void,
): Promise<Omit<WindowKill, "committedDead"> | undefined> {
  const pid = consumer.child.pid;
  const deadline = performance.now() + HUNT_MS;
  let committed = await offsets.read();
  // Only a range after one this run committed itself: the kill then also falls after progress.
  const ready = committed;
  let hunting = true;
  const refresh = (async () => {
    while (hunting) {
      committed = await offsets.read().catch(() => committed);
      await sleep(COMMITTED_INTERVAL_MS);
    }
  })();
  let missed = 0;
  watcher.intervalMs = HUNT_INTERVAL_MS;
  try {
    while (performance.now() < deadline) {
      const entry = await whileRunning(
        consumer,
        watcher.next(
          (e) =>
            e.pid === pid && e.record.kind === "range" &&
            BigInt(e.record.range!.start) > (ready.get(e.partition) ?? 0n) &&
            BigInt(e.record.range!.end) + 1n > (committed.get(e.partition) ?? -1n) &&
            e.record.seq === watcher.latest().get(e.partition)?.record.seq,
          Math.min(1_000, deadline - performance.now()),
        ),
        `hunting for kill ${kill}`,
      );
      if (!entry) {
        topUp();
        continue;
      }
      await freeze(consumer.child);
      await sleep(SETTLE_MS);
      const frozen = (await offsets.read()).get(entry.partition) ?? -1n;
      if (frozen <= BigInt(entry.record.range!.end)) {
        consumer.child.kill("SIGKILL");
        return {
          kill,
          entry,
          committedFrozen: frozen,
          missed,
          seenAfterMs: Math.round(
            entry.seenAt - performance.now() + Date.now() - Date.parse(entry.record.at),
          ),
        };
      }
      missed++;
      await thaw(consumer.child);
    }
    return undefined;
  } finally {
    watcher.intervalMs = WATCH_INTERVAL_MS;
    hunting = false;
    await refresh;
  }
}

/** The replay line the sink logs when it resumes at a recorded range (see `LakeSink#replayOf`). */
function replayLine(u: Uncommitted): RegExp {
  const r = rangeOf(u);
  return new RegExp(
    `partition ${u.entry.partition}: replaying uncommitted range ${r.start}\\.\\.${r.end}\\b`,
  );
}

/**
 * Starts the consumer and SIGKILLs it KILLS times while `ticks` are produced part by part (each
 * restart starts at once and owns the partitions once the broker dropped the dead member after
 * its session timeout), then produces the last part and runs the consumer to idle exit.
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
  const partitions = (await endOffsets(kafka, topic)).size;
  await using offsets = await offsetReader(kafka, group, topic);
  const watcher = new CheckpointWatcher(store, group);
  watcher.start();
  const args = [
    "--topic",
    topic,
    "--group",
    group,
    "--lake",
    lakeUri,
    "--flush-rows",
    "7000",
    "--flush-seconds",
    "1",
    "--session-timeout",
    String(SESSION_TIMEOUT_S),
  ];
  const t0 = performance.now();
  const partSize = Math.ceil(ticks.length / (KILLS + 1));
  const stream = new Stream(kafka, topic);
  const reserve = ticks.slice(KILLS * partSize);
  let reserveUsed = 0;
  const topUp = () => {
    if (!stream.idle || reserveUsed >= reserve.length) return;
    stream.send(reserve.slice(reserveUsed, reserveUsed + RESERVE_CHUNK), RESERVE_CHUNK_SECONDS);
    reserveUsed += RESERVE_CHUNK;
  };
  const run: CrashRun = {
    committedAfterKills: [],
    killsBetweenCheckpointAndCommit: 0,
    windowKills: [],
    huntsFailed: 0,
    lateCommits: 0,
    uncommitted: [],
  };
  /** Member ids of killed runs (the group lists them until their sessions time out). */
  const dead = new Set<string>();
  const outputs: { pid: number; result: ScriptResult }[] = [];
  /**
   * Starts a run at once (the killed member still holds the group until its session times out)
   * and waits until it owns every partition and replayed what the kills left.
   */
  const restart = async (runNumber: number) => {
    const startedAt = performance.now();
    const consumer = startScript("consume", args);
    const member = await whileRunning(
      consumer,
      newOwner(kafka, group, topic, partitions, dead),
      `joining for run ${runNumber}`,
    );
    const ownedAt = performance.now();
    const pending = run.uncommitted.filter((u) => !u.replay);
    await whileRunning(
      consumer,
      replayed(pending, consumer.child.pid, runNumber, watcher, offsets),
      `replaying for run ${runNumber}`,
    );
    stream.send(ticks.slice((runNumber - 1) * partSize, runNumber * partSize), PART_SECONDS);
    const phases = `owned the partitions as ${member} after ${secondsSince(startedAt, ownedAt)}` +
      (pending.length > 0
        ? `, replayed ${pending.length} range(s) ${secondsSince(ownedAt)} later`
        : "");
    return { consumer, phases };
  };
  try {
    for (let kill = 1; kill <= KILLS; kill++) {
      const { consumer, phases } = await restart(kill);
      const startedAt = performance.now();
      let how: string;
      let landed: Omit<WindowKill, "committedDead"> | undefined;
      const targeted = TARGETED_KILLS.has(kill) ||
        (run.windowKills.length === 0 && run.huntsFailed + run.lateCommits > 0);
      if (targeted) {
        landed = await killBetweenCheckpointAndCommit(consumer, kill, watcher, offsets, topUp);
        if (!landed) {
          run.huntsFailed++;
          consumer.child.kill("SIGKILL");
        }
        how = landed
          ? `frozen at ${describeEntry(landed.entry)} (committed ${landed.committedFrozen}, ` +
            `read ${landed.seenAfterMs} ms after it was written, ${landed.missed} freeze(s) too late)`
          : `no range caught in ${HUNT_MS} ms`;
      } else {
        const delayMs = Math.round(500 + random() * 2500);
        await whileRunning(consumer, sleep(delayMs), `waiting for kill ${kill}`);
        consumer.child.kill("SIGKILL");
        how = `at random (${delayMs} ms)`;
      }
      const result = await consumer.done;
      assert.equal(result.signal, "SIGKILL", `seed ${SEED}: ${result.stderr}`);
      outputs.push({ pid: consumer.child.pid, result });
      // Every member the group lists now is dead (the killed run may have rejoined under a new
      // id after a missed heartbeat, so take them all, not only the one seen owning).
      const view = await waitForGroup(kafka, group, topic, () => true, "could be described");
      for (const m of view.members) dead.add(m.memberId);
      const committed = await offsets.read();
      run.committedAfterKills.push(sumOffsets(committed));
      if (landed) {
        const committedDead = committed.get(landed.entry.partition) ?? -1n;
        if (committedDead <= BigInt(landed.entry.record.range!.end)) {
          run.windowKills.push({ ...landed, committedDead });
        } else {
          // A commit sent just before the freeze reached the broker after the settle time: the
          // kill fell after the commit, so it does not count as one between checkpoint and commit.
          run.lateCommits++;
          how += `; but offset ${committedDead} was committed by the time it was gone`;
        }
      }
      // What the kill left between checkpoint and commit, whatever kind of kill it was.
      await watcher.poll();
      let inWindow = false;
      for (const [partition, entry] of watcher.latest()) {
        const range = entry.record.range;
        const offset = committed.get(partition) ?? -1n;
        if (!range || BigInt(range.end) < offset) continue;
        assert.equal(BigInt(range.start), offset, `seed ${SEED}: ${describeEntry(entry)}`);
        if (entry.pid === consumer.child.pid && entry.record.kind === "range") inWindow = true;
        const known = run.uncommitted.find((u) =>
          u.entry.partition === partition && rangeOf(u).start === range.start &&
          rangeOf(u).end === range.end && !u.replay
        );
        if (!known) run.uncommitted.push({ entry, committed: offset, kill });
      }
      if (inWindow) run.killsBetweenCheckpointAndCommit++;
      console.log(
        `seed ${SEED}: [${secondsSince(t0)}] kill ${kill} (pid ${consumer.child.pid}, ` +
          `${targeted ? "targeted" : "random"}): ${phases}; killed ${
            secondsSince(startedAt)
          } later, ${how}; committed ${formatOffsets(committed)}${
            inWindow ? "; left a range between checkpoint and commit" : ""
          }`,
      );
    }
    stream.send(reserve.slice(reserveUsed), 0);
    assert.equal(await stream.done(), ticks.length);
    // The final run starts once the broker dropped the last killed member: `--idle-exit` counts
    // the time spent joining the group, so a join that waits out a dead member's session could
    // end the run before it owns anything.
    await waitForGroup(
      kafka,
      group,
      topic,
      (view) => view.members.length === 0,
      "dropped the killed member",
      RESTART_MS,
    );
    const final = startScript("consume", [...args, "--idle-exit", "3"]);
    const result = await final.done;
    assert.equal(result.code, 0, `final consume failed (seed ${SEED}):\n${result.stderr}`);
    assert.match(result.stderr + result.stdout, /Done \(idle\)/);
    outputs.push({ pid: final.child.pid, result });
    await watcher.poll();
    for (const u of run.uncommitted) {
      if (u.replay) continue;
      u.replay = findReplay(u, watcher, final.child.pid);
      if (u.replay) u.replayRun = KILLS + 1;
    }
    console.log(`seed ${SEED}: [${secondsSince(t0)}] final run done`);
  } finally {
    await watcher.stop();
  }
  for (const u of run.uncommitted) {
    const output = outputs.find((o) => o.pid === u.replay?.pid)?.result;
    if (output) u.replayLine = replayLine(u).test(output.stderr + output.stdout);
  }
  console.log(
    `seed ${SEED}: checkpoint log read ${watcher.polls} times; uncommitted ranges left by kills:\n` +
      run.uncommitted.map((u) =>
        `  after kill ${u.kill}: ${describeEntry(u.entry)} (committed ${u.committed}) → ` +
        (u.replay
          ? `replayed by run ${u.replayRun} as ${describeEntry(u.replay)}; ` +
            `"replaying uncommitted range" line ${u.replayLine ? "printed" : "not printed"}`
          : "NOT replayed")
      ).join("\n"),
  );
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
  await using offsets = await offsetReader(kafka, group, topic);
  assert.deepEqual(await offsets.read(), await endOffsets(kafka, topic));
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
  // The interesting path ran: a kill landed between checkpoint and commit (confirmed while the
  // consumer was frozen and again once it was gone) …
  assert.ok(
    run.windowKills.length >= 1,
    `seed ${SEED}: no targeted kill landed between checkpoint and commit ` +
      `(${run.huntsFailed} hunt(s) ran out of time, ${run.lateCommits} commit(s) landed late)`,
  );
  // … and every range a kill left uncommitted was written again, exactly (same offsets and
  // object keys), by the next run that owned the partition.
  for (const u of run.uncommitted) {
    assert.ok(u.replay, `seed ${SEED}: ${describeEntry(u.entry)} was never replayed`);
  }
  for (const w of run.windowKills) {
    const u = run.uncommitted.find((u) => u.entry.key === w.entry.key);
    assert.ok(u, `seed ${SEED}: kill ${w.kill}'s range is not among the uncommitted ones`);
    assert.equal(u.replayRun, w.kill + 1, `seed ${SEED}: the run after kill ${w.kill} replayed it`);
    // The sink says so in the restarted consumer's output.
    assert.ok(
      u.replayLine,
      `seed ${SEED}: run ${u.replayRun} replayed ${describeEntry(w.entry)} without printing ` +
        `a line matching ${replayLine(u)}`,
    );
  }
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
    `seed ${SEED}: ${datesPerRange.size} ranges; ${run.killsBetweenCheckpointAndCommit} kill(s) ` +
      `between checkpoint and commit, ${run.windowKills.length} of them targeted and confirmed; ` +
      `${run.uncommitted.length} uncommitted range(s) replayed`,
  );
}

async function crashScenario(
  lakeUri: string,
  store: Store,
  topic: string,
  group: string,
  ticks: Tick[],
  random: () => number,
): Promise<void> {
  console.log(`consumer crash test seed ${SEED} (set CRASH_TEST_SEED=${SEED} to replay)`);
  const t0 = performance.now();
  const run = await consumeThroughCrashes(lakeUri, store, topic, group, ticks, random);
  const consumedAt = performance.now();
  await checkLake(store, ticks, topic, group, run);
  const checkedAt = performance.now();
  const counted = await recountWithPyarrow(lakeUri);
  console.log(
    `seed ${SEED}: kills and final run ${secondsSince(t0, consumedAt)}, lake checks ${
      secondsSince(consumedAt, checkedAt)
    }, pyarrow recount ${secondsSince(checkedAt)} (${counted.files} objects)`,
  );
  assert.equal(counted.rows, ticks.length, "pyarrow row count");
  assert.equal(counted.distinct, ticks.length, "pyarrow distinct (symbol, ts)");
}

Deno.test({
  name:
    "a folder lake holds every one of 200,000 ticks exactly once after the consumer is SIGKILLed 5 times, also between checkpoint and commit",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "crash-fs", partitions: 3 });
    await using lake = await tempLake();
    const ticks = crashTicks(14_286, 3_600_000); // 200,004 ticks
    await crashScenario(lake.dir, lake.store, t.topic, t.group, ticks, seededRandom(SEED));
  },
});

Deno.test({
  name:
    "an S3 lake on moto holds every tick exactly once after the consumer is SIGKILLed 5 times, also between checkpoint and commit",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "crash-s3", partitions: 3 });
    await using s3 = await s3TestStore({ prefix: "lake" });
    const bars = Number(Deno.env.get("CRASH_TEST_S3_BARS") ?? 7_143);
    const ticks = crashTicks(bars, 1_800_000); // 100,002 ticks
    const uri = `s3://${s3.bucket}/lake`;
    await crashScenario(uri, s3, t.topic, t.group, ticks, seededRandom(SEED + 1));
  },
});
