/**
 * Test helpers for the Kafka stages: the broker from `KAFKA_BROKERS`, throwaway topics, producing
 * ticks, running `deno task` scripts as child processes (and killing them), reading committed
 * offsets and dead letters, a TCP proxy that can "unplug" a service, and the exactly-once check
 * that compares a lake with what was produced.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Batch, Consumer, IHeaders, Kafka, KafkaMessage } from "kafkajs";
import { ensureTopic } from "../kafka/admin.ts";
import { createKafka } from "../kafka/client.ts";
import { createTickProducer, produceTicks } from "../kafka/producer.ts";
import { decodeTick, type Tick } from "../tick.ts";
import { requireTestEnv } from "./lake.ts";

/** The repository root (where `deno.json` is), for running scripts as a user would. */
export const REPO_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/**
 * The bootstrap servers of the test broker: env `KAFKA_BROKERS`.
 *
 * @throws {Error} when it is not set, saying to run via `deno task test`.
 */
export function testBrokers(): string[] {
  return requireTestEnv("KAFKA_BROKERS", "a Kafka broker, e.g. 127.0.0.1:9092").split(",");
}

/** A kafkajs client for the test broker (kafkajs logs are dropped). */
export function testKafka(): Kafka {
  return createKafka({ brokers: testBrokers(), clientId: "lake-tests" });
}

