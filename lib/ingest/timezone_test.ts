/**
 * Zone-less timestamps mean UTC on every host, end to end: ticks produced on a host in
 * Asia/Kolkata (UTC+5:30) and consumed on a host in America/New_York (UTC-4 in summer) land
 * under the UTC reading of their time and its UTC date, and a replay on a Kolkata host rewrites
 * the very same objects. Deno reads TZ when a process starts, so every "host" is a child process:
 * `deno eval` with kafkajs, `scripts/produce.ts` and `scripts/consume.ts`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeObject } from "../lake/encode.ts";
import { type Tick, utcDate } from "../tick.ts";
import {
  assertExactlyOnce,
  childEnv,
  readTopic,
  REPO_ROOT,
  runScript,
  testKafka,
  testTopic,
} from "../testing/kafka.ts";
import { listLakeObjects, tempLake } from "../testing/lake.ts";

const PRODUCER_TZ = "Asia/Kolkata";
const CONSUMER_TZ = "America/New_York";

const prices = { open: 10, high: 12, low: 9, close: 11, adj_close: 11, volume: 0, close_usd: 11 };

/**
 * Raw wire messages whose `ts` has no zone (as a non-project producer might send them), with the
 * instant each must mean. Local parsing would move the first four to another `dt` on one host or
 * the other: 22:00 is 02:00Z the next day in New York, 01:30 is 20:00Z the day before in Kolkata.
 */
const RAW: [string, string, number][] = [
  ["TZ1", "2021-06-30T22:00:00", Date.UTC(2021, 5, 30, 22)],
  ["TZ2", "2021-06-30 23:59:59.250", Date.UTC(2021, 5, 30, 23, 59, 59, 250)],
  ["TZ3", "2021-07-01T01:30:00", Date.UTC(2021, 6, 1, 1, 30)],
  ["TZ4", "2021-07-01T03:00", Date.UTC(2021, 6, 1, 3)],
  ["TZ5", "2021-06-30", Date.UTC(2021, 5, 30)],
  ["TZ6", "2021-06-30T22:00:00Z", Date.UTC(2021, 5, 30, 22)],
  ["TZ7", "2021-07-01T03:00:00+05:30", Date.UTC(2021, 5, 30, 21, 30)],
];

/** A free-form date: refused on every host, so it goes to the dead-letter topic. */
const FREE_FORM = JSON.stringify({ symbol: "TZX", ts: "Jan 5 2021", ...prices });

/** Kaggle-layout rows: `Date` is zone-less and means 00:00 UTC of that day. */
const KAGGLE_CSV = [
  "Index,Date,Open,High,Low,Close,Adj Close,Volume,CloseUSD",
  "N225,1965-01-05,1257.72,1257.72,1257.72,1257.72,1257.72,0.0,11.57",
  "NSEI,2021-06-30,15700.0,15800.0,15650.0,15721.5,15721.5,0.0,212.24",
  "NSEI,2021-07-01,15720.0,15760.0,15660.0,15680.0,15680.0,0.0,211.68",
  "NYA,2021-07-01,16500.0,16600.0,16450.0,16590.0,16590.0,0.0,16590.0",
].join("\n") + "\n";

const EXPECTED: Tick[] = [
  ...RAW.map(([symbol, , ts]) => ({ symbol, ts, ...prices })),
  {
    symbol: "N225",
    ts: Date.UTC(1965, 0, 5),
    ...kaggle(1257.72, 1257.72, 1257.72, 1257.72, 11.57),
  },
  { symbol: "NSEI", ts: Date.UTC(2021, 5, 30), ...kaggle(15700, 15800, 15650, 15721.5, 212.24) },
  { symbol: "NSEI", ts: Date.UTC(2021, 6, 1), ...kaggle(15720, 15760, 15660, 15680, 211.68) },
  { symbol: "NYA", ts: Date.UTC(2021, 6, 1), ...kaggle(16500, 16600, 16450, 16590, 16590) },
];

function kaggle(open: number, high: number, low: number, close: number, close_usd: number) {
  return { open, high, low, close, adj_close: close, volume: 0, close_usd };
}

