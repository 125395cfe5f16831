/**
 * Fault injection for the hostile-fault tests: a TCP proxy that can turn into a black hole (an S3
 * that accepts connections and never answers), freezing and thawing a process with SIGSTOP /
 * SIGCONT, project scripts run with time-stamped output lines (to act on what a consumer reports),
 * the group's partition assignment per member, and the independent recount of a lake with pyarrow
 * next to the figures of an exactly-once comparison.
 *
 * Refusing connections (a service that is down) is `tcpProxy(…).down()` in `./kafka.ts`; hanging them
 * (a service that is up but never answers) is {@linkcode faultProxy}'s `blackHole()`.
 *
 * @module
 */

import { AssignerProtocol, type Kafka } from "kafkajs";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { decodeObject } from "../lake/encode.ts";
import { parseObjectKey } from "../lake/layout.ts";
import type { Store } from "../lake/store.ts";
import { processState } from "../ops/local/daemon.ts";
import type { Tick } from "../tick.ts";
import { type ScriptProcess, startScript, tickKey } from "./kafka.ts";
import { listLakeObjects, runTestPython } from "./lake.ts";
import { sleep } from "../time.ts";

/** What a {@linkcode FaultProxy} does with traffic. */
export type FaultMode = "pass" | "blackhole";

/** Counters of a {@linkcode FaultProxy}, for the figures a test prints. */
export interface FaultProxyStats {
  /** Connections accepted since the start. */
  accepted: number;
  /** Connections accepted while black-holed (never connected to the target). */
  acceptedWhileBlackHoled: number;
  /** Bytes read from clients and thrown away (requests that got no answer). */
  swallowedBytes: number;
  /** Connections open now that will never be answered. */
  hungNow: number;
}

/** A TCP proxy in front of a service that a test can turn into a black hole and back. */
export interface FaultProxy extends AsyncDisposable {
  /** The port clients connect to (127.0.0.1). */
  readonly port: number;
  /** `http://127.0.0.1:<port>`, e.g. for `AWS_ENDPOINT_URL`. */
  readonly endpoint: string;
  /** The current mode. */
  readonly mode: FaultMode;
  /** Counters so far. */
  readonly stats: FaultProxyStats;
  /**
   * From now on nothing is answered: new connections are accepted and their bytes read and
   * discarded; open connections stop forwarding in both directions (a request in flight never
   * gets its response). No connection is closed by the proxy (a black hole sends no FIN either).
   */
  blackHole(): void;
  /**
   * New connections are forwarded to the target again. Connections that were hung stay hung
   * until their client gives up and closes them, as after a real network partition.
   */
  passThrough(): void;
}

interface Link {
  client: Deno.Conn;
  server?: Deno.Conn;
  hung: boolean;
}

/**
 * Starts a {@linkcode FaultProxy} on a free 127.0.0.1 port in front of `targetPort`, in
 * pass-through mode.
 *
 * @example
 * ```ts ignore
 * import { faultProxy } from "./faults.ts";
 * await using proxy = faultProxy(5000); // moto
 * proxy.blackHole(); // S3 requests through proxy.endpoint now hang
 * proxy.passThrough();
 * ```
 */
