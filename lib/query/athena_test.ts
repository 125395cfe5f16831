import assert from "node:assert/strict";
import {
  AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from "@aws-sdk/client-athena";
import {
  athenaCostUsd,
  type AthenaLike,
  AthenaQueryCancelledError,
  AthenaQueryError,
  athenaValue,
  queryAthena,
} from "./athena.ts";
import { resultFrame } from "./result.ts";

// Real moto Athena: it never runs SQL but returns queued results, and StopQueryExecution cancels.
// States moto cannot produce (FAILED, RUNNING→QUEUED) and pagination (moto ignores MaxResults)
// are injected by wrapping the real client; every call still goes to moto.

const ENDPOINT = Deno.env.get("AWS_ENDPOINT_URL");
const REGION = "ap-southeast-2"; // a region of its own: moto queues results per region
const FAST = { initialMs: 1, maxMs: 5, factor: 2 };

function client(): AthenaClient {
  if (!ENDPOINT) {
    throw new Error("Set AWS_ENDPOINT_URL to a moto server, e.g. http://127.0.0.1:5000");
  }
  return new AthenaClient({ region: REGION, endpoint: ENDPOINT });
}

async function queueResult(rows: (string | null)[][], columns: [string, string][]) {
  const response = await fetch(`${ENDPOINT}/moto-api/static/athena/query-results`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      region: REGION,
      results: [{
        rows: [columns.map(([name]) => name), ...rows].map((row) => ({
          Data: row.map((v) => (v === null ? {} : { VarCharValue: v })),
        })),
        column_info: columns.map(([Name, Type]) => ({ Name, Label: Name, Type })),
      }],
    }),
  });
  assert.equal(response.status, 201);
  await response.body?.cancel();
}

type Send = AthenaLike["send"];
function wrap(
  inner: AthenaClient,
  intercept: (command: unknown, send: Send) => unknown,
): AthenaLike {
  const send = inner.send.bind(inner) as Send;
  return { send: ((command: unknown) => intercept(command, send)) as Send };
}

const COLUMNS: [string, string][] = [
  ["symbol", "varchar"],
  ["close", "double"],
  ["bars", "bigint"],
  ["ts", "timestamp"],
  ["up", "boolean"],
  ["day", "date"],
];

Deno.test("athena query returns typed rows without the header, a frame, and the cost", async () => {
  await queueResult([
    ["NYA", "1.5", "3", "2021-05-31 00:00:00.000", "true", "2021-05-31"],
    ["N225", null, "0", "2021-06-01 12:30:00.000", "false", null],
  ], COLUMNS);
  const starts: unknown[] = [];
  const athena = wrap(client(), (command, send) => {
    if (command instanceof StartQueryExecutionCommand) starts.push(command.input);
    return send(command as never);
  });
  const result = await queryAthena("SELECT * FROM ticks", {
    client: athena,
    database: "stock_market",
    workgroup: "primary",
    outputLocation: "s3://results-bucket/athena/",
    clientRequestToken: "token-0123456789-0123456789-0123456789",
    poll: FAST,
  });
  assert.deepEqual(result.columns.map((c) => c.type), [
    "string",
    "double",
    "bigint",
    "timestamp",
    "boolean",
    "date",
  ]);
  assert.deepEqual(result.rows, [
    {
      symbol: "NYA",
      close: 1.5,
      bars: 3,
      ts: new Date("2021-05-31T00:00:00Z"),
      up: true,
      day: "2021-05-31",
    },
    {
      symbol: "N225",
      close: null,
      bars: 0,
      ts: new Date("2021-06-01T12:30:00Z"),
      up: false,
      day: null,
    },
  ]);
  assert.equal(resultFrame(result).height, 2);
  assert.equal(result.stats.dataScannedBytes, 0);
  assert.equal(result.stats.costUsd, athenaCostUsd(0));
  assert.ok(result.stats.queryExecutionId);
  assert.deepEqual(starts, [{
    QueryString: "SELECT * FROM ticks",
    QueryExecutionContext: { Database: "stock_market" },
    WorkGroup: "primary",
    ClientRequestToken: "token-0123456789-0123456789-0123456789",
    ResultConfiguration: { OutputLocation: "s3://results-bucket/athena/" },
  }]);
});

