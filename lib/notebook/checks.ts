/**
 * What each notebook checks before it starts: a broker that answers (and advertises addresses this
 * machine can reach), a topic that holds messages, a lake that holds objects. A missing one stops
 * the notebook with one sentence saying which notebook or command to run, not a client's stack
 * trace.
 *
 * @module
 */

import type { Kafka } from "kafkajs";
import { classifyKafkaFailure, createKafka, KafkaUnavailableError } from "../kafka/client.ts";
import type { KafkaSecurity } from "../kafka/security.ts";
import { readTable } from "../lake/generations.ts";
import { tablePrefix } from "../lake/layout.ts";
import { openStore } from "../lake/open_store.ts";
import { formatBytes, formatCount } from "../progress.ts";
import type { NotebookSettings } from "./settings.ts";
import { keyValues, type TableView } from "./views.ts";

/**
 * Raised when a notebook's prerequisite is missing. Its message says what to run; its stack is
 * the message alone, so Jupyter shows one readable line instead of a trace.
 */
export class PrerequisiteError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PrerequisiteError";
    this.stack = `${this.name}: ${message}`;
  }
}

/** A prerequisite a notebook can ask for. */
export type Prerequisite =
  /** A Kafka broker answers at `settings.brokers`. */
  | "broker"
  /** `settings.topic` exists and holds messages (the producer notebook ran). */
  | "messages"
  /** The lake holds objects of `settings.table` (the consumer notebook ran). */
  | "lake";

/** Options of {@linkcode checkPrerequisites}. */
export interface CheckOptions {
  /** The Kafka client to use. @default one for `settings.brokers`, 3 s to connect, 1 retry */
  kafka?: Kafka;
  /** How long to wait for a broker's address. @default 3000 */
  timeoutMs?: number;
}

/** The client a check uses: the caller's, else one that gives up fast (3 s to connect, 1 retry). */
function checkClient(
  settings: Pick<NotebookSettings, "brokers"> & KafkaSecurity,
  options: CheckOptions,
): Kafka {
  return options.kafka ??
    createKafka({
      brokers: settings.brokers,
      security: settings,
      connectionTimeoutMs: 3000,
      retries: 1,
    });
}

/**
 * Checks the prerequisites in order and returns what it found as a table to show; throws a
 * {@linkcode PrerequisiteError} at the first one missing.
 *
 * @example
 * ```ts ignore
 * import { checkPrerequisites, notebookSettings, show } from "./mod.ts";
 * await show(await checkPrerequisites(notebookSettings(), ["broker", "messages"]));
 * ```
 */
export async function checkPrerequisites(
  settings: NotebookSettings,
  needs: readonly Prerequisite[],
  options: CheckOptions = {},
): Promise<TableView> {
  const found: Record<string, string> = {};
  const kafka = checkClient(settings, options);
  for (const need of needs) {
    if (need === "broker") {
      const brokers = await requireBroker(settings, { kafka, timeoutMs: options.timeoutMs });
      found["Kafka"] = `${settings.brokers.join(", ")}: ${brokers.length} broker(s), ${
        brokers.map((b) => `${b.host}:${b.port}`).join(", ")
      } reachable`;
    } else if (need === "messages") {
      const topic = await requireMessages(settings, { kafka });
      found[`topic ${settings.topic}`] = `${
        formatCount(topic.messages)
      } messages in ${topic.partitions} partitions`;
    } else if (need === "lake") {
      const lake = await requireLake(settings);
      found["lake"] = `${lake.uri}: ${formatCount(lake.objects)} ${
        lake.objects === 1 ? "object" : "objects"
      } under ${tablePrefix(settings.table)} (${formatBytes(lake.bytes)})`;
    }
  }
  return keyValues(found, "Prerequisites: all there");
}

/** A broker of the cluster as it advertises itself. */
export interface AdvertisedBroker {
  /** `node.id`. */
  nodeId: number;
  /** Advertised host: what clients connect to after the bootstrap. */
  host: string;
  /** Advertised port. */
  port: number;
}

/**
 * Checks that a broker answers at `settings.brokers` and that every broker it advertises can be
 * reached from here (the original tutorial's EC2 pitfall: `advertised.listeners` left at a
 * private address).
 *
 * @throws {PrerequisiteError} saying to start the local broker or fix the address.
 */
