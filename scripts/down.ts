/**
 * `deno task down [--node N [--signal TERM|KILL]]`: stop the Kafka broker (or every node of the
 * local cluster, and the secure broker of `up --secure`) and moto that `deno task up` (or `deno task test`) started; with `--node`, stop
 * or kill just one Kafka node, for failure drills. Services started some other way are left
 * running. Topic data stays in `.cache/kafka` for the next `up`.
 *
 * @module
 */

import { choiceFlag, numberFlag, runCommand, UsageError } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import { downLocalServices, type StopOutcome } from "../lib/ops/local/local_services.ts";

const FLAGS = {
  node: {
    type: "string",
    description: "Stop only this Kafka node (1, 2, 3 …) of the local cluster; moto keeps running",
  },
  signal: {
    type: "string",
    description: "With --node: TERM (controlled shutdown) or KILL (a crash)",
    default: "TERM",
  },
} as const;

const COMMAND = {
  usage: ["deno task down", "deno task down --node N [--signal TERM|KILL]"],
  about:
    `Stops the local Kafka (the single broker or every node of the local cluster, and the secure
broker of up --secure) and moto if this project started them (pid files in .cache/kafka and .cache/moto). Kafka's topics stay in
.cache/kafka; moto forgets everything.

--node N stops one node of the local cluster (deno task up --brokers 3): --signal TERM moves its
partition leaders away first, --signal KILL crashes it. deno task up --brokers 3 starts it again.`,
  flags: FLAGS,
};

if (import.meta.main) {
  await runCommand(COMMAND, async ({ values }) => {
    const node = numberFlag("node", values.node, { integer: true, positive: true });
    const signal = choiceFlag("signal", values.signal, ["TERM", "KILL"] as const);
    if (signal !== undefined && node === undefined) {
      throw new UsageError("--signal needs --node N: it says how that one node stops.");
    }
    const result = await downLocalServices({ logger: consoleLogger, node, signal });
    const text = (outcome: StopOutcome | undefined) =>
      outcome === "stopped"
        ? "stopped"
        : outcome === "killed"
        ? node !== undefined && signal === "KILL"
          ? "killed (SIGKILL)"
          : "stopped (killed after the timeout)"
        : outcome === "not ours"
        ? "left running (not started by this project)"
        : "was not running";
    const nodes = result.kafkaNodes ?? [];
    if (nodes.length > 1 || node !== undefined) {
      for (const { id, outcome } of nodes) console.log(`Kafka node ${id}: ${text(outcome)}`);
    } else {
      console.log(`Kafka: ${text(result.kafka)}`);
    }
    if (result.secureKafka !== undefined) {
      console.log(`Kafka (secure, up --secure): ${text(result.secureKafka)}`);
    }
    if (node === undefined) console.log(`moto: ${text(result.moto)}`);
  });
}
