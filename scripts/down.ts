/**
 * `deno task down`: stop the Kafka broker and moto that `deno task up` (or `deno task test`)
 * started. Services started some other way are left running. Topic data stays in
 * `.cache/kafka/data` for the next `up`.
 *
 * @module
 */

import { runCommand } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import { downLocalServices } from "../lib/ops/local_services.ts";

const COMMAND = {
  usage: "deno task down",
  about:
    `Stops the local Kafka broker and moto if this project started them (pid files in .cache/kafka
and .cache/moto). Kafka's topics stay in .cache/kafka/data; moto forgets everything.`,
  flags: {},
};

if (import.meta.main) {
  await runCommand(COMMAND, async () => {
    const result = await downLocalServices({ logger: consoleLogger });
    const say = (name: string, outcome: string | undefined) => {
      const text = outcome === "stopped" || outcome === "killed"
        ? `stopped${outcome === "killed" ? " (killed after the timeout)" : ""}`
        : outcome === "not ours"
        ? "left running (not started by this project)"
        : "was not running";
      console.log(`${name}: ${text}`);
    };
    say("Kafka", result.kafka);
    say("moto", result.moto);
  });
}
