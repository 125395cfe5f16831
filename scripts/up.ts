/**
 * `deno task up [--aws]`: start the local Kafka broker (and with `--aws` the moto AWS emulator)
 * in the background, so `produce`, `consume`, `query` and the notebooks have something to talk
 * to. Safe to run again: running services are reused. `deno task down` stops them.
 *
 * @module
 */

import { runCommand } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import { describeService, upLocalServices } from "../lib/ops/local_services.ts";

const FLAGS = {
  aws: {
    type: "boolean",
    description:
      "Also create the Python environment (.cache/venv) and start moto on 127.0.0.1:5000",
  },
} as const;

const COMMAND = {
  usage: "deno task up [--aws]",
  about:
    `Starts a real Apache Kafka 3.9.1 broker on 127.0.0.1:9092 (single-node KRaft, no Docker: the jars
come from Maven Central into .cache/kafka, Java 17+ and Maven needed). Nothing is started when
KAFKA_BROKERS points at another broker. Stop with: deno task down.`,
  flags: FLAGS,
};

if (import.meta.main) {
  await runCommand(COMMAND, async ({ values }) => {
    const result = await upLocalServices({ aws: values.aws === true, logger: consoleLogger });
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
    if (result.kafka.action !== "external" && result.kafka.address !== "127.0.0.1:9092") {
      console.log(`\n  export KAFKA_BROKERS=${result.kafka.address}`);
    }
    if (result.kafka.ours || result.moto?.ours) console.log("\nStop with: deno task down");
  });
}
