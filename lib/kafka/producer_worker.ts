/**
 * The inside of one producer worker ({@linkcode ./producer_workers.ts} starts it as a Deno Worker):
 * builds its own kafkajs client from the client options it is given (the same
 * {@linkcode createKafka} and settings as the main thread's), one idempotent producer of
 * {@linkcode createTickProducer}, and sends the partition batches it receives. Each batch is one
 * partition's records, encoded once by the main thread into one byte array that is transferred,
 * not copied (see `tick_batch.ts`), so the worker's time goes to kafkajs: the request (see
 * `kafkajs_override.ts`), CRC, compression and the round trip.
 *
 * @module
 */

import { CompressionTypes } from "kafkajs";
import { createKafka, type KafkaClientOptions } from "./client.ts";
import { createTickProducer } from "./producer.ts";
import type { Logger } from "../log.ts";
import { tickMessages } from "./tick_batch.ts";
import { workerScope } from "../worker_scope.ts";

/** Main thread → worker. */
export type ToWorker =
  | {
    type: "init";
    /** Options of the worker's client (everything but the logger, which stays in the main thread). */
    client: Omit<KafkaClientOptions, "logger">;
    topic: string;
    compression: "gzip" | "none";
  }
  | {
    type: "send";
    /** Batch id, echoed in the answer. */
    id: number;
    partition: number;
    /** Keys and values back to back, UTF-8 (see `EncodedTicks`). */
    bytes: Uint8Array;
    /** `2n + 1` boundaries into `bytes`, the first 0. */
    ends: Uint32Array;
  }
  | { type: "close" };

/** Worker → main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "acked"; id: number }
  | { type: "failed"; id: number; error: WorkerError }
  | { type: "log"; level: "info" | "warn"; text: string }
  | { type: "closed" };

/** An error carried across the worker boundary: its kafkajs name and message. */
export interface WorkerError {
  /** e.g. `KafkaJSConnectionError`. */
  name: string;
  /** The message. */
  message: string;
}

function errorOf(error: unknown): WorkerError {
  const e = error as { name?: string; message?: string };
  return { name: e?.name ?? "Error", message: e?.message ?? String(error) };
}

/** What the worker's side of the protocol needs of the worker's `self`. */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  close(): void;
}

/** Runs the worker's side of the protocol on `scope` (the worker's `self`). */
function serve(scope: WorkerScope): void {
  const post = (message: FromWorker) => scope.postMessage(message);
  const logger: Logger = {
    info: (text) => post({ type: "log", level: "info", text }),
    warn: (text) => post({ type: "log", level: "warn", text }),
    error: (text) => post({ type: "log", level: "warn", text }),
  } as Logger;
  let producer: ReturnType<typeof createTickProducer> | undefined;
  let topic = "";
  let compression = CompressionTypes.GZIP;
  scope.onmessage = async ({ data: message }) => {
    if (message.type === "init") {
      topic = message.topic;
      compression = message.compression === "none" ? CompressionTypes.None : CompressionTypes.GZIP;
      producer = createTickProducer(createKafka({ ...message.client, logger }));
      try {
        await producer.connect();
        post({ type: "ready" });
      } catch (error) {
        post({ type: "failed", id: -1, error: errorOf(error) });
      }
    } else if (message.type === "send") {
      try {
        await producer!.send({
          topic,
          acks: -1,
          compression,
          messages: tickMessages(message, message.partition),
        });
        post({ type: "acked", id: message.id });
      } catch (error) {
        post({ type: "failed", id: message.id, error: errorOf(error) });
      }
    } else if (message.type === "close") {
      await producer?.disconnect().catch(() => {});
      post({ type: "closed" });
      scope.close();
    }
  };
}

const scope = workerScope<WorkerScope>();
if (scope) serve(scope);
