/**
 * `deno task tail`: the console consumer. Prints a topic's messages as JSON lines, without a
 * consumer group that commits (the lake's group never moves), until `--max` or Ctrl-C.
 *
 * @module
 */

import { numberFlag, runCommand, UsageError } from "../lib/cli.ts";
import { configFlags, loadConfig, SECURITY_FIELDS } from "../lib/config.ts";
import { createKafka } from "../lib/kafka/client.ts";
import { formatTailLine, type TailStart, tailTopic } from "../lib/kafka/tail.ts";
import { consoleLogger } from "../lib/log.ts";
import { formatCount } from "../lib/progress.ts";
import { onStopSignals } from "../lib/signals.ts";

const FLAGS = {
  ...configFlags("topic", "brokers", ...SECURITY_FIELDS),
  "from-beginning": {
    type: "boolean",
    description: "Start at the oldest message (default: only messages sent from now on)",
  },
  max: { type: "string", description: "Exit after N messages" },
  partition: { type: "string", description: "Read this partition only" },
  offset: { type: "string", description: "Start at this offset (needs --partition)" },
  "idle-exit": { type: "string", description: "Exit after S seconds without a message" },
  verbose: {
    type: "boolean",
    description: "Print partition, offset, timestamp and key with each value",
  },
} as const;

const COMMAND = {
  usage: "deno task tail [flags]",
  about: `Prints the messages of a topic as JSON lines (the value; with --verbose also where it came
from), like kafka-console-consumer.sh. It reads through a throwaway consumer group that commits
no offset and is deleted on exit, so it never moves the lake consumer's position.`,
  flags: FLAGS,
  footer: `Examples:
  deno task tail --from-beginning --max 5             the first 5 messages of stock_market
  deno task tail --topic stock_market.dlq --verbose   dead letters as they arrive, with headers
  deno task tail --partition 1 --offset 100 --max 1   one message by its position`,
};

if (import.meta.main) {
  runCommand(COMMAND, async ({ values }) => {
    const config = loadConfig({ flags: values });
    const partition = numberFlag("partition", values.partition, { integer: true, min: 0 });
    const offset = numberFlag("offset", values.offset, { integer: true, min: 0 });
    if (offset !== undefined && partition === undefined) {
      throw new UsageError("--offset needs --partition: an offset is a position in one partition.");
    }
    if (offset !== undefined && values["from-beginning"] === true) {
      throw new UsageError("Use either --from-beginning or --offset, not both.");
    }
    const start: TailStart = offset !== undefined
      ? { offset: BigInt(offset) }
      : values["from-beginning"] === true
      ? "earliest"
      : "latest";
    const max = numberFlag("max", values.max, { integer: true, positive: true });
    const idle = numberFlag("idle-exit", values["idle-exit"], { positive: true });
    const verbose = values.verbose === true;
    const stop = onStopSignals();
    const encoder = new TextEncoder();
    try {
      const result = await tailTopic(
        createKafka({ brokers: config.brokers, security: config, logger: consoleLogger }),
        {
          topic: config.topic,
          start,
          partition,
          max,
          idleExitMs: idle === undefined ? undefined : idle * 1000,
          signal: stop.graceful,
          brokers: config.brokers,
          logger: consoleLogger,
          onMessage: async (message) => {
            await Deno.stdout.write(encoder.encode(`${formatTailLine(message, { verbose })}\n`));
          },
        },
      );
      consoleLogger.info(
        `${formatCount(result.messages)} messages from ${config.topic} (stopped by ` +
          `${result.stoppedBy}); no offsets committed.`,
      );
    } finally {
      stop.dispose();
    }
  });
}
