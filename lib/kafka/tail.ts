/**
 * The console consumer (`deno task tail`, the original tutorial's `kafka-console-consumer.sh`):
 * reads a topic's messages as they are, without joining the lake's consumer group and without
 * committing any offset, so it can look at a topic at any time without moving anybody's position.
 *
 * kafkajs always consumes through a group, so the tail uses a throwaway one (`tail-<random>`)
 * that commits nothing, is given exactly the partitions asked for by its own partition assigner,
 * seeks each of them to where the tail starts, and is deleted when the tail stops.
 *
 * @module
 */

import {
  AssignerProtocol,
  type Consumer,
  type Kafka,
  type KafkaMessage,
  type PartitionAssigner,
} from "kafkajs";
import { Buffer } from "node:buffer";
import { type Logger, silentLogger } from "../log.ts";
import { isConnectionError, KafkaUnavailableError } from "./client.ts";

/** Where the tail starts in each partition it reads. */
export type TailStart = "latest" | "earliest" | { offset: bigint };

/** Options of {@linkcode tailTopic}. */
export interface TailOptions {
  /** The topic to read. */
  topic: string;
  /**
   * Where to start: `latest` (only messages sent from now on, like the console consumer),
   * `earliest` (`--from-beginning`), or an offset (`--offset O`; in every partition read, or in
   * `partition` only). @default "latest"
   */
  start?: TailStart;
  /** Read this partition only. @default every partition */
  partition?: number;
  /** Stop after this many messages. @default no limit */
  max?: number;
  /** Stop after this many milliseconds without a message. @default never */
  idleExitMs?: number;
  /** Stops the tail (Ctrl-C). */
  signal?: AbortSignal;
  /** Called with each message, in the order they arrive (in offset order within a partition). */
  onMessage: (message: TailMessage) => void | Promise<void>;
  /** Bootstrap servers, for error messages. */
  brokers?: string[];
  /** Where the start positions are reported. @default silentLogger */
  logger?: Logger;
}

/** One message read by {@linkcode tailTopic}, decoded as UTF-8. */
export interface TailMessage {
  /** Topic it was read from. */
  topic: string;
  /** Partition it was read from. */
  partition: number;
  /** Its offset in that partition, decimal. */
  offset: string;
  /** Key, or `null`. */
  key: string | null;
  /** Value, or `null` (a tombstone). */
  value: string | null;
  /** The record's timestamp, ISO-8601 UTC. */
  timestamp: string;
  /** Headers as strings. */
  headers: Record<string, string>;
}

/** Why {@linkcode tailTopic} returned. */
export type TailStop = "max" | "idle" | "signal";

/** What {@linkcode tailTopic} did. */
export interface TailResult {
  /** Messages handed to `onMessage`. */
  messages: number;
  /** Why it stopped. */
  stoppedBy: TailStop;
  /** The throwaway group it read through (deleted again; it never committed an offset). */
  group: string;
  /** The partitions read and the offset each started at. */
  started: { partition: number; offset: string }[];
}

/** Raised for a topic, partition or offset the tail cannot read; says what exists. */
export class TailError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "TailError";
  }
}

/**
 * Reads messages of a topic until `max`, `idleExitMs` or the signal, commits nothing, and
 * deletes its throwaway group.
 *
 * @example
 * ```ts ignore
 * import { createKafka } from "./client.ts";
 * import { tailTopic } from "./tail.ts";
 * await tailTopic(createKafka({ brokers: ["localhost:9092"] }), {
 *   topic: "stock_market",
 *   start: "earliest",
 *   max: 5,
 *   onMessage: (m) => console.log(m.value),
 * });
 * ```
 * @throws {TailError} for a missing topic, a partition it does not have, or an offset outside a
 * partition's range.
 * @throws {KafkaUnavailableError} when no broker answers.
 */
