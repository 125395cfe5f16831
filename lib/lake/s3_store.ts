/**
 * A {@linkcode Store} over an S3 bucket and prefix (AWS, or an emulator such as moto through
 * `AWS_ENDPOINT_URL`).
 *
 * Failures are classified for the sink: network errors, timeouts, 5xx and throttling become
 * {@linkcode StoreUnavailableError} (`retriable: true`, back off and retry); a missing bucket,
 * denied access, a wrong region or missing credentials become {@linkcode S3StoreError}
 * (`retriable: false`) whose message says what to fix. The client uses short timeouts and at most
 * two attempts so an outage surfaces in seconds and the sink's own backoff takes over.
 *
 * @module
 */

import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { type Store, type StoredObject, StoreUnavailableError } from "./store.ts";
import { assertStoreKey, assertStorePrefix, formatFor, isValidBucketName } from "./layout.ts";

/** Options of {@linkcode S3Store}. */
export interface S3StoreOptions {
  /** Bucket name. */
  bucket: string;
  /** Folder inside the bucket that is the lake root, without leading or trailing `/`. @default "" */
  prefix?: string;
  /**
   * A ready S3 client (tests, custom credentials). When given, `region`, `endpoint`, timeouts and
   * `maxAttempts` are not applied to it.
   */
  client?: S3Client;
  /** AWS region (`PipelineConfig.region` reads it from the environment). @default "us-east-1" */
  region?: string;
  /**
   * Endpoint of an S3-compatible emulator such as `http://127.0.0.1:5000`; turns on path-style
   * addressing and sends checksums only when required (`PipelineConfig.endpoint` reads it from
   * `AWS_ENDPOINT_URL`). @default AWS itself
   */
  endpoint?: string;
  /**
   * AWS credentials or a provider of them. @default the SDK chain: AWS_ACCESS_KEY_ID/…, AWS_PROFILE,
   * SSO, then the instance or task role
   */
  credentials?: S3ClientConfig["credentials"];
  /** Bodies larger than this many bytes go up through `Upload` (multipart above one part). @default 16 MiB */
  multipartThreshold?: number;
  /** Size of each multipart part, at least 5 MiB (the S3 minimum). @default 8 MiB */
  partSize?: number;
  /** Keys per ListObjectsV2 page (1-1000). @default 1000 */
  pageSize?: number;
  /** Milliseconds to wait for a TCP connection. @default 3000 */
  connectionTimeoutMs?: number;
  /** Milliseconds to wait for a response to one request before giving up. @default 30000 */
  requestTimeoutMs?: number;
  /** Attempts per request inside the SDK (the sink retries on top). @default 2 */
  maxAttempts?: number;
}

/** The S3 minimum size of a multipart part (all but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

/** What went wrong with an S3 request that retrying will not fix. */
export type S3ProblemKind =
  | "missing-bucket"
  | "access-denied"
  | "wrong-region"
  | "credentials"
  | "rejected";

/** Raised for S3 failures that need a person: missing bucket, denied access, wrong region. */
export class S3StoreError extends Error {
  /** False: retrying will not help until the configuration is fixed. */
  readonly retriable = false;
  /** Which kind of problem this is. */
  readonly kind: S3ProblemKind;
  /** The S3 error code, e.g. `NoSuchBucket` or `AccessDenied`. */
  readonly code: string;
  /** Creates the error, keeping the SDK error as cause. */
  constructor(kind: S3ProblemKind, code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "S3StoreError";
    this.kind = kind;
    this.code = code;
  }
}

const MiB = 1024 * 1024;

/**
 * A {@linkcode Store} over `s3://bucket/prefix`.
 *
 * @example
 * ```ts
 * import { S3Store } from "./s3_store.ts";
 * const store = new S3Store({ bucket: "my-lake", prefix: "stock_market" });
 * await store.put("ticks/dt=2021-05-31/x.jsonl", new TextEncoder().encode("{}\n"));
 * ```
 */
