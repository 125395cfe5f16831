import assert from "node:assert/strict";
import { GetDatabaseCommand, GlueClient } from "@aws-sdk/client-glue";
import {
  AwsAccessDeniedError,
  iamActionOf,
  isAccessDenied,
  nameDeniedActions,
} from "./aws_denied.ts";

Deno.test("iamActionOf names the IAM action of an SDK call, S3's renamed ones included", () => {
  assert.equal(iamActionOf("GlueClient", "CreateTableCommand"), "glue:CreateTable");
  assert.equal(iamActionOf("AthenaClient", "GetQueryResultsCommand"), "athena:GetQueryResults");
  assert.equal(iamActionOf("SSMClient", "GetParametersCommand"), "ssm:GetParameters");
  assert.equal(iamActionOf("S3Client", "ListObjectsV2Command"), "s3:ListBucket");
  assert.equal(iamActionOf("S3Client", "UploadPartCommand"), "s3:PutObject");
  assert.equal(iamActionOf("S3Client", "GetObjectCommand"), "s3:GetObject");
});

Deno.test("isAccessDenied: denial codes and unreadable 403s, not credential errors", () => {
  assert.ok(isAccessDenied({ name: "AccessDeniedException" }));
  assert.ok(isAccessDenied({ name: "UnauthorizedOperation" }));
  assert.ok(isAccessDenied({ name: "SyntaxError", $metadata: { httpStatusCode: 403 } }));
  assert.ok(!isAccessDenied({ name: "SyntaxError", $metadata: { httpStatusCode: 500 } }));
  assert.ok(!isAccessDenied({ name: "InvalidClientTokenId", $metadata: { httpStatusCode: 403 } }));
  assert.ok(!isAccessDenied(undefined));
});

Deno.test("a client with nameDeniedActions ends a denied call with the action it lacked", async () => {
  // An endpoint that denies everything the way AWS's JSON APIs do.
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
    Response.json(
      {
        __type: "AccessDeniedException",
        message: "User: arn:aws:iam::1:user/u is not authorized to perform: glue:GetDatabase",
      },
      { status: 400, headers: { "x-amzn-errortype": "AccessDeniedException" } },
    ));
  const glue = nameDeniedActions(
    new GlueClient({
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${server.addr.port}`,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
      maxAttempts: 1,
    }),
  );
  try {
    await assert.rejects(glue.send(new GetDatabaseCommand({ Name: "d" })), (e: unknown) => {
      assert.ok(e instanceof AwsAccessDeniedError);
      assert.equal(e.action, "glue:GetDatabase");
      assert.match(
        e.message,
        /^AWS denied glue:GetDatabase \(AccessDeniedException: User: .*deno task iam/,
      );
      return true;
    });
  } finally {
    glue.destroy();
    await server.shutdown();
  }
});