/** A unique topic, group or bucket name for one test, e.g. `crash-lq3x9a-4f2c`. */
export function uniqueName(prefix: string): string {
  const random = crypto.getRandomValues(new Uint8Array(3));
  const suffix = Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${prefix}-${Date.now().toString(36)}-${suffix}`;
}

/** A topic created for one test; disposing deletes it and its dead-letter topic. */
export interface TestTopic extends AsyncDisposable {
  /** The topic name. */
  topic: string;
  /** A consumer group name unique to this topic. */
  group: string;
}

/**
 * Creates a unique topic with `partitions` partitions: `await using t = await testTopic(kafka);`.
 */
export async function testTopic(
  kafka: Kafka,
  options: { prefix?: string; partitions?: number } = {},
): Promise<TestTopic> {
  const topic = uniqueName(options.prefix ?? "lake-test");
  await ensureTopic(kafka, { topic, partitions: options.partitions ?? 3 });
  return {
    topic,
    group: `${topic}-group`,
    [Symbol.asyncDispose]: async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const topics = [topic, `${topic}.dlq`].filter((t) => existing.has(t));
        if (topics.length > 0) await admin.deleteTopics({ topics });
        await admin.deleteGroups([`${topic}-group`]).catch(() => {});
      } finally {
        await admin.disconnect();
      }
    },
  };
}

/** Sends ticks with the project's producer (key = symbol) and resolves once all are acknowledged. */
export async function sendTicks(
  kafka: Kafka,
  topic: string,
  ticks: Iterable<Tick> | AsyncIterable<Tick>,
): Promise<number> {
  const producer = createTickProducer(kafka);
  await producer.connect();
  try {
    const result = await produceTicks(producer, ticks, { topic, batchSize: 2000 });
    return result.sent;
  } finally {
    await producer.disconnect();
  }
}

/** The sum of per-partition offsets (a topic's size from its end offsets, a group's progress). */
export function sumOffsets(offsets: Map<number, bigint>): bigint {
  return [...offsets.values()].reduce((a, b) => a + b, 0n);
}

/**
 * Offsets per partition as `partition:offset` pairs in partition order, e.g. `0:120 1:98`, for
 * test logs and messages; only `partitions` when given.
 */
export function formatOffsets(offsets: Map<number, bigint>, partitions?: number[]): string {
  return [...offsets].filter(([p]) => !partitions || partitions.includes(p))
    .sort(([a], [b]) => a - b).map(([p, o]) => `${p}:${o}`).join(" ");
}

/** The group's committed offset per partition (`-1` when none). */
export async function committedOffsets(
  kafka: Kafka,
  group: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map(entry.partitions.map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** The topic's end offset (next offset to be written) per partition. */
export async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, bigint>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** A message read back from a topic, headers decoded as UTF-8. */
export interface ReadMessage {
  /** Partition it was read from. */
  partition: number;
  /** Offset in that partition. */
  offset: string;
  /** Key, UTF-8, or `null`. */
  key: string | null;
  /** Value, UTF-8, or `null` (a tombstone). */
  value: string | null;
  /** Headers as strings. */
  headers: Record<string, string>;
}

/**
 * Runs a connected, subscribed `consumer` until `handle` says a batch was the last it needs;
 * rejects with `timeout()`'s message after `ms` (or when the consumer fails).
 */
export function runUntil(
  consumer: Consumer,
  handle: (batch: Batch) => boolean,
  { ms, timeout }: { ms: number; timeout: () => string },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(timeout())), ms);
    consumer.run({
      eachBatch: ({ batch }) => {
        if (handle(batch)) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    }).catch((error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Reads every message of a topic from the beginning, up to its end offsets at the time of the call,
 * with a throwaway consumer group.
 */
export async function readTopic(kafka: Kafka, topic: string): Promise<ReadMessage[]> {
  const ends = await endOffsets(kafka, topic);
  const total = sumOffsets(ends);
  const messages: ReadMessage[] = [];
  if (total === 0n) return messages;
  const group = uniqueName("reader");
  const consumer = kafka.consumer({ groupId: group });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await runUntil(consumer, (batch) => {
      for (const message of batch.messages) messages.push(toReadMessage(batch.partition, message));
      return BigInt(messages.length) >= total;
    }, {
      ms: 60_000,
      timeout: () => `Read ${messages.length} of ${total} messages of ${topic} in 60 s.`,
    });
  } finally {
    await consumer.disconnect();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([group]).catch(() => {});
    await admin.disconnect();
  }
  return messages;
}

function toReadMessage(partition: number, message: KafkaMessage): ReadMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {} as IHeaders)) {
    headers[name] = Array.isArray(value) ? value.map(String).join(",") : String(value);
  }
  return {
    partition,
    offset: message.offset,
    key: message.key?.toString("utf8") ?? null,
    value: message.value?.toString("utf8") ?? null,
    headers,
  };
}

/** The environment a child script needs to reach the test broker and emulator. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (
    const name of [
      "KAFKA_BROKERS",
      "AWS_ENDPOINT_URL",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_REGION",
    ]
  ) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

/** A project script running as a child process, its output collected. */
export interface ScriptProcess {
  /** The child. */
  child: Deno.ChildProcess;
  /** Resolves with the exit status and the whole output once the child ends. */
  done: Promise<ScriptResult>;
}

/** How a script run ended. */
export interface ScriptResult {
  /** Exit code (137 or a signal for a SIGKILL). */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** Everything it wrote to stdout. */
  stdout: string;
  /** Everything it wrote to stderr. */
  stderr: string;
}

/**
 * Starts `deno run -A scripts/<name>.ts …args` from the repository root, as `deno task <name>`
 * would, with {@linkcode childEnv}. `onLine` sees every complete output line as it is read.
 */
export function startScript(
  name: string,
  args: string[],
  options: {
    env?: Record<string, string>;
    onLine?: (stream: "stdout" | "stderr", line: string) => void;
  } = {},
): ScriptProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `scripts/${name}.ts`, ...args],
    cwd: REPO_ROOT,
    env: childEnv(options.env),
    clearEnv: false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const read = async (stream: ReadableStream<Uint8Array>, which: "stdout" | "stderr") => {
    const decoder = new TextDecoder();
    let text = "";
    let partial = "";
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true });
      text += piece;
      if (!options.onLine) continue;
      const parts = (partial + piece).split(/\r?\n|\r/);
      partial = parts.pop() ?? "";
      for (const line of parts) options.onLine(which, line);
    }
    if (partial !== "") options.onLine?.(which, partial);
    return text;
  };
  const stdout = read(child.stdout, "stdout");
  const stderr = read(child.stderr, "stderr");
  const done = (async () => {
    const status = await child.status;
    return { code: status.code, signal: status.signal, stdout: await stdout, stderr: await stderr };
  })();
  return { child, done };
}

/**
 * Runs a project script to its end and returns its output; fails the test when it exits non-zero
 * (unless `allowFailure`), quoting its stderr.
 */
export async function runScript(
  name: string,
  args: string[],
  options: { env?: Record<string, string>; allowFailure?: boolean } = {},
): Promise<ScriptResult> {
  const result = await startScript(name, args, options).done;
  if (!options.allowFailure && result.code !== 0) {
    throw new Error(
      `deno task ${name} ${args.join(" ")} exited with ${result.code}:\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * Asserts that a topic holds exactly `sent`, keyed by symbol, each symbol in one partition and in
 * the order it was sent; returns each symbol's partition.
 */
export function assertKeyedInOrder(
  messages: readonly ReadMessage[],
  sent: readonly Tick[],
): Map<string, number> {
  assert.equal(messages.length, sent.length);
  const partitionOf = new Map<string, number>();
  for (const m of messages) {
    const tick = decodeTick(m.value!);
    assert.equal(m.key, tick.symbol);
    if (partitionOf.has(tick.symbol)) assert.equal(partitionOf.get(tick.symbol), m.partition);
    partitionOf.set(tick.symbol, m.partition);
  }
  for (const symbol of partitionOf.keys()) {
    const landed = messages.filter((m) => m.key === symbol).map((m) => decodeTick(m.value!).ts);
    const order = sent.filter((x) => x.symbol === symbol).map((x) => x.ts);
    assert.deepEqual(landed, order, `order of ${symbol}`);
  }
  return partitionOf;
}

/** The key of a tick for exactly-once checks: symbol and event time. */
export function tickKey(tick: Tick): string {
  return `${tick.symbol}|${tick.ts}`;
}

/**
 * Asserts that `lake` holds every tick of `expected` exactly once, with equal values, and nothing
 * else. Messages name the first few missing, duplicated, extra or changed rows.
 */
export function assertExactlyOnce(lake: readonly Tick[], expected: readonly Tick[]): void {
  const want = new Map<string, Tick>();
  for (const tick of expected) {
    assert.ok(!want.has(tickKey(tick)), `the expected ticks repeat ${tickKey(tick)}`);
    want.set(tickKey(tick), tick);
  }
  const seen = new Map<string, number>();
  const extra: string[] = [];
  const changed: string[] = [];
  for (const tick of lake) {
    const key = tickKey(tick);
    seen.set(key, (seen.get(key) ?? 0) + 1);
    const original = want.get(key);
    if (!original) extra.push(key);
    else if (seen.get(key) === 1) {
      try {
        assert.deepEqual({ ...tick }, { ...original });
      } catch {
        changed.push(`${key}: ${JSON.stringify(tick)} != ${JSON.stringify(original)}`);
      }
    }
  }
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
  const missing = [...want.keys()].filter((k) => !seen.has(k));
  const sample = (list: string[]) => `${list.length} (${list.slice(0, 5).join("; ")})`;
  assert.deepEqual(
    {
      missing: missing.length,
      duplicated: duplicated.length,
      extra: extra.length,
      changed: changed.length,
    },
    { missing: 0, duplicated: 0, extra: 0, changed: 0 },
    `lake has ${lake.length} rows, ${expected.length} expected; missing ${sample(missing)}, ` +
      `duplicated ${sample(duplicated)}, extra ${sample(extra)}, changed ${sample(changed)}`,
  );
  assert.equal(lake.length, expected.length);
}

/**
 * A seeded pseudo-random generator for reproducible random test schedules (mulberry32).
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A TCP proxy in front of a service that a test can unplug and plug back in. */
export interface TcpProxy extends AsyncDisposable {
  /** The port clients connect to (127.0.0.1). */
  port: number;
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Refuses new connections and cuts every open one (the service looks down). */
  down(): void;
  /** Accepts and forwards connections again. */
  up(): void;
  /** True while forwarding. */
  readonly isUp: boolean;
}

/**
 * Starts a TCP proxy on a free 127.0.0.1 port that forwards to `targetPort`. While down, the
 * listener is closed (connections are refused) and open connections are cut.
 */
export function tcpProxy(targetPort: number, targetHost = "127.0.0.1"): TcpProxy {
  let listener: Deno.Listener | undefined;
  const open = new Set<Deno.Conn>();
  let port = 0;
  const listen = () => {
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    port = (listener.addr as Deno.NetAddr).port;
    const current = listener;
    (async () => {
      try {
        for await (const client of current) void forward(client);
      } catch {
        // closed
      }
    })();
  };
  const forward = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: targetHost, port: targetPort });
    } catch {
      client.close();
      return;
    }
    open.add(client);
    open.add(server);
    const close = () => {
      for (const c of [client, server]) {
        if (open.delete(c)) {
          try {
            c.close();
          } catch {
            // already closed
          }
        }
      }
    };
    await Promise.allSettled([
      client.readable.pipeTo(server.writable, { preventClose: false }),
      server.readable.pipeTo(client.writable, { preventClose: false }),
    ]);
    close();
  };
  const cut = () => {
    listener?.close();
    listener = undefined;
    for (const c of [...open]) {
      open.delete(c);
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  };
  listen();
  return {
    get port() {
      return port;
    },
    get endpoint() {
      return `http://127.0.0.1:${port}`;
    },
    get isUp() {
      return listener !== undefined;
    },
    down: cut,
    up: () => {
      if (!listener) listen();
    },
    [Symbol.asyncDispose]: () => {
      cut();
      return Promise.resolve();
    },
  };
}