export class S3Store implements Store {
  /** `s3://bucket` or `s3://bucket/prefix`. */
  readonly uri: string;
  /** The bucket name. */
  readonly bucket: string;
  /** The lake folder inside the bucket (`""` for the bucket root). */
  readonly prefix: string;
  /** The S3 client in use. */
  readonly client: S3Client;
  /** The emulator endpoint, when one is used. */
  readonly endpoint?: string;
  readonly #ownsClient: boolean;
  readonly #region: string;
  readonly #threshold: number;
  readonly #partSize: number;
  readonly #pageSize: number;

  /**
   * Creates the store; no request is made until the first call.
   *
   * @throws {S3StoreError} for an invalid bucket name, prefix or size option.
   */
  constructor(options: S3StoreOptions) {
    const bucket = options.bucket;
    if (!isValidBucketName(bucket)) {
      throw new S3StoreError(
        "rejected",
        "InvalidBucketName",
        `Invalid S3 bucket name ${
          JSON.stringify(bucket)
        }: use 3-63 lower-case letters, digits, '.' or '-', starting and ending with a letter or digit.`,
      );
    }
    const prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    if (prefix !== "") {
      try {
        assertStorePrefix(`${prefix}/`);
      } catch (cause) {
        throw new S3StoreError(
          "rejected",
          "InvalidPrefix",
          `Invalid S3 prefix ${JSON.stringify(options.prefix)}: ${(cause as Error).message}`,
          { cause },
        );
      }
    }
    this.bucket = bucket;
    this.prefix = prefix;
    this.uri = prefix === "" ? `s3://${bucket}` : `s3://${bucket}/${prefix}`;
    this.#threshold = sizeOption("multipartThreshold", options.multipartThreshold, 16 * MiB, 0);
    this.#partSize = sizeOption("partSize", options.partSize, 8 * MiB, MIN_PART_SIZE);
    this.#pageSize = sizeOption("pageSize", options.pageSize, 1000, 1);
    if (this.#pageSize > 1000) {
      throw new S3StoreError(
        "rejected",
        "InvalidOption",
        "pageSize must be 1-1000 (the S3 maximum).",
      );
    }
    this.#region = options.region ?? "us-east-1";
    this.endpoint = options.endpoint;
    this.#ownsClient = options.client === undefined;
    this.client = options.client ?? new S3Client({
      region: this.#region,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts ?? 2,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 3000,
        requestTimeout: options.requestTimeoutMs ?? 30_000,
        throwOnRequestTimeout: true,
      },
      ...(this.endpoint
        ? {
          endpoint: this.endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
        }
        : {}),
    });
  }

  /**
   * Writes (or overwrites) an object: one PutObject up to the threshold; above it an `Upload` from
   * `@aws-sdk/lib-storage`, which sends `partSize` parts (several at once) and aborts the multipart
   * upload when a part fails.
   */
  async put(key: string, body: Uint8Array): Promise<void> {
    const params = {
      Bucket: this.bucket,
      Key: this.#key(key),
      Body: body,
      ContentLength: body.byteLength,
      ContentType: contentTypeFor(key),
    };
    await this.#send(
      "put",
      key,
      () =>
        body.byteLength <= this.#threshold
          ? this.client.send(new PutObjectCommand(params))
          : new Upload({ client: this.client, params, partSize: this.#partSize }).done(),
    );
  }

  /**
   * Writes an object unless the key is taken: a PutObject with `If-None-Match: *`, which S3
   * answers with 412 Precondition Failed when the key exists (`false`). A 409 from a concurrent
   * conditional write is retriable.
   */
  async putIfAbsent(key: string, body: Uint8Array): Promise<boolean> {
    const objectKey = this.#key(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Body: body,
          ContentLength: body.byteLength,
          ContentType: contentTypeFor(key),
          IfNoneMatch: "*",
        }),
      );
      return true;
    } catch (error) {
      if (errorCode(error) === "PreconditionFailed" || httpStatus(error) === 412) return false;
      if (errorCode(error) === "ConditionalRequestConflict" || httpStatus(error) === 409) {
        throw new StoreUnavailableError(
          `S3 is busy with another conditional write to ${this.uri}/${key}; retrying.`,
          { cause: error },
        );
      }
      throw this.classify(error, "put", key);
    }
  }

  /** Reads an object, or `undefined` when there is none. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const objectKey = this.#key(key);
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }),
      );
      if (!response.Body) return new Uint8Array();
      return await response.Body.transformToByteArray();
    } catch (error) {
      if (errorCode(error) === "NoSuchKey") return undefined;
      throw this.classify(error, "get", key);
    }
  }

  /** Lists every object whose key starts with `prefix`, in key order, page by page. */
  async *list(prefix: string): AsyncIterable<StoredObject> {
    assertStorePrefix(prefix);
    const root = this.prefix === "" ? "" : `${this.prefix}/`;
    let token: string | undefined;
    do {
      const page = await this.#send("list", prefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: root + prefix,
            ContinuationToken: token,
            MaxKeys: this.#pageSize,
          }),
        ));
      for (const object of page.Contents ?? []) {
        if (!object.Key?.startsWith(root)) continue;
        yield { key: object.Key.slice(root.length), size: object.Size ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Deletes an object; no error when it is already gone. */
  async delete(key: string): Promise<void> {
    const objectKey = this.#key(key);
    await this.#send(
      "delete",
      key,
      () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey })),
    );
  }

  /**
   * Creates the bucket when it does not exist (for emulators and first runs); resolves `true`
   * when it created it.
   */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return false;
    } catch (error) {
      const status = httpStatus(error);
      if (
        status !== 404 && errorCode(error) !== "NoSuchBucket" && errorCode(error) !== "NotFound"
      ) {
        throw this.classify(error, "check bucket", "");
      }
    }
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          ...(this.#region === "us-east-1"
            ? {}
            : { CreateBucketConfiguration: { LocationConstraint: this.#region as never } }),
        }),
      );
      return true;
    } catch (error) {
      if (errorCode(error) === "BucketAlreadyOwnedByYou") return false;
      throw this.classify(error, "create bucket", "");
    }
  }

  /** Closes the client's connections when this store created the client. */
  close(): void {
    if (this.#ownsClient) this.client.destroy();
  }

  /**
   * Turns an SDK error into {@linkcode StoreUnavailableError} (retriable) or
   * {@linkcode S3StoreError} (needs a fix), with a message naming the object and what to do.
   */
  classify(error: unknown, action: string, key: string): Error {
    if (error instanceof S3StoreError || error instanceof StoreUnavailableError) return error;
    const where = key === "" ? `s3://${this.bucket}` : `${this.uri}/${key}`;
    const code = errorCode(error) ?? "Unknown";
    const status = httpStatus(error);
    const detail = `${describe(error)}${status ? `, HTTP ${status}` : ""}`;
    const endpoint = this.endpoint ? ` at ${this.endpoint}` : "";
    const options = { cause: error };
    if (code === "NoSuchBucket" || (status === 404 && action === "check bucket")) {
      return new S3StoreError(
        "missing-bucket",
        "NoSuchBucket",
        `Cannot ${action} ${where}: bucket "${this.bucket}" does not exist${endpoint}. Create it (aws s3 mb s3://${this.bucket} --region ${this.#region}, or S3Store.ensureBucket() on an emulator) or fix the lake URI.`,
        options,
      );
    }
    if (WRONG_REGION_CODES.has(code) || status === 301) {
      return new S3StoreError(
        "wrong-region",
        code,
        `Cannot ${action} ${where}: bucket "${this.bucket}" is not in region ${this.#region} (${detail}). Set AWS_REGION or --region to the bucket's region.`,
        options,
      );
    }
    if (
      CREDENTIAL_CODES.has(code) ||
      (error instanceof Error && error.name === "CredentialsProviderError")
    ) {
      return new S3StoreError(
        "credentials",
        code,
        `Cannot ${action} ${where}: AWS credentials are missing, invalid or expired (${detail}). Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or refresh your session.`,
        options,
      );
    }
    if (ACCESS_CODES.has(code) || status === 403) {
      return new S3StoreError(
        "access-denied",
        code,
        `Cannot ${action} ${where}: access denied (${detail}): these credentials lack ${
          S3_ACTION_OF[action] ?? "an S3 permission"
        } on ${
          S3_ACTION_OF[action] === "s3:ListBucket" || key === ""
            ? `arn:aws:s3:::${this.bucket}`
            : `arn:aws:s3:::${this.bucket}/${this.#key(key)}`
        }. Give them the IAM policy \`deno task iam\` prints for this step, and check that no bucket policy denies it.`,
        options,
      );
    }
    if (isTransient(error, code, status)) {
      return new StoreUnavailableError(
        `S3 is unavailable: cannot ${action} ${where}${endpoint} (${detail}). Retrying later may succeed; if it persists check the network${
          this.endpoint ? " and that the emulator is running" : " and AWS status"
        }.`,
        options,
      );
    }
    return new S3StoreError(
      "rejected",
      code,
      `Cannot ${action} ${where}: S3 rejected the request (${detail}).`,
      options,
    );
  }

  async #send<T>(action: string, key: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      throw this.classify(error, action, key);
    }
  }

  #key(key: string): string {
    assertStoreKey(key);
    return this.prefix === "" ? key : `${this.prefix}/${key}`;
  }
}

