/**
 * Long flushes: a flush that takes longer than the session timeout must keep the member in its
 * group (heartbeats between and during object writes), not get it evicted and crash on a refused
 * commit as the first version did (seen by a user after ~25,000 objects and 5 minutes).
 */

import assert from "node:assert/strict";
import { FsStore } from "../lake/fs_store.ts";
import { consoleLogger } from "../log.ts";
import type { Store } from "../lake/store.ts";
import { sleep } from "../retry.ts";
import type { Tick } from "../tick.ts";
import { assertExactlyOnce, sendTicks, testKafka, testTopic } from "../testing/kafka.ts";
import { readLakeTicks, tempLake } from "../testing/lake.ts";
import { consumeToLake } from "./consume_to_lake.ts";

const DAY = 86_400_000;
const OBJECTS = 300;
const PUT_DELAY_MS = 60;

/** A folder store whose data-object writes each take PUT_DELAY_MS (a slow S3 far away). */
function slowStore(inner: FsStore): Store & { longestFlushMs: number } {
  let firstPut: number | undefined;
  const store = {
    uri: inner.uri,
    longestFlushMs: 0,
    async put(key: string, body: Uint8Array) {
      firstPut ??= performance.now();
      await sleep(PUT_DELAY_MS);
      await inner.put(key, body);
      store.longestFlushMs = performance.now() - firstPut;
    },
    putIfAbsent: (key: string, body: Uint8Array) => inner.putIfAbsent(key, body),
    get: (key: string) => inner.get(key),
    list: (prefix: string) => inner.list(prefix),
    delete: (key: string) => inner.delete(key),
  };
  return store;
}

Deno.test({
  name:
    "a flush of 300 day-partition objects that outlasts the 6 s session keeps the member in its group and lands every row once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "long-flush", partitions: 1 });
    await using lake = await tempLake();
    // Daily bars of one symbol: every row is its own day, so one range writes OBJECTS objects.
    const ticks: Tick[] = Array.from({ length: OBJECTS }, (_, i) => ({
      symbol: "NYA",
      ts: Date.UTC(2000, 0, 3) + i * DAY,
      open: 100 + i,
      high: 101 + i,
      low: 99 + i,
      close: 100.5 + i,
      adj_close: 100.5 + i,
      volume: 1000,
      close_usd: 100.5 + i,
    }));
    assert.equal(await sendTicks(kafka, t.topic, ticks), OBJECTS);
    const store = slowStore(lake.store);
    const result = await consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store,
      sessionTimeoutMs: 6_000,
      flushRows: OBJECTS,
      flushSeconds: 3600,
      writeConcurrency: 1, // one at a time: only heartbeats can keep the member alive
      idleExitSeconds: 3,
      logger: Deno.env.get("DEBUG") ? consoleLogger : undefined,
    });
    console.log(
      `flush of ${result.objectsWritten} objects took ${
        (store.longestFlushMs / 1000).toFixed(1)
      } s, ` +
        `rejoins ${result.rejoins}, commits ${result.commits}`,
    );
    assert.ok(
      store.longestFlushMs > 6_000 * 2,
      `the flush must outlast the session timeout twice over to prove anything (${store.longestFlushMs} ms)`,
    );
    assert.equal(result.rejoins, 0, "the member was never evicted");
    assert.equal(result.commits, 1);
    assert.equal(result.objectsWritten, OBJECTS);
    assertExactlyOnce(await readLakeTicks(lake.store), ticks);
  },
});
