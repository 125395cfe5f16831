/**
 * Throw-away Kafka topics for one benchmark run: unique names, created up front (the broker does
 * not auto-create), deleted at the end.
 *
 * @module
 */

import type { Kafka } from "kafkajs";
import { ensureTopic } from "../kafka/admin.ts";

/** Partitions of every benchmark topic (the project's default for `stock_market`). */
export const BENCH_PARTITIONS = 3;

/** Creates topics with unique names and deletes them all on dispose. */
export class BenchTopics implements AsyncDisposable {
  readonly #kafka: Kafka;
  readonly #run: string;
  readonly #created: string[] = [];

  /** Uses `kafka` for admin requests; names start with `bench-<run>-`. */
  constructor(kafka: Kafka, run = `${Date.now().toString(36)}`) {
    this.#kafka = kafka;
    this.#run = run;
  }

  /** Topics created so far. */
  get created(): readonly string[] {
    return this.#created;
  }

  /** Creates `bench-<run>-<name>` with {@linkcode BENCH_PARTITIONS} partitions and returns its name. */
  async create(name: string): Promise<string> {
    const topic = `bench-${this.#run}-${name}`;
    await ensureTopic(this.#kafka, { topic, partitions: BENCH_PARTITIONS });
    this.#created.push(topic, `${topic}.dlq`);
    return topic;
  }

  /** Deletes every topic created (and the dead-letter topics the consumer made for them). */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#created.length === 0) return;
    const admin = this.#kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const topics = this.#created.filter((t) => existing.has(t));
      if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
    } finally {
      await admin.disconnect();
    }
  }
}
