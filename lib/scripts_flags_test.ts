/**
 * The long-running scripts read every flag before they print a banner or connect: a bad flag ends
 * with the fix and exit code 2, never with "Consuming …" followed by an error (or a hang on a
 * broker that does not answer).
 */
import assert from "node:assert/strict";
import { runScript } from "./testing/kafka.ts";

// A broker address that never answers: a script that connected first would hang here.
const NO_BROKER = { KAFKA_BROKERS: "10.255.255.1:9092" };

for (
  const [script, args, message] of [
    ["consume", ["--flush-rows", "abc"], /--flush-rows must be a whole number above 0/],
    ["consume", ["--format", "csv"], /--format/],
    ["consume", ["--session-timeout", "2"], /--session-timeout/],
    ["produce", ["--limit", "abc"], /--limit must be a whole number/],
  ] as const
) {
  Deno.test(`${script} ${args.join(" ")} is refused before anything is printed`, async () => {
    const { code, stdout, stderr } = await runScript(script, [...args], {
      allowFailure: true,
      env: NO_BROKER,
    });
    assert.equal(code, 2, stderr);
    assert.match(stderr, message);
    // The logger writes to stderr: the flag error must be the first and only thing there.
    assert.match(stderr, /^error: /, "nothing logged before the flag error");
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.equal(stdout, "");
  });
}
