/**
 * `deno task up [--brokers N | --secure] [--aws]`: start the local Kafka broker, or a local cluster
 * of N brokers, or the secure broker (SASL_SSL + SCRAM-SHA-512 on 9096, client settings in
 * `.cache/kafka/client.env`) (and with `--aws` the moto AWS emulator) in the background, so `produce`, `consume`,
 * `query` and the notebooks have something to talk to. Safe to run again: running services are
 * reused, and missing nodes of a cluster (e.g. one killed in a drill) are started again.
 * `deno task down` stops them.
 *
 * @module
 */

import { relative } from "node:path";
import { numberFlag, runCommand, UsageError } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import { MAX_LOCAL_BROKERS } from "../lib/ops/local/local_broker.ts";
import { describeService, upLocalServices } from "../lib/ops/local/local_services.ts";

const FLAGS = {
  brokers: {
    type: "string",
    description:
      `Number of Kafka nodes: 1, or a local KRaft cluster of up to ${MAX_LOCAL_BROKERS} (3 for drills)`,
    default: "the one running, else 1",
  },
  port: {
    type: "string",
    description: "First Kafka client port (node i: port + i - 1, controllers 100 higher)",
    default: "9092, or the cluster's recorded ports",
  },
  secure: {
    type: "boolean",
    description:
      "Run the secure broker instead: SASL_SSL + SCRAM-SHA-512 on 127.0.0.1:9096, settings in .cache/kafka/client.env",
  },
  aws: {
    type: "boolean",
    description:
      "Also create the Python environment (.cache/venv) and start moto on 127.0.0.1:5000",
  },
} as const;

const COMMAND = {
  usage: "deno task up [--brokers N | --secure] [--port P] [--aws]",
  about:
    `Starts a real Apache Kafka 3.9.1 broker on 127.0.0.1:9092 (single-node KRaft, no Docker: the jars
come from Maven Central into .cache/kafka, Java 17+ and Maven needed). Nothing is started when
KAFKA_BROKERS points at another broker. Stop with: deno task down.

--brokers 3 starts a local 3-broker KRaft cluster instead (client ports 9092-9094, controllers
9192-9194, node folders .cache/kafka/node-1..3): topics get 3 replicas and min.insync.replicas 2.
Running it again starts the nodes that are missing. Drill: deno task down --node 2 --signal KILL.

--secure starts the secure broker instead (it may run beside the plain one): its only client
listener is SASL_SSL with SCRAM-SHA-512 on 127.0.0.1:9096 (a CA and broker certificate are made in
.cache/kafka/secure/tls, the SCRAM user "pipeline" when its storage is formatted). Its client
settings are written to .cache/kafka/client.env; load them with
  set -a; . .cache/kafka/client.env; set +a`,
  flags: FLAGS,
};

if (import.meta.main) {
  await runCommand(COMMAND, async ({ values }) => {
    const brokers = numberFlag("brokers", values.brokers, { integer: true, positive: true });
    if (brokers !== undefined && brokers > MAX_LOCAL_BROKERS) {
      throw new UsageError(
        `--brokers must be a whole number from 1 to ${MAX_LOCAL_BROKERS}, got "${values.brokers}".`,
      );
    }
    const port = numberFlag("port", values.port, { integer: true, positive: true });
    if (port !== undefined && port + (brokers ?? 1) - 1 + 100 > 65535) {
      throw new UsageError(`--port leaves no room for the controller ports, got "${values.port}".`);
    }
    if (values.secure === true && brokers !== undefined && brokers > 1) {
      throw new UsageError("--secure runs a single broker: leave out --brokers.");
    }
    const result = await upLocalServices({
      aws: values.aws === true,
      secure: values.secure === true ? true : undefined,
      brokers,
      port,
      logger: consoleLogger,
    });
    console.log(describeService("kafka", result.kafka));
    if (result.moto) {
      console.log(describeService("moto", result.moto));
    }
    if (result.moto && result.moto.action !== "external") {
      const exports = Object.entries(result.env)
        .filter(([name]) => name.startsWith("AWS_"))
        .map(([name, value]) => `${name}=${value}`)
        .join(" ");
      console.log(
        `\nPoint the AWS SDK and this project at moto (fake credentials):\n  export ${exports}`,
      );
    }
    if (result.kafka.clientEnvFile !== undefined) {
      console.log(
        `\nThe broker needs TLS and a login. Load its client settings into this shell (every ` +
          `command and notebook reads them):\n  set -a; . ${
            relative(Deno.cwd(), result.kafka.clientEnvFile)
          }; set +a`,
      );
    } else if (
      result.kafka.action !== "external" && result.kafka.address !== "127.0.0.1:9092"
    ) {
      console.log(`\n  export KAFKA_BROKERS=${result.kafka.address}`);
    }
    if ((result.kafka.brokers ?? 1) > 1 && result.kafka.ours) {
      console.log(
        `\nDrill: deno task down --node <1-${result.kafka.brokers}> --signal KILL kills one ` +
          `broker; deno task up --brokers ${result.kafka.brokers} starts it again.`,
      );
    }
    if (result.kafka.ours || result.moto?.ours) console.log("\nStop with: deno task down");
  });
}