export function faultProxy(targetPort: number, targetHost = "127.0.0.1"): FaultProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let mode: FaultMode = "pass";
  const links = new Set<Link>();
  const counters = { accepted: 0, acceptedWhileBlackHoled: 0, swallowedBytes: 0 };

  const closeQuietly = (conn: Deno.Conn | undefined) => {
    try {
      conn?.close();
    } catch {
      // already closed
    }
  };
  const closeLink = (link: Link) => {
    if (!links.delete(link)) return;
    closeQuietly(link.client);
    closeQuietly(link.server);
  };
  const writeAll = async (conn: Deno.Conn, bytes: Uint8Array) => {
    for (let written = 0; written < bytes.length;) {
      written += await conn.write(bytes.subarray(written));
    }
  };
  /** Client → server: forwards until hung, then swallows; the client closing ends the link. */
  const upstream = async (link: Link) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await link.client.read(buffer);
        if (n === null) break;
        if (link.hung || !link.server) {
          counters.swallowedBytes += n;
          continue;
        }
        await writeAll(link.server, buffer.subarray(0, n));
      }
    } catch {
      // reset or closed
    }
    closeLink(link);
  };
  /** Server → client: forwards until hung, then drops; the server closing ends an unhung link. */
  const downstream = async (link: Link) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await link.server!.read(buffer);
        if (n === null) break;
        if (link.hung) continue;
        await writeAll(link.client, buffer.subarray(0, n));
      }
    } catch {
      // reset or closed
    }
    // A black hole never closes the client's side: only a live link ends with its server.
    if (!link.hung) closeLink(link);
  };
  const handle = async (client: Deno.Conn) => {
    counters.accepted++;
    const link: Link = { client, hung: mode === "blackhole" };
    links.add(link);
    if (link.hung) {
      counters.acceptedWhileBlackHoled++;
      await upstream(link);
      return;
    }
    try {
      link.server = await Deno.connect({ hostname: targetHost, port: targetPort });
    } catch {
      closeLink(link);
      return;
    }
    if (!links.has(link)) {
      closeQuietly(link.server);
      return;
    }
    await Promise.allSettled([upstream(link), downstream(link)]);
  };
  (async () => {
    try {
      for await (const client of listener) void handle(client);
    } catch {
      // listener closed
    }
  })();

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return mode;
    },
    get stats() {
      return { ...counters, hungNow: [...links].filter((l) => l.hung).length };
    },
    blackHole() {
      mode = "blackhole";
      for (const link of links) link.hung = true;
    },
    passThrough() {
      mode = "pass";
    },
    [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // already closed
      }
      for (const link of [...links]) closeLink(link);
      return Promise.resolve();
    },
  };
}

/**
 * Freezes a child process with SIGSTOP and waits until the kernel reports it stopped (state `T`),
 * as a VM pause, a long GC or a laptop lid would. Returns `performance.now()` at that moment.
 *
 * @throws {Error} when the process is gone or does not stop within 5 s.
 */
export async function freeze(child: Deno.ChildProcess): Promise<number> {
  child.kill("SIGSTOP");
  await waitForState(child.pid, (state) => state === "T" || state === "t", "stopped (T)");
  return performance.now();
}

/**
 * Wakes a child frozen by {@linkcode freeze} with SIGCONT and waits until it is no longer stopped.
 * Returns `performance.now()` at that moment.
 *
 * @throws {Error} when the process is gone or stays stopped for 5 s.
 */
export async function thaw(child: Deno.ChildProcess): Promise<number> {
  child.kill("SIGCONT");
  await waitForState(child.pid, (state) => state !== "T" && state !== "t", "running again");
  return performance.now();
}

async function waitForState(
  pid: number,
  wanted: (state: string) => boolean,
  what: string,
): Promise<void> {
  const deadline = performance.now() + 5_000;
  while (true) {
    const state = await processState(pid);
    if (state === undefined || state === "Z") throw new Error(`process ${pid} is gone`);
    if (wanted(state)) return;
    if (performance.now() > deadline) {
      throw new Error(`process ${pid} is not ${what} after 5 s (state ${state})`);
    }
    await sleep(20);
  }
}

/** One line a script wrote, with when the test saw it. */
export interface TimedLine {
  /** `performance.now()` when the line was read. */
  at: number;
  /** Which stream it came from. */
  stream: "stdout" | "stderr";
  /** The line, without its newline. */
  text: string;
}

/** A script run by {@linkcode startTracedScript}: a {@linkcode ScriptProcess} plus its lines. */
export interface TracedScript extends ScriptProcess {
  /** Every complete line so far, in the order read. */
  readonly lines: TimedLine[];
  /**
   * Resolves with the first line matching `pattern` that is read after `since` (default: now),
   * or rejects after `timeoutMs` or when the script ends first.
   */
  nextLine(pattern: RegExp, options?: { since?: number; timeoutMs?: number }): Promise<TimedLine>;
}

/**
 * Starts `deno run -A scripts/<name>.ts …args` from the repository root with
 * `childEnv`, like `startScript` in `./kafka.ts`, and also records every output line with the
 * time it was read, so a test can act right after a script reports something (e.g. freeze a
 * consumer just after a progress line that shows buffered rows).
 */
