/**
 * The dead-letter writer: forwards poison messages to `<topic>.dlq` with headers that say why
 * (`dlq.reason`) and where they came from (`dlq.source` = `topic/partition/offset`). At least
 * once: a range that is replayed after a crash sends its poison again.
 *
 * @module
 */

import type { Producer } from "kafkajs";
import { type Logger, silentLogger } from "../log.ts";
import type { PoisonMessage } from "./split.ts";

/** Options of {@linkcode DeadLetterWriter}. */
export interface DeadLetterWriterOptions {
  /** A connected producer. */
  producer: Producer;
  /** The dead-letter topic. */
  topic: string;
  /** Where each dead letter is reported. @default silentLogger */
  logger?: Logger;
}

/**
 * Sends poison messages to the dead-letter topic, acknowledged by all in-sync replicas.
 *
 * @example
 * ```ts ignore
 * const dlq = new DeadLetterWriter({ producer, topic: "stock_market.dlq" });
 * await dlq.send("stock_market", 0, poison);
 * ```
 */
export class DeadLetterWriter {
  /** The dead-letter topic. */
  readonly topic: string;
  readonly #producer: Producer;
  readonly #logger: Logger;
  #sent = 0;

  /** Creates the writer; `producer` must be connected before {@linkcode DeadLetterWriter.send}. */
  constructor(options: DeadLetterWriterOptions) {
    this.topic = options.topic;
    this.#producer = options.producer;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Messages sent so far. */
  get sent(): number {
    return this.#sent;
  }

  /** Sends `poison` from `sourceTopic`/`partition`; resolves once the broker acknowledged it. */
  async send(
    sourceTopic: string,
    partition: number,
    poison: readonly PoisonMessage[],
  ): Promise<void> {
    if (poison.length === 0) return;
    await this.#producer.send({
      topic: this.topic,
      acks: -1,
      messages: poison.map((p) => ({
        key: p.key,
        value: p.value,
        headers: {
          "dlq.reason": p.reason,
          "dlq.source": `${sourceTopic}/${partition}/${p.offset}`,
        },
      })),
    });
    for (const p of poison) {
      this.#logger.warn(
        `Sent offset ${p.offset} of partition ${partition} to ${this.topic}: ${p.reason}.`,
      );
    }
    this.#sent += poison.length;
  }
}
