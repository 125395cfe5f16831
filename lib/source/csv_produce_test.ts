import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeTick } from "../tick.ts";
import {
  readTopic,
  REPO_ROOT,
  runScript,
  testKafka,
  testTopic,
  uniqueName,
} from "../testing/kafka.ts";

const fixture = (name: string) => join(REPO_ROOT, "lib/source/testdata", name);

Deno.test({
  name:
    "deno task produce sends real CSV exports unchanged: a Yahoo file's symbol from its name, a Nasdaq file's from --symbol with --date-format",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const kafka = testKafka();
    await using t = await testTopic(kafka, { prefix: "csv-layouts", partitions: 1 });
    const dir = await Deno.makeTempDir({ prefix: "csv_produce_test_" });
    try {
      const rejects = join(dir, "gspc.rejects.csv");
      const yahoo = await runScript("produce", [
        "--file",
        fixture("^GSPC.csv"),
        "--topic",
        t.topic,
        "--rejects",
        rejects,
      ]);
      const yahooOut = yahoo.stdout + yahoo.stderr;
      assert.match(yahooOut, /no symbol column: every row is \^GSPC, from the file name/);
      assert.match(yahooOut, /3 messages sent.*4 rows read, 1 rejected/s);
      assert.match(await Deno.readTextFile(rejects), /\^GSPC\.csv,4,"open is ""null""/);

      const nasdaq = await runScript("produce", [
        "--file",
        fixture("nasdaq_aapl.csv"),
        "--symbol",
        "AAPL",
        "--date-format",
        "MM/DD/YYYY",
        "--topic",
        t.topic,
        "--rejects",
        join(dir, "aapl.rejects.csv"),
      ]);
      assert.match(
        nasdaq.stdout + nasdaq.stderr,
        /every row is AAPL, from --symbol; dates read as MM\/DD\/YYYY/,
      );

      const messages = await readTopic(kafka, t.topic);
      const ticks = messages.map((m) => ({ key: m.key, tick: decodeTick(m.value!) }));
      assert.deepEqual(
        ticks.map(({ key, tick }) => [key, tick.symbol, new Date(tick.ts).toISOString()]),
        [
          ["^GSPC", "^GSPC", "2024-05-28T00:00:00.000Z"],
          ["^GSPC", "^GSPC", "2024-05-29T00:00:00.000Z"],
          ["^GSPC", "^GSPC", "2024-05-31T00:00:00.000Z"],
          ["AAPL", "AAPL", "2024-05-31T00:00:00.000Z"],
          ["AAPL", "AAPL", "2024-05-30T00:00:00.000Z"],
          ["AAPL", "AAPL", "2024-05-29T00:00:00.000Z"],
        ],
      );
      assert.deepEqual(
        [ticks[0].tick.close, ticks[0].tick.adj_close, ticks[0].tick.volume],
        [5306.040039, 5306.040039, 3751540000],
      );
      assert.deepEqual([ticks[3].tick.close, ticks[3].tick.open], [192.25, 191.44]);

      // Without --date-format the same file stops before any topic is created, saying what to pass.
      const topic = uniqueName("csv-layouts-never");
      const ambiguous = await runScript("produce", [
        "--file",
        fixture("nasdaq_aapl.csv"),
        "--symbol",
        "AAPL",
        "--topic",
        topic,
        "--rejects",
        join(dir, "never.rejects.csv"),
      ], { allowFailure: true });
      assert.equal(ambiguous.code, 1);
      assert.match(
        ambiguous.stderr,
        /line 2 has the date "05\/31\/2024", which reads as 2024-05-31 with MM\/DD\/YYYY: pass --date-format MM\/DD\/YYYY/,
      );
      const admin = kafka.admin();
      await admin.connect();
      try {
        assert.ok(!(await admin.listTopics()).includes(topic), "no topic for a run that stopped");
      } finally {
        await admin.disconnect();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