export function startTracedScript(
  name: string,
  args: string[],
  options: { env?: Record<string, string> } = {},
): TracedScript {
  const lines: TimedLine[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const wakeAll = () => {
    for (const wake of [...waiters]) wake();
  };
  const script = startScript(name, args, {
    env: options.env,
    onLine: (stream, text) => {
      lines.push({ at: performance.now(), stream, text });
      wakeAll();
    },
  });
  const done = script.done.then((result) => {
    ended = true;
    wakeAll();
    return result;
  });
  const child = script.child;
  const nextLine = (
    pattern: RegExp,
    { since = performance.now(), timeoutMs = 30_000 }: { since?: number; timeoutMs?: number } = {},
  ) =>
    new Promise<TimedLine>((resolve, reject) => {
      const check = () => {
        const line = lines.find((l) => l.at >= since && pattern.test(l.text));
        if (line) finish(() => resolve(line));
        else if (ended) {
          finish(() => reject(new Error(`scripts/${name}.ts ended before ${pattern}`)));
        }
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  return { child, done, lines, nextLine };
}

/** The figures of one progress line of `deno task consume`. */
export interface ConsumeLine {
  /** Messages received. */
  consumed: number;
  /** Rows written to the lake. */
  rowsWritten: number;
  /** Objects written. */
  objects: number;
  /** Rows buffered, not yet durable. */
  buffered: number;
}

/**
 * Parses a progress line of `deno task consume`
 * (`consumed 12,345 (2,000/s) · 10,000 rows in 8 objects · buffered 2,345 · …`); `undefined` for
 * any other line.
 */
export function parseConsumeLine(text: string): ConsumeLine | undefined {
  const match =
    /consumed ([\d,]+) \([^)]*\) · ([\d,]+) rows in ([\d,]+) objects · buffered ([\d,]+)/.exec(
      text,
    );
  if (!match) return undefined;
  const n = (s: string) => Number(s.replaceAll(",", ""));
  return {
    consumed: n(match[1]),
    rowsWritten: n(match[2]),
    objects: n(match[3]),
    buffered: n(match[4]),
  };
}

/** A member of a consumer group and the partitions of one topic it is assigned. */
export interface GroupMember {
  /** The member id the coordinator gave it. */
  memberId: string;
  /** Its partitions of the topic, sorted. */
  partitions: number[];
}

/** The state of a consumer group as the coordinator describes it. */
export interface GroupView {
  /** `Stable`, `PreparingRebalance`, `CompletingRebalance`, `Empty`, `Dead`, … */
  state: string;
  /** Its members with their assignments of `topic`. */
  members: GroupMember[];
}

/** Describes `group` with each member's assigned partitions of `topic` (decoded assignments). */
export async function describeGroup(
  kafka: Kafka,
  group: string,
  topic: string,
): Promise<GroupView> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    const g = groups[0];
    return {
      state: g?.state ?? "Dead",
      members: (g?.members ?? []).map((m) => {
        const decoded = m.memberAssignment.length > 0
          ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment)
          : null;
        return {
          memberId: m.memberId,
          partitions: [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b),
        };
      }),
    };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Polls `describeGroup` until `accept` is true of the view, and returns that view.
 *
 * @throws {Error} after `timeoutMs`, with the last view seen.
 */
export async function waitForGroup(
  kafka: Kafka,
  group: string,
  topic: string,
  accept: (view: GroupView) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<GroupView> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    let view: GroupView | undefined;
    try {
      view = await describeGroup(kafka, group, topic);
      if (accept(view)) return view;
    } catch {
      // the coordinator is moving; try again
    }
    if (performance.now() > deadline) {
      throw new Error(
        `group ${group} never ${what} in ${timeoutMs} ms; last ${JSON.stringify(view)}`,
      );
    }
    await sleep(250);
  }
}

/** Rows and distinct ticks of a lake, counted by pyarrow. */
export interface PyarrowCount {
  /** Rows in every Parquet object of the table. */
  rows: number;
  /** Distinct (symbol, ts). */
  distinct: number;
  /** (symbol, ts) that occur more than once. */
  repeatedKeys: number;
  /** Parquet objects read. */
  files: number;
}

const PYARROW_RECOUNT = `
import sys, json
import pyarrow.dataset as ds, pyarrow.fs as pafs, pyarrow.compute as pc
source, cfg = sys.argv[1], json.loads(sys.argv[2])
if source.startswith("s3://"):
    fs = pafs.S3FileSystem(endpoint_override=cfg["endpoint"], scheme="http",
                           access_key=cfg["key"], secret_key=cfg["secret"], region=cfg["region"])
    root = source[5:].rstrip("/") + "/ticks"
else:
    fs, root = None, source.rstrip("/") + "/ticks"
dataset = ds.dataset(root, format="parquet", partitioning="hive", filesystem=fs)
table = dataset.to_table(columns=["symbol", "ts"])
counts = table.group_by(["symbol", "ts"]).aggregate([("symbol", "count")])
repeated = pc.sum(pc.greater(counts["symbol_count"], 1)).as_py() or 0
print(json.dumps({"rows": table.num_rows, "distinct": counts.num_rows,
                  "repeatedKeys": repeated, "files": len(dataset.files)}))
`;

/**
 * Counts the rows and distinct (symbol, ts) of a lake's Parquet objects with pyarrow, independently
 * of the project's own readers. `lake` is a folder or `s3://bucket/prefix` on the emulator at
 * `AWS_ENDPOINT_URL` (pass `endpoint` to read elsewhere, e.g. around a fault proxy).
 */
export async function recountWithPyarrow(
  lake: string,
  options: { endpoint?: string } = {},
): Promise<PyarrowCount> {
  const cfg = {
    endpoint: options.endpoint ?? Deno.env.get("AWS_ENDPOINT_URL") ?? "",
    key: Deno.env.get("AWS_ACCESS_KEY_ID") ?? "test",
    secret: Deno.env.get("AWS_SECRET_ACCESS_KEY") ?? "test",
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
  };
  return JSON.parse(await runTestPython(PYARROW_RECOUNT, [lake, JSON.stringify(cfg)]));
}

/** How a lake compares with the ticks the producer had acknowledged. */
export interface LakeFigures {
  /** Ticks the producer had acknowledged. */
  acknowledged: number;
  /** Rows in the lake. */
  inLake: number;
  /** Distinct (symbol, ts) in the lake. */
  distinct: number;
  /** Acknowledged ticks missing from the lake. */
  lost: number;
  /** Extra copies of ticks that are in the lake more than once (rows − distinct). */
  duplicated: number;
  /** Distinct ticks in the lake that were never acknowledged. */
  unexpected: number;
}

/** Compares lake rows with the acknowledged ticks by (symbol, ts), for printing before asserting. */
export function lakeFigures(lake: readonly Tick[], acknowledged: readonly Tick[]): LakeFigures {
  const want = new Set(acknowledged.map(tickKey));
  const seen = new Set<string>();
  for (const tick of lake) seen.add(tickKey(tick));
  let lost = 0;
  for (const key of want) if (!seen.has(key)) lost++;
  let unexpected = 0;
  for (const key of seen) if (!want.has(key)) unexpected++;
  return {
    acknowledged: acknowledged.length,
    inLake: lake.length,
    distinct: seen.size,
    lost,
    duplicated: lake.length - seen.size,
    unexpected,
  };
}

/** A lake's rows grouped by the Kafka partition in their object names. */
export interface LakeByPartition {
  /** Rows per partition, in key order then row order. */
  rows: Map<number, Tick[]>;
  /** The partition each symbol's rows are in (key = symbol, so one per symbol). */
  symbolPartition: Map<string, number>;
}

/**
 * Reads a lake's table grouped by Kafka partition (from the object names), to break lost and
 * duplicated rows down per partition and to tell which partition a symbol goes to.
 */
export async function lakeTicksByPartition(store: Store): Promise<LakeByPartition> {
  const rows = new Map<number, Tick[]>();
  const symbolPartition = new Map<string, number>();
  for (const key of await listLakeObjects(store)) {
    const parsed = parseObjectKey(key);
    if (!parsed) continue;
    const bytes = await store.get(key);
    if (!bytes) continue;
    const list = rows.get(parsed.partition) ?? [];
    rows.set(parsed.partition, list);
    for (const tick of decodeObject(key, bytes)) {
      list.push(tick);
      symbolPartition.set(tick.symbol, parsed.partition);
    }
  }
  return { rows, symbolPartition };
}

/**
 * Lost and duplicated rows per partition, one line each (`p0: acknowledged …, lake …, lost …,
 * duplicated …`), for the figures a test prints.
 */
export function partitionBreakdown(lake: LakeByPartition, acknowledged: readonly Tick[]): string[] {
  const partitions = [...new Set(lake.symbolPartition.values())].sort((a, b) => a - b);
  return partitions.map((p) => {
    const want = acknowledged.filter((t) => lake.symbolPartition.get(t.symbol) === p);
    const f = lakeFigures(lake.rows.get(p) ?? [], want);
    return `p${p}: acknowledged ${f.acknowledged}, lake ${f.inLake}, lost ${f.lost}, ` +
      `duplicated ${f.duplicated}`;
  });
}

/**
 * Which committed offsets are ahead of what the lake holds: for each partition committed at `c`,
 * the first `c` ticks sent to it (in send order, which is offset order for one producer on a fresh
 * topic without poison messages) must all be in `lake`. Returns one sentence per partition that
 * is committed beyond its durable rows; empty when every commit is covered.
 */
export function commitsAheadOfLake(
  committed: Map<number, bigint>,
  lake: LakeByPartition,
  sent: readonly Tick[],
): string[] {
  const problems: string[] = [];
  for (const [partition, offset] of committed) {
    if (offset <= 0n) continue;
    const have = new Set((lake.rows.get(partition) ?? []).map(tickKey));
    const mine = sent.filter((t) => lake.symbolPartition.get(t.symbol) === partition);
    const upTo = Number(offset);
    let missing = 0;
    let first: number | undefined;
    for (let i = 0; i < Math.min(upTo, mine.length); i++) {
      if (!have.has(tickKey(mine[i]))) {
        missing++;
        first ??= i;
      }
    }
    if (mine.length < upTo) {
      problems.push(`partition ${partition} committed at ${offset} but only ${mine.length} known`);
    } else if (missing > 0) {
      problems.push(
        `partition ${partition} committed at ${offset} but ${missing} of those rows are not in the ` +
          `lake (first at offset ${first})`,
      );
    }
  }
  return problems;
}

/** An object of a lake with its size and modification time. */
export interface LakeObjectInfo {
  /** Key relative to the lake root. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Modification time, epoch ms. */
  mtimeMs: number;
}

/**
 * Lists every object of a lake (folder or `s3://bucket/prefix` on `endpoint`, default
 * `AWS_ENDPOINT_URL`) with sizes and modification times, to tell afterwards which objects were
 * rewritten after a given moment (a zombie's writes).
 */
export async function lakeObjectInfo(
  lake: string,
  options: { endpoint?: string } = {},
): Promise<LakeObjectInfo[]> {
  const result: LakeObjectInfo[] = [];
  if (!lake.startsWith("s3://")) {
    const walk = async (dir: string, prefix: string) => {
      for await (const entry of Deno.readDir(dir)) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory) await walk(path, `${prefix}${entry.name}/`);
        else if (entry.isFile) {
          const stat = await Deno.stat(path);
          result.push({
            key: `${prefix}${entry.name}`,
            size: stat.size,
            mtimeMs: stat.mtime?.getTime() ?? 0,
          });
        }
      }
    };
    await walk(lake.replace(/\/+$/, ""), "");
    return result.sort((a, b) => a.key < b.key ? -1 : 1);
  }
  const [bucket, ...rest] = lake.slice("s3://".length).split("/");
  const root = rest.filter((s) => s !== "").join("/");
  const client = new S3Client({
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    endpoint: options.endpoint ?? Deno.env.get("AWS_ENDPOINT_URL"),
    forcePathStyle: true,
  });
  try {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: root === "" ? undefined : `${root}/`,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? []) {
        result.push({
          key: root === "" ? object.Key! : object.Key!.slice(root.length + 1),
          size: object.Size ?? 0,
          mtimeMs: object.LastModified?.getTime() ?? 0,
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return result.sort((a, b) => a.key < b.key ? -1 : 1);
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now: `preferred` when it is free, else
 * one the system picks. Pass `avoid` to get a port other than ones already chosen.
 */
export function freePort(preferred?: number, avoid: number[] = []): number {
  const tryPort = (port: number): number | undefined => {
    try {
      const listener = Deno.listen({ hostname: "127.0.0.1", port });
      const chosen = (listener.addr as Deno.NetAddr).port;
      listener.close();
      return avoid.includes(chosen) ? undefined : chosen;
    } catch {
      return undefined;
    }
  };
  if (preferred !== undefined) {
    const port = tryPort(preferred);
    if (port !== undefined) return port;
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = tryPort(0);
    if (port !== undefined) return port;
  }
  throw new Error("no free TCP port on 127.0.0.1");
}

/** Seconds since `origin` (a `performance.now()`), to one decimal, for the figures a test prints. */
export function secondsSince(origin: number, at = performance.now()): string {
  return `${((at - origin) / 1000).toFixed(1)} s`;
}
