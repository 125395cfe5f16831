import assert from "node:assert/strict";
import { ConfigError } from "../config.ts";
import { fromEnv, notebookSettings, PROJECT_ROOT } from "./settings.ts";

Deno.test("notebook settings default to the local pipeline, with folders under the project", () => {
  const s = notebookSettings({ env: {}, root: "/repo" });
  assert.deepEqual(s.brokers, ["localhost:9092"]);
  assert.equal(s.topic, "stock_market");
  assert.equal(s.testTopic, "stock_market.hello");
  assert.equal(s.group, "stock_market_lake");
  assert.equal(s.lake, "/repo/lake");
  assert.equal(s.csv, "/repo/data/stock_data.csv");
  assert.equal(s.rejects, "/repo/rejects/stock_data.csv.rejects.csv");
  assert.equal(s.rows, 5000);
  assert.equal(s.rate, 1000);
  assert.equal(s.mode, "sample");
  assert.equal(s.idleSeconds, 3);
  assert.equal(s.target, "local");
  assert.equal(s.runId, undefined);
});

Deno.test("a run id gives the topic, group and lake of that run only", () => {
  const s = notebookSettings({ env: { NOTEBOOK_RUN_ID: "ci-42" }, root: "/repo" });
  assert.equal(s.topic, "stock_market-nb-ci-42");
  assert.equal(s.testTopic, "stock_market-nb-ci-42.hello");
  assert.equal(s.group, "stock_market_lake-nb-ci-42");
  assert.equal(s.lake, "/repo/.cache/notebook-runs/ci-42/lake");
  const s3 = notebookSettings({
    env: { NOTEBOOK_RUN_ID: "r1", LAKE_URI: "s3://my-lake/stock/", KAFKA_TOPIC: "ticks" },
    root: "/repo",
  });
  assert.equal(s3.lake, "s3://my-lake/stock/notebook-runs/r1");
  assert.equal(s3.topic, "ticks-nb-r1");
});

Deno.test("relative lake and CSV paths resolve against the project, not the kernel's folder", () => {
  const s = notebookSettings({
    env: { LAKE_URI: "./my_lake", NOTEBOOK_CSV: "data/indexProcessed.csv" },
    root: "/repo",
  });
  assert.equal(s.lake, "/repo/my_lake");
  assert.equal(s.csv, "/repo/data/indexProcessed.csv");
  assert.equal(
    notebookSettings({ env: { LAKE_URI: "/abs/lake" }, root: "/repo" }).lake,
    "/abs/lake",
  );
  assert.equal(
    notebookSettings({ env: { LAKE_URI: "s3://bucket/p" }, root: "/repo" }).lake,
    "s3://bucket/p",
  );
  assert.equal(PROJECT_ROOT, new URL("../..", import.meta.url).pathname.replace(/\/$/, ""));
});

Deno.test("bad notebook variables are rejected with the variable's name and what it accepts", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ NOTEBOOK_ROWS: "many" }, /NOTEBOOK_ROWS="many".*whole number above 0/],
    [{ NOTEBOOK_ROWS: "2.5" }, /NOTEBOOK_ROWS/],
    [{ NOTEBOOK_RATE: "0" }, /NOTEBOOK_RATE="0"/],
    [{ NOTEBOOK_IDLE_SECONDS: "-1" }, /NOTEBOOK_IDLE_SECONDS/],
    [{ NOTEBOOK_MODE: "random" }, /NOTEBOOK_MODE="random".*sample or stream/],
    [{ NOTEBOOK_TARGET: "gcp" }, /NOTEBOOK_TARGET="gcp".*local or aws/],
    [{ NOTEBOOK_TARGET: "aws" }, /needs an S3 lake.*LAKE_URI=s3:\/\//],
    [{ NOTEBOOK_RUN_ID: "a b" }, /NOTEBOOK_RUN_ID="a b"/],
    [{ KAFKA_BROKERS: "nope" }, /KAFKA_BROKERS/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => notebookSettings({ env, root: "/repo" }), (error: Error) => {
      assert.ok(error instanceof ConfigError, `${JSON.stringify(env)} gave ${error}`);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("the first cell's values win over the environment, and are checked like it", () => {
  const env = { KAFKA_BROKERS: "env-broker:9092", NOTEBOOK_ROWS: "10", KAFKA_TOPIC: "from_env" };
  const s = notebookSettings({
    values: { brokers: ["a:9092", "b:9092"], rows: 250, mode: "stream", lake: "my_lake" },
    env,
    root: "/repo",
  });
  assert.deepEqual(s.brokers, ["a:9092", "b:9092"]);
  assert.equal(s.rows, 250);
  assert.equal(s.mode, "stream");
  assert.equal(s.lake, "/repo/my_lake");
  assert.equal(s.topic, "from_env", "a value left out comes from the environment");
  assert.equal(s.byHandTopic, "from_env.by-hand");
  assert.equal(notebookSettings({ values: { rows: "75" }, env: {}, root: "/r" }).rows, 75);
  assert.throws(
    () => notebookSettings({ values: { rows: 2.5 }, env: {}, root: "/r" }),
    /NOTEBOOK_ROWS="2\.5" is not valid/,
  );
  assert.throws(
    () => notebookSettings({ values: { target: "gcp" }, env: {}, root: "/r" }),
    /NOTEBOOK_TARGET="gcp"/,
  );
  assert.throws(
    () => notebookSettings({ values: { rowz: 1 } as Record<string, number>, env: {}, root: "/r" }),
    /Unknown notebook setting "rowz": use brokers, topic/,
  );
  // CI's run id still applies to the default lake the first cell names.
  const ci = notebookSettings({
    values: { lake: "./lake", topic: "stock_market" },
    env: { NOTEBOOK_RUN_ID: "r2" },
    root: "/repo",
  });
  assert.equal(ci.lake, "/repo/.cache/notebook-runs/r2/lake");
  assert.equal(ci.topic, "stock_market-nb-r2");
});

Deno.test("fromEnv gives a variable's trimmed value, or undefined when it is unset or blank", () => {
  const env = { A: " x ", B: "  " };
  assert.equal(fromEnv("A", env), "x");
  assert.equal(fromEnv("B", env), undefined);
  assert.equal(fromEnv("C", env) ?? "default", "default");
});