Deno.test("athena query follows every results page", async () => {
  const rows = Array.from(
    { length: 7 },
    (_, i) => [`S${i}`, String(i), "1", "2021-01-01 00:00:00.000", "true", "2021-01-01"],
  );
  await queueResult(rows, COLUMNS);
  const tokens: (string | undefined)[] = [];
  const athena = wrap(client(), async (command, send) => {
    if (!(command instanceof GetQueryResultsCommand)) return send(command as never);
    // moto returns everything at once; serve it in pages of MaxResults like Athena does.
    const full = await send(
      new GetQueryResultsCommand({ QueryExecutionId: command.input.QueryExecutionId }),
    );
    const all = full.ResultSet!.Rows!;
    const start = Number(command.input.NextToken ?? 0);
    const end = start + command.input.MaxResults!;
    tokens.push(command.input.NextToken);
    return {
      ...full,
      ResultSet: { ...full.ResultSet, Rows: all.slice(start, end) },
      NextToken: end < all.length ? String(end) : undefined,
    };
  });
  const result = await queryAthena("SELECT 1", {
    client: athena,
    database: "stock_market",
    pageSize: 3,
    poll: FAST,
  });
  assert.deepEqual(result.rows.map((r) => r.symbol), rows.map((r) => r[0]));
  assert.deepEqual(tokens, [undefined, "3", "6"]);
});

Deno.test("athena query polls through RUNNING falling back to QUEUED until it succeeds", async () => {
  await queueResult([["NYA", "1", "1", "2021-01-01 00:00:00.000", "true", "2021-01-01"]], COLUMNS);
  const script = ["QUEUED", "RUNNING", "QUEUED", "RUNNING"];
  const seen: string[] = [];
  const athena = wrap(client(), async (command, send) => {
    const output = (await send(command as never)) as GetQueryExecutionCommandOutput;
    if (command instanceof GetQueryExecutionCommand && script.length) {
      output.QueryExecution!.Status!.State = script.shift() as never;
    }
    return output;
  });
  const result = await queryAthena("SELECT 1", {
    client: athena,
    database: "stock_market",
    poll: FAST,
    onState: (state) => seen.push(state),
  });
  assert.deepEqual(seen, ["QUEUED", "RUNNING", "QUEUED", "RUNNING", "SUCCEEDED"]);
  assert.equal(result.rows.length, 1);
});

Deno.test("a failed athena query reports Athena's reason and the SQL", async () => {
  const athena = wrap(client(), async (command, send) => {
    const output = (await send(command as never)) as GetQueryExecutionCommandOutput;
    if (command instanceof GetQueryExecutionCommand) {
      output.QueryExecution!.Status = {
        State: "FAILED",
        StateChangeReason: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
      };
    }
    return output;
  });
  await assert.rejects(
    queryAthena("SELECT nope FROM ticks", { client: athena, database: "stock_market", poll: FAST }),
    (error: unknown) => {
      assert.ok(error instanceof AthenaQueryError);
      assert.equal(error.state, "FAILED");
      assert.match(error.message, /FAILED: COLUMN_NOT_FOUND: .*'nope'/);
      assert.match(error.message, /SQL: SELECT nope FROM ticks/);
      return true;
    },
  );
});

Deno.test("aborting the signal stops the query on Athena", async () => {
  const controller = new AbortController();
  let stopped = false;
  const athena = wrap(client(), async (command, send) => {
    if (command instanceof StopQueryExecutionCommand) stopped = true;
    const output = (await send(command as never)) as GetQueryExecutionCommandOutput;
    // Keep it running (moto finishes at once) until the stop reaches moto, which then says CANCELLED.
    if (command instanceof GetQueryExecutionCommand && !stopped) {
      output.QueryExecution!.Status!.State = "RUNNING";
    }
    return output;
  });
  await assert.rejects(
    queryAthena("SELECT * FROM ticks", {
      client: athena,
      database: "stock_market",
      poll: FAST,
      signal: controller.signal,
      onState: (state) => state === "RUNNING" && controller.abort(),
    }),
    AthenaQueryCancelledError,
  );
  assert.ok(stopped, "StopQueryExecution was sent");
});

Deno.test("athena cost bills at least 10 MB and rounds up to whole megabytes at $5 per TB", () => {
  const mb = 1024 * 1024;
  assert.equal(athenaCostUsd(0), athenaCostUsd(10 * mb));
  assert.equal(athenaCostUsd(10 * mb + 1), (11 * mb / 1e12) * 5);
  assert.equal(athenaCostUsd(1e12), 5 * Math.ceil(1e12 / mb) * mb / 1e12);
});

Deno.test("athena cells convert by column type and keep unparseable text", () => {
  assert.equal(athenaValue(undefined, "double"), null);
  assert.equal(athenaValue("1.5E-4", "double"), 0.00015);
  assert.deepEqual(
    athenaValue("2021-05-31 01:02:03.456 UTC", "timestamp"),
    new Date("2021-05-31T01:02:03.456Z"),
  );
  assert.equal(athenaValue("not a time", "timestamp"), "not a time");
  assert.equal(athenaValue("", "string"), "");
});