/** The IAM action each S3Store operation needs (what an access-denied message names). */
const S3_ACTION_OF: Readonly<Record<string, string>> = {
  put: "s3:PutObject",
  get: "s3:GetObject",
  list: "s3:ListBucket",
  delete: "s3:DeleteObject",
  "check bucket": "s3:ListBucket",
  "create bucket": "s3:CreateBucket",
};

const WRONG_REGION_CODES = new Set([
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "IllegalLocationConstraintException",
  "InvalidRegion",
]);
const CREDENTIAL_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
]);
const ACCESS_CODES = new Set(["AccessDenied", "AllAccessDisabled", "AccountProblem"]);
const TRANSIENT_CODES = new Set([
  "SlowDown",
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "RequestTimeout",
  "RequestTimeoutException",
  "InternalError",
  "ServiceUnavailable",
  "OperationAborted",
  "TimeoutError",
  "AbortError",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
]);

function isTransient(error: unknown, code: string, status: number | undefined): boolean {
  if (status !== undefined && (status >= 500 || status === 429 || status === 408)) return true;
  if (TRANSIENT_CODES.has(code)) return true;
  const meta = error as { $retryable?: unknown; name?: string };
  if (meta?.$retryable) return true;
  // No HTTP response at all: the request never reached S3 (socket, DNS, TLS trouble).
  return status === undefined && error instanceof Error &&
    error.name !== "CredentialsProviderError";
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const e = error as { Code?: unknown; code?: unknown; name?: unknown };
  for (const value of [e.Code, e.code, e.name]) {
    if (typeof value === "string" && value !== "" && value !== "Error") return value;
  }
  return undefined;
}

function httpStatus(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } })?.$metadata
    ?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = errorCode(error);
  const message = error.message && error.message !== "UnknownError" ? error.message : "";
  return [code, message].filter((part) => part && part !== "").join(": ") || error.name;
}

function contentTypeFor(key: string): string | undefined {
  const kind = formatFor(key);
  if (!kind) return undefined;
  if (kind.format === "parquet") return "application/vnd.apache.parquet";
  return kind.gzip ? "application/gzip" : "application/x-ndjson";
}

function sizeOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new S3StoreError(
      "rejected",
      "InvalidOption",
      `S3Store option ${name} must be an integer of at least ${min}, got ${value}.`,
    );
  }
  return value;
}
