/**
 * S3 outage test of the lake consumer: S3 (moto behind a TCP proxy) goes away for 30 s in the
 * middle of a live stream. The proxy keeps moto's state, which a restarted in-memory moto would
 * lose. While S3 is down no offset may be committed, memory must stay bounded and the consumer must
 * keep its group membership; once S3 is back it resumes by itself and the lake ends up exact.
 */

import assert from "node:assert/strict";
import { S3Store } from "../lake/s3_store.ts";
import { pace } from "../source/pace.ts";
import { sleep } from "../retry.ts";
import { simulateTicks } from "../source/simulate.ts";
import {
  assertExactlyOnce,
  committedOffsets,
  endOffsets,
  sendTicks,
  sumOffsets,
  tcpProxy,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import { readLakeTicks, s3TestStore } from "../testing/lake.ts";
import { type ConsumeProgress, consumeToLake } from "./consume_to_lake.ts";

const OUTAGE_MS = 30_000;
const FLUSH_ROWS = 2_000;
const PARTITIONS = 3;
const MAX_BYTES_PER_PARTITION = 64 * 1024;

async function groupMembers(kafka: ReturnType<typeof testKafka>, group: string) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([group]);
    return groups[0]?.members.map((m) => m.memberId).sort() ?? [];
  } finally {
    await admin.disconnect();
  }
}

Deno.test({
  name:
    "during a 30 s S3 outage the consumer commits nothing, buffers a bounded amount, keeps its group membership, and afterwards resumes with every tick exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "outage", partitions: PARTITIONS });
    await using s3 = await s3TestStore();
    const motoPort = Number(new URL(s3.endpoint ?? Deno.env.get("AWS_ENDPOINT_URL")!).port);
    await using proxy = tcpProxy(motoPort);
    // The consumer reaches moto only through the proxy.
    const store = new S3Store({
      bucket: s3.bucket,
      endpoint: proxy.endpoint,
      connectionTimeoutMs: 1000,
      requestTimeoutMs: 5000,
    });

    // ~50 s of stream at 1,200 ticks/s, 1-minute bars over ~2 days.
    const ticks = [...simulateTicks({ symbols: 12, count: 5_000, intervalMs: 60_000, seed: 11 })];
    const producing = sendTicks(kafka, t.topic, pace(ticks, { rate: 1_200 }));

    const samples: ConsumeProgress[] = [];
    let latest: ConsumeProgress | undefined;
    const stop = new AbortController();
    const consuming = consumeToLake(kafka, {
      topic: t.topic,
      group: t.group,
      store,
      flushRows: FLUSH_ROWS,
      flushSeconds: 1,
      maxRetryDelayMs: 2_000,
      maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
      signal: stop.signal,
      onProgress: (p) => latest = p,
    });
    try {
      // Let it run normally for a while.
      while ((latest?.commits ?? 0) < 3) await sleep(200);
      const membersBefore = await groupMembers(kafka, t.group);
      assert.equal(membersBefore.length, 1);

      proxy.down();
      // A write that was already acknowledged may still be committed; then nothing may move.
      await sleep(2_000);
      const committedAtStart = await committedOffsets(kafka, t.group, t.topic);
      const atStart = latest!;
      const downSince = performance.now();
      while (performance.now() - downSince < OUTAGE_MS - 2_000) {
        await sleep(2_000);
        samples.push(latest!);
        assert.deepEqual(
          await committedOffsets(kafka, t.group, t.topic),
          committedAtStart,
          "offsets were committed while S3 was down",
        );
      }
      const atEnd = latest!;
      console.log(
        `outage: consumed ${atStart.messages} → ${atEnd.messages}, buffered ` +
          `${samples.map((x) => x.bufferedRows).join(",")}, committed ${
            sumOffsets(committedAtStart)
          }`,
      );
      assert.equal(atEnd.objectsWritten, atStart.objectsWritten, "objects written while S3 down");
      assert.equal(atEnd.commits, atStart.commits, "commits while S3 was down");
      // Back-pressure: the stream went on, but the consumer stopped taking more than one fetch.
      const oneFetch = PARTITIONS * Math.ceil(MAX_BYTES_PER_PARTITION / 100);
      assert.ok(
        atEnd.messages - atStart.messages <= FLUSH_ROWS * PARTITIONS + oneFetch,
        `consumed ${atEnd.messages - atStart.messages} messages while S3 was down`,
      );
      const produced = sumOffsets(await endOffsets(kafka, t.topic));
      assert.ok(produced > BigInt(atEnd.messages), "the stream went on during the outage");
      for (const sample of samples) {
        assert.ok(
          sample.bufferedRows <= FLUSH_ROWS * PARTITIONS + oneFetch,
          `${sample.bufferedRows} rows buffered while S3 was down`,
        );
      }
      // Heartbeats while retrying kept the member in the group (no rebalance, no re-delivery).
      assert.deepEqual(await groupMembers(kafka, t.group), membersBefore);
      proxy.up();

      assert.equal(await producing, ticks.length);
      const end = await endOffsets(kafka, t.topic);
      const deadline = performance.now() + 60_000;
      while (sumOffsets(await committedOffsets(kafka, t.group, t.topic)) < sumOffsets(end)) {
        assert.ok(performance.now() < deadline, "the consumer did not catch up after the outage");
        await sleep(500);
      }
    } finally {
      proxy.up();
      stop.abort();
      await consuming.catch(() => {});
      store.close();
    }
    const result = await consuming;
    assert.equal(result.stoppedBy, "signal");
    assert.ok(result.commits > samples.length, "it committed again after the outage");
    assertExactlyOnce(await readLakeTicks(s3), ticks);
    assert.deepEqual(
      await committedOffsets(kafka, t.group, t.topic),
      await endOffsets(kafka, t.topic),
    );
  },
});
