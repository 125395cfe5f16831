/**
 * `deno task doctor`: checks AWS credentials, the Kafka broker, the S3 lake bucket, the Glue catalog
 * and Athena, and explains what to do about each failure. Exit code 1 when a check fails.
 *
 *   deno task doctor                                   # local: broker only (lake is ./lake)
 *   LAKE_URI=s3://my-lake/stock KAFKA_BROKERS=ec2-….compute-1.amazonaws.com:9092 deno task doctor
 *
 * @module
 */

import { parseArgs } from "node:util";
import { STSClient } from "@aws-sdk/client-sts";
import { S3Client } from "@aws-sdk/client-s3";
import { GlueClient } from "@aws-sdk/client-glue";
import { AthenaClient } from "@aws-sdk/client-athena";
import { loadConfig } from "../lib/config.ts";
import { consoleLogger } from "../lib/log.ts";
import { explainError, formatReport, runDoctor } from "../lib/ops/doctor.ts";
import { redact, secretsFromEnv } from "../lib/ops/redact.ts";

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      brokers: { type: "string" },
      topic: { type: "string" },
      lake: { type: "string" },
      region: { type: "string" },
      endpoint: { type: "string" },
      database: { type: "string" },
      table: { type: "string" },
      workgroup: { type: "string" },
      "athena-output": { type: "string" },
      "timeout-ms": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno task doctor [--brokers host:9092] [--lake s3://bucket/prefix] [--region R] [--timeout-ms 5000]\n" +
        "Checks credentials, broker, S3, Glue and Athena; settings come from the same env/flags as the pipeline.",
    );
    return 0;
  }
  const config = loadConfig({ flags: values });
  const timeoutMs = values["timeout-ms"] ? Number(values["timeout-ms"]) : 5000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new Error(`--timeout-ms must be a positive whole number, got "${values["timeout-ms"]}".`);
  }
  const common = {
    region: config.region,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  };
  const results = await runDoctor(config, {
    sts: new STSClient(common),
    s3: new S3Client({
      ...common,
      forcePathStyle: !!config.endpoint,
      requestChecksumCalculation: "WHEN_REQUIRED",
    }),
    glue: new GlueClient(common),
    athena: new AthenaClient(common),
  }, { timeoutMs });
  console.log(redact(formatReport(results), secretsFromEnv()).trimEnd());
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    consoleLogger.error(redact(explainError(error), secretsFromEnv()));
    Deno.exit(1);
  }
}
