/**
 * `deno task doctor`: checks AWS credentials, the Kafka broker, the S3 lake bucket, the Glue catalog
 * and Athena, and explains what to do about each failure. Exit code 1 when a check fails.
 *
 *   deno task doctor                                   # local: broker only (lake is ./lake)
 *   LAKE_URI=s3://my-lake/stock KAFKA_BROKERS=ec2-….compute-1.amazonaws.com:9092 deno task doctor
 *
 * @module
 */

import { STSClient } from "@aws-sdk/client-sts";
import { S3Client } from "@aws-sdk/client-s3";
import { GlueClient } from "@aws-sdk/client-glue";
import { AthenaClient } from "@aws-sdk/client-athena";
import { numberFlag, type ParsedFlags, runCommand } from "../lib/cli.ts";
import { configFlags, loadConfig, SECURITY_FIELDS } from "../lib/config.ts";
import { explainError, formatReport, runDoctor } from "../lib/ops/aws/doctor.ts";
import { redact, secretsFromEnv } from "../lib/ops/aws/redact.ts";

const COMMAND = {
  usage: "deno task doctor [flags]",
  about: "Checks credentials, broker, S3, Glue and Athena; settings come from the same env/flags " +
    "as the pipeline. Exit code 1 when a check fails.",
  flags: {
    ...configFlags(
      "brokers",
      "topic",
      "lake",
      "region",
      "endpoint",
      "database",
      "table",
      "workgroup",
      "athenaOutput",
      ...SECURITY_FIELDS,
    ),
    "timeout-ms": { type: "string", description: "How long each check may take", default: "5000" },
  },
} as const;

async function doctor({ values }: ParsedFlags): Promise<number> {
  const config = loadConfig({ flags: values });
  const timeoutMs = numberFlag("timeout-ms", values["timeout-ms"], {
    integer: true,
    positive: true,
  }) ?? 5000;
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
  const secrets = [...secretsFromEnv(), ...(config.saslPassword ? [config.saslPassword] : [])];
  console.log(redact(formatReport(results), secrets).trimEnd());
  return results.some((r) => r.status === "fail") ? 1 : 0;
}

if (import.meta.main) {
  runCommand(COMMAND, doctor, {
    explain: (error) => redact(explainError(error), secretsFromEnv()),
  });
}