export async function requireBroker(
  settings: Pick<NotebookSettings, "brokers"> & KafkaSecurity,
  options: CheckOptions = {},
): Promise<AdvertisedBroker[]> {
  const kafka = checkClient(settings, options);
  const admin = kafka.admin();
  let brokers: AdvertisedBroker[];
  try {
    await admin.connect();
    brokers = (await admin.describeCluster()).brokers;
  } catch (error) {
    if (classifyKafkaFailure(settings.brokers, error) !== "unreachable") {
      // It answers but refuses this client: TLS or the login, as the message says.
      throw new PrerequisiteError(new KafkaUnavailableError(settings.brokers, error).message, {
        cause: error,
      });
    }
    throw new PrerequisiteError(
      `No Kafka broker answers at ${settings.brokers.join(", ")} (${
        (error as Error).message
      }). Start the local one with \`deno task up\` (00_kafka_setup.ipynb explains it), or set ` +
        "`brokers` in the first cell to your broker (on EC2, the address `deno task ec2 apply` " +
        "printed).",
      { cause: error },
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
  for (const broker of brokers) {
    if (!(await reachable(broker.host, broker.port, options.timeoutMs ?? 3000))) {
      throw new PrerequisiteError(
        `The broker at ${settings.brokers.join(", ")} answers, but it advertises ` +
          `${broker.host}:${broker.port} (node ${broker.nodeId}), which this machine cannot ` +
          "reach: clients connect to the advertised address after the first contact. Set the " +
          "broker's advertised.listeners to an address clients can reach (on EC2: the " +
          "instance's public DNS name; 00_kafka_setup.ipynb explains it).",
      );
    }
  }
  return brokers;
}

async function reachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) =>
    timer = setTimeout(() => resolve(false), timeoutMs)
  );
  const attempt = Deno.connect({ hostname: host, port }).then(
    (conn) => {
      conn.close();
      return true;
    },
    () => false,
  );
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Checks that `settings.topic` exists and holds messages.
 *
 * @throws {PrerequisiteError} saying to run the producer notebook (or `deno task produce`).
 */
export async function requireMessages(
  settings: Pick<NotebookSettings, "brokers" | "topic"> & KafkaSecurity,
  options: CheckOptions = {},
): Promise<{ partitions: number; messages: number }> {
  const kafka = checkClient(settings, options);
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = await admin.listTopics();
    if (!topics.includes(settings.topic)) {
      throw new PrerequisiteError(
        `Topic "${settings.topic}" does not exist on ${settings.brokers.join(", ")} yet: run ` +
          "01_kafka_producer.ipynb first (it creates the topic and sends ticks), or " +
          "`deno task produce`.",
      );
    }
    const offsets = await admin.fetchTopicOffsets(settings.topic);
    const messages = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
    if (messages === 0) {
      throw new PrerequisiteError(
        `Topic "${settings.topic}" holds no messages: run 01_kafka_producer.ipynb first, or ` +
          "`deno task produce`.",
      );
    }
    return { partitions: offsets.length, messages };
  } catch (error) {
    if (error instanceof PrerequisiteError) throw error;
    throw new PrerequisiteError(
      `Cannot read topic "${settings.topic}" at ${settings.brokers.join(", ")} (${
        (error as Error).message
      }): is the broker running? \`deno task up\` starts the local one.`,
      { cause: error },
    );
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Checks that the lake holds objects of the table.
 *
 * @throws {PrerequisiteError} saying to run the consumer notebook (or `deno task consume`), or
 * what is wrong with the lake's location.
 */
export async function requireLake(
  settings: Pick<NotebookSettings, "lake" | "region" | "endpoint" | "table">,
): Promise<{ uri: string; objects: number; bytes: number }> {
  const store = openStore(settings.lake, { region: settings.region, endpoint: settings.endpoint });
  let objects = 0;
  let bytes = 0;
  try {
    // The live objects (lib/lake/generations.ts): a compacted day counts its merged objects only.
    for (const view of await readTable(store, tablePrefix(settings.table))) {
      for (const object of view.objects) {
        objects++;
        bytes += object.size;
      }
    }
  } catch (error) {
    throw new PrerequisiteError(
      `Cannot read the lake ${store.uri}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  if (objects === 0) {
    throw new PrerequisiteError(
      `The lake ${store.uri} has no objects under ${tablePrefix(settings.table)} yet: run ` +
        "02_kafka_consumer.ipynb first (or `deno task consume --idle-exit 5`), or set `lake` in " +
        "the first cell to the lake you filled.",
    );
  }
  return { uri: store.uri, objects, bytes };
}
