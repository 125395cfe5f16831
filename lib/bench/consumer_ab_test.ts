import assert from "node:assert/strict";
import { compareConsumers, ConsumerAbError } from "./consumer_ab.ts";
import { createKafka } from "../kafka/client.ts";
import { runScript, testBrokers } from "../testing/kafka.ts";

Deno.test("bench:ab runs the base commit's consumer and this checkout's on the same topic", async () => {
  const brokers = testBrokers();
  const report = await compareConsumers({ brokers, base: "HEAD", rows: 3_000, rounds: 1 });
  assert.equal(report.runs.base.length, 1);
  assert.equal(report.runs.head.length, 1);
  for (const figure of [...report.runs.base, ...report.runs.head]) {
    assert.equal(figure.rows, 3_000, "each side wrote every row of the topic");
    assert.ok(figure.objects > 0);
  }
  assert.match(report.baseCommit, /^[0-9a-f]{40}$/);
  assert.ok(report.median.ratio > 0);
  // The base worktree is gone again.
  const worktrees = new TextDecoder().decode(
    (await new Deno.Command("git", { args: ["worktree", "list"], stdout: "piped" }).output())
      .stdout,
  );
  assert.doesNotMatch(worktrees, /bench_ab_/);
  // And so is the topic.
  const admin = createKafka({ brokers }).admin();
  await admin.connect();
  try {
    assert.ok(!(await admin.listTopics()).includes(report.topic), `${report.topic} was deleted`);
  } finally {
    await admin.disconnect();
  }
});

Deno.test("bench:ab refuses a ref that names no commit, and a missing --base, saying what to pass", async () => {
  await assert.rejects(
    compareConsumers({ brokers: testBrokers(), base: "no-such-ref-xyz", rows: 10 }),
    (error: Error) => error instanceof ConsumerAbError && /--base HEAD~1/.test(error.message),
  );
  const run = await runScript("bench_ab", [], { allowFailure: true });
  assert.notEqual(run.code, 0);
  assert.match(run.stderr, /--base is required/);
  const rounds = await runScript("bench_ab", ["--base", "HEAD", "--rounds", "0"], {
    allowFailure: true,
  });
  assert.notEqual(rounds.code, 0);
  assert.match(rounds.stderr, /--rounds must be a whole number above 0/);
});