export async function tailTopic(kafka: Kafka, options: TailOptions): Promise<TailResult> {
  const { topic, max, idleExitMs, signal } = options;
  const logger = options.logger ?? silentLogger;
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
    throw new RangeError(`max must be a whole number of at least 1, got ${max}.`);
  }
  const group = `tail-${crypto.randomUUID().slice(0, 8)}`;
  const result: TailResult = { messages: 0, stoppedBy: "signal", group, started: [] };
  if (signal?.aborted) return result;

  const admin = kafka.admin();
  let consumer: Consumer | undefined;
  try {
    await admin.connect();
    const plan = await startPositions(admin, options);
    result.started = plan.map(({ partition, offset }) => ({ partition, offset: String(offset) }));
    consumer = kafka.consumer({
      groupId: group,
      partitionAssigners: [onlyPartitions(topic, plan.map((p) => p.partition))],
      allowAutoTopicCreation: false,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    const theConsumer = consumer;
    logger.info(
      `Reading ${topic}: ${
        plan.map((p) => `partition ${p.partition} from offset ${p.offset}`).join(", ")
      } (group ${group}, no commits).`,
    );

    const stopper = new TailStopper(idleExitMs, signal);
    await theConsumer.connect();
    await theConsumer.subscribe({ topics: [topic], fromBeginning: true });
    theConsumer.on(theConsumer.events.CRASH, (event) => stopper.fail(event.payload.error));
    await theConsumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch, isRunning, isStale }) => {
        for (const message of batch.messages) {
          if (stopper.done || !isRunning() || isStale()) return;
          stopper.armIdle();
          await options.onMessage(tailMessage(batch.topic, batch.partition, message));
          result.messages++;
          if (max !== undefined && result.messages >= max) return stopper.stop("max");
        }
      },
    });
    for (const { partition, offset } of plan) {
      theConsumer.seek({ topic, partition, offset: String(offset) });
    }
    stopper.armIdle();
    result.stoppedBy = await stopper.stopped();
    return result;
  } catch (error) {
    if (isConnectionError(error)) throw new KafkaUnavailableError(options.brokers ?? [], error);
    throw error;
  } finally {
    await consumer?.disconnect().catch(() => {});
    // The group never committed; deleting it leaves no trace in `kafka-consumer-groups --list`.
    await admin.deleteGroups([group]).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

/** Ends a tail: at `max`, after `idleExitMs` without a message, on the signal, or on a crash. */
class TailStopper {
  /** Set once the tail stopped: later messages are not shown. */
  done = false;
  readonly #idleExitMs?: number;
  readonly #signal?: AbortSignal;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #failure: unknown;
  #resolve: (reason: TailStop) => void = () => {};
  readonly #stopped = new Promise<TailStop>((resolve) => this.#resolve = resolve);
  readonly #onAbort = () => this.stop("signal");

  constructor(idleExitMs: number | undefined, signal: AbortSignal | undefined) {
    this.#idleExitMs = idleExitMs;
    this.#signal = signal;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Restarts the idle timer (a message arrived). */
  armIdle(): void {
    if (this.#idleExitMs === undefined) return;
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.stop("idle"), this.#idleExitMs);
  }

  stop(reason: TailStop): void {
    this.done = true;
    this.#resolve(reason);
  }

  fail(error: unknown): void {
    this.#failure = error;
    this.stop("signal");
  }

  /** Why the tail stopped, once it has; rethrows a crash. */
  async stopped(): Promise<TailStop> {
    const reason = await this.#stopped;
    clearTimeout(this.#idle);
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (this.#failure) throw this.#failure;
    return reason;
  }
}

/** A fetched message as the tail shows it: text key and value, ISO time, text headers. */
function tailMessage(topic: string, partition: number, message: KafkaMessage): TailMessage {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString("utf8") ?? null,
    value: message.value?.toString("utf8") ?? null,
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    headers: Object.fromEntries(
      Object.entries(message.headers ?? {}).map((
        [name, value],
      ) => [name, Array.isArray(value) ? value.map(String).join(",") : String(value)]),
    ),
  };
}

/**
 * A partition assigner that gives the (only) member of a tail group exactly the partitions the
 * tail asked for, so it fetches nothing else.
 */
function onlyPartitions(topic: string, partitions: number[]): PartitionAssigner {
  return () => ({
    name: "TailAssigner",
    version: 1,
    protocol: ({ topics }) => ({
      name: "TailAssigner",
      metadata: AssignerProtocol.MemberMetadata.encode({
        version: 1,
        topics,
        userData: Buffer.alloc(0),
      }),
    }),
    assign: ({ members }) =>
      Promise.resolve(members.map(({ memberId }, index) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: index === 0 ? { [topic]: partitions } : {},
          userData: Buffer.alloc(0),
        }),
      }))),
  });
}

/** The partitions to read and the offset each starts at, checked against the topic. */
async function startPositions(
  admin: ReturnType<Kafka["admin"]>,
  options: TailOptions,
): Promise<{ partition: number; offset: bigint }[]> {
  const { topic } = options;
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) {
    const others = topics.filter((t) => !t.startsWith("__")).sort();
    throw new TailError(
      `Topic "${topic}" does not exist on this broker (it has ${
        others.length ? others.join(", ") : "no topics"
      }). Create it by producing to it (deno task produce) or with the setup notebook.`,
    );
  }
  const offsets = await admin.fetchTopicOffsets(topic);
  offsets.sort((a, b) => a.partition - b.partition);
  let chosen = offsets;
  if (options.partition !== undefined) {
    chosen = offsets.filter((o) => o.partition === options.partition);
    if (chosen.length === 0) {
      throw new TailError(
        `Topic "${topic}" has no partition ${options.partition}: it has partitions 0..${
          offsets.length - 1
        }.`,
      );
    }
  }
  const start = options.start ?? "latest";
  return chosen.map(({ partition, low, high }) => {
    if (start === "earliest") return { partition, offset: BigInt(low) };
    if (start === "latest") return { partition, offset: BigInt(high) };
    if (start.offset < BigInt(low) || start.offset > BigInt(high)) {
      throw new TailError(
        `Offset ${start.offset} is outside partition ${partition} of "${topic}", which holds ` +
          `offsets ${low}..${BigInt(high) - 1n} (${high} is the next one written).`,
      );
    }
    return { partition, offset: start.offset };
  });
}

/**
 * One output line of the tail: the value as it is when it is JSON (one line, re-serialised),
 * else as a JSON string; with `verbose`, an object with partition, offset, timestamp, key and
 * value.
 *
 * @example
 * ```ts
 * import { formatTailLine } from "./tail.ts";
 * const m = { topic: "t", partition: 0, offset: "7", key: "NYA", value: '{"close": 1}',
 *   timestamp: "2021-01-01T00:00:00.000Z", headers: {} };
 * formatTailLine(m); // '{"close":1}'
 * formatTailLine(m, { verbose: true });
 * // '{"partition":0,"offset":"7","timestamp":"2021-01-01T00:00:00.000Z","key":"NYA","value":{"close":1}}'
 * ```
 */
export function formatTailLine(message: TailMessage, options: { verbose?: boolean } = {}): string {
  const value = parseValue(message.value);
  if (!options.verbose) return JSON.stringify(value);
  const headers = Object.keys(message.headers).length > 0 ? { headers: message.headers } : {};
  return JSON.stringify({
    partition: message.partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: message.key,
    value,
    ...headers,
  });
}

function parseValue(value: string | null): unknown {
  if (value === null) return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
