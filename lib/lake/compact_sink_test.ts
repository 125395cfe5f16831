import assert from "node:assert/strict";
import { readTable } from "./generations.ts";
import { collect, readLakeTicks, tempLake } from "../testing/lake.ts";
import {
  assertExactlyOnce,
  runScript,
  sendTicks,
  startScript,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import { spreadTicks } from "../testing/compaction.ts";
import { sleep } from "../time.ts";

Deno.test({
  name:
    "the sink keeps landing data exactly once after compaction, also into compacted partitions and after a SIGKILL",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "compact-sink", partitions: 2 });
    await using lake = await tempLake();
    const consume = [
      "--lake",
      lake.dir,
      "--topic",
      t.topic,
      "--group",
      t.group,
      "--flush-rows",
      "15",
      "--flush-seconds",
      "1",
      "--idle-exit",
      "3",
      "--session-timeout",
      "6",
    ];
    const compact = ["--lake", lake.dir, "--group", t.group, "--older-than", "0s", "--grace", "0s"];

    // Three consumer runs: three checkpointed ranges per partition; the latest stays replayable.
    const first = spreadTicks({ days: 3, perDay: 20 });
    const third = Math.ceil(first.length / 3);
    for (let i = 0; i < first.length; i += third) {
      await sendTicks(kafka, t.topic, first.slice(i, i + third));
      await runScript("consume", consume);
    }
    assertExactlyOnce(await readLakeTicks(lake.store), first);
    const compacted = await runScript("compact", compact);
    assert.match(compacted.stdout, /Compacted [1-9]/);
    assertExactlyOnce(await readLakeTicks(lake.store), first);

    // New data for compacted days and a new day; the consumer is killed once midway.
    const second = spreadTicks({
      from: "2021-06-02",
      days: 3,
      perDay: 20,
      symbols: ["DDD", "EEE"],
    });
    await sendTicks(kafka, t.topic, second);
    const before = (await collect(lake.store.list("ticks/"))).length;
    const run = startScript("consume", consume);
    let exited = false;
    run.done.then(() => exited = true);
    while (!exited && (await collect(lake.store.list("ticks/"))).length < before + 3) {
      await sleep(20);
    }
    if (!exited) run.child.kill("SIGKILL");
    await run.done;
    await runScript("consume", consume);
    const all = [...first, ...second];
    assertExactlyOnce(await readLakeTicks(lake.store), all);

    // One more range makes the second batch's final; compacting again folds it into the
    // compacted days (a second generation), still exactly once.
    const later = spreadTicks({ from: "2021-06-06", days: 1, perDay: 5, symbols: ["FFF"] });
    await sendTicks(kafka, t.topic, later);
    await runScript("consume", consume);
    all.push(...later);
    await runScript("compact", compact);
    assertExactlyOnce(await readLakeTicks(lake.store), all);
    const views = await readTable(lake.store, "ticks/");
    assert.ok(views.filter((v) => v.manifest && v.manifest.generation >= 2).length >= 1);
  },
});