/** Sends raw messages (key = symbol) from a child process running under `tz`. */
async function sendRawUnderTz(tz: string, topic: string, values: string[]): Promise<void> {
  const client = new URL("../kafka/client.ts", import.meta.url).href;
  const messages = values.map((value) => ({ key: JSON.parse(value).symbol, value }));
  const code = `
    const { createKafka } = await import(${JSON.stringify(client)});
    const kafka = createKafka({ brokers: Deno.env.get("KAFKA_BROKERS").split(","), clientId: "tz" });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: ${JSON.stringify(topic)}, acks: -1,
      messages: ${JSON.stringify(messages)} });
    await producer.disconnect();`;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: REPO_ROOT,
    env: childEnv({ TZ: tz }),
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `sending under TZ=${tz} failed:\n${stderr}`);
}

/** Each lake row with the `dt` of the object it is in, and the sorted object keys. */
async function lakeRows(
  store: Awaited<ReturnType<typeof tempLake>>["store"],
): Promise<{ rows: (Tick & { dt: string })[]; keys: string[] }> {
  const keys = await listLakeObjects(store);
  const rows: (Tick & { dt: string })[] = [];
  for (const key of keys) {
    const dt = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1];
    assert.ok(dt, `no dt= folder in ${key}`);
    for (const tick of decodeObject(key, (await store.get(key))!)) rows.push({ ...tick, dt });
  }
  return { rows, keys: keys.sort() };
}

Deno.test({
  name:
    "ticks with zone-less times produced under Asia/Kolkata land once under their UTC time and UTC dt when consumed under America/New_York, and a Kolkata replay writes the same objects",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "tz", partitions: 3 });
    await using lake = await tempLake();
    await using replay = await tempLake();

    // Produce on a "Kolkata host": raw zone-less JSON, then a Kaggle CSV through deno task produce.
    await sendRawUnderTz(PRODUCER_TZ, t.topic, [
      ...RAW.map(([symbol, ts]) => JSON.stringify({ symbol, ts, ...prices })),
      FREE_FORM,
    ]);
    const csv = join(lake.dir, "kaggle.csv");
    await Deno.writeTextFile(csv, KAGGLE_CSV);
    const produced = await runScript(
      "produce",
      ["--file", csv, "--topic", t.topic, "--rejects", join(lake.dir, "rejects.csv")],
      { env: { TZ: PRODUCER_TZ } },
    );
    assert.match(produced.stderr + produced.stdout, /4 messages sent/);

    // Consume on a "New York host".
    const consume = (dir: string, tz: string, extra: string[] = []) =>
      runScript(
        "consume",
        ["--topic", t.topic, "--group", t.group, "--lake", dir, "--idle-exit", "3", ...extra],
        { env: { TZ: tz } },
      );
    await consume(lake.dir, CONSUMER_TZ);
    const ny = await lakeRows(lake.store);
    assertExactlyOnce(ny.rows.map(({ dt: _, ...tick }) => tick), EXPECTED);
    assert.deepEqual(
      ny.rows.map(({ symbol, ts, dt }) => `${symbol} ${new Date(ts).toISOString()} dt=${dt}`)
        .sort(),
      EXPECTED.map(({ symbol, ts }) => `${symbol} ${new Date(ts).toISOString()} dt=${utcDate(ts)}`)
        .sort(),
      `consumed under TZ=${CONSUMER_TZ}: each tick at its UTC time, in the dt of its UTC date`,
    );

    // Replay the topic on a "Kolkata host" into a fresh lake: the same objects, row for row.
    await consume(replay.dir, PRODUCER_TZ, ["--from-beginning"]);
    const kolkata = await lakeRows(replay.store);
    assert.deepEqual(kolkata.keys, ny.keys, "the replay writes the same object keys");
    assert.deepEqual(kolkata.rows, ny.rows, "the replay writes the same rows");

    // The free-form date was refused by both consumers, saying which forms are expected.
    const dead = await readTopic(kafka, `${t.topic}.dlq`);
    assert.equal(dead.length, 2, "one dead letter per consumer run");
    for (const letter of dead) {
      assert.equal(letter.value, FREE_FORM);
      assert.match(
        letter.headers["dlq.reason"] ?? "",
        /ts "Jan 5 2021" is not an ISO-8601 date: expected YYYY-MM-DD/,
      );
    }
  },
});
