/**
 * Permission errors that name the IAM action they lacked. AWS's own message usually does
 * ("… is not authorized to perform: glue:CreateTable on resource …"), but not always: S3 often
 * says just "Access Denied", and a denial some endpoints return as XML to a JSON API (emulators,
 * proxies) surfaces as a bare deserialization error with HTTP 403. {@linkcode nameDeniedActions}
 * adds a step to an SDK client that turns every such denial into an
 * {@linkcode AwsAccessDeniedError} whose message names the action, e.g. `glue:CreateTable`, and
 * says where the policy comes from — so a command ends with the real cause, never a guess.
 *
 * @module
 */

/** Raised for a call AWS refused for lack of permission; {@linkcode action} is what was missing. */
export class AwsAccessDeniedError extends Error {
  /** The IAM action the caller lacked, e.g. `glue:GetTable`. */
  readonly action: string;
  /** Creates the error. */
  constructor(action: string, detail: string, options?: ErrorOptions) {
    super(
      `AWS denied ${action} (${detail}): give these credentials the policy \`deno task iam\` prints for this step (it includes ${action}), or check for a Deny in an SCP, permissions boundary or resource policy.`,
      options,
    );
    this.name = "AwsAccessDeniedError";
    this.action = action;
  }
}

const DENIED_NAMES = new Set(["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"]);

/** The IAM action behind an S3 API operation, where the two names differ. */
const S3_ACTIONS: Readonly<Record<string, string>> = {
  ListObjectsV2: "s3:ListBucket",
  ListObjects: "s3:ListBucket",
  HeadBucket: "s3:ListBucket",
  HeadObject: "s3:GetObject",
  CreateMultipartUpload: "s3:PutObject",
  UploadPart: "s3:PutObject",
  CompleteMultipartUpload: "s3:PutObject",
  DeleteObjects: "s3:DeleteObject",
};

/** The service prefix of IAM actions for an SDK client class name. */
const SERVICES: Readonly<Record<string, string>> = {
  S3Client: "s3",
  GlueClient: "glue",
  AthenaClient: "athena",
  EC2Client: "ec2",
  SSMClient: "ssm",
  STSClient: "sts",
  IAMClient: "iam",
};

/**
 * The IAM action of an SDK call, from its client and command class names.
 *
 * @example
 * ```ts
 * import { iamActionOf } from "./aws_denied.ts";
 * iamActionOf("GlueClient", "GetTableCommand"); // "glue:GetTable"
 * iamActionOf("S3Client", "ListObjectsV2Command"); // "s3:ListBucket"
 * ```
 */
export function iamActionOf(clientName: string, commandName: string): string {
  const operation = commandName.replace(/Command$/, "");
  const service = SERVICES[clientName] ?? clientName.replace(/Client$/, "").toLowerCase();
  return service === "s3" && S3_ACTIONS[operation]
    ? S3_ACTIONS[operation]
    : `${service}:${operation}`;
}

interface AwsErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Whether an SDK error is a permission denial: AWS's denial codes, or an unreadable answer with
 * HTTP 403 (a denial in the wrong format). Credential problems (bad key, signature) are not.
 */
export function isAccessDenied(error: unknown): boolean {
  const e = (error ?? {}) as AwsErrorShape;
  if (DENIED_NAMES.has(e.name ?? "")) return true;
  return e.$metadata?.httpStatusCode === 403 && e.name === "SyntaxError";
}

/** The SDK client shape {@linkcode nameDeniedActions} needs (every v3 client has it). */
export interface MiddlewareClient {
  /** The client's middleware stack (its typed `add` overloads accept the step added here). */
  middlewareStack: { add(middleware: never, options: never): void };
}

type Handler = (args: unknown) => Promise<unknown>;

/**
 * Makes every permission denial of `client` an {@linkcode AwsAccessDeniedError} naming the IAM
 * action; returns the client.
 *
 * @example
 * ```ts
 * import { GlueClient } from "@aws-sdk/client-glue";
 * import { nameDeniedActions } from "./aws_denied.ts";
 * const glue = nameDeniedActions(new GlueClient({ region: "us-east-1" }));
 * ```
 */
export function nameDeniedActions<T extends MiddlewareClient>(client: T): T {
  const middleware = (
    next: Handler,
    context: { clientName?: string; commandName?: string },
  ): Handler =>
  async (args) => {
    try {
      return await next(args);
    } catch (error) {
      if (!isAccessDenied(error)) throw error;
      const action = iamActionOf(context.clientName ?? "", context.commandName ?? "");
      const e = error as AwsErrorShape;
      const detail = e.name === "SyntaxError"
        ? "HTTP 403, the denial's text could not be read"
        : `${e.name}: ${(e.message ?? "").split("\n")[0]}`;
      throw new AwsAccessDeniedError(action, detail, { cause: error });
    }
  };
  client.middlewareStack.add(
    middleware as never,
    { step: "initialize", name: "nameDeniedActions" } as never,
  );
  return client;
}
