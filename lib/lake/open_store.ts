/**
 * Opens the {@linkcode Store} a lake URI names: a folder or `s3://bucket/prefix`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Store } from "./store.ts";
import { FsStore } from "./fs_store.ts";
import { S3Store } from "./s3_store.ts";
import { assertStorePrefix, BUCKET_RULE, isValidBucketName, parseS3Uri } from "./layout.ts";

/** A lake URI, parsed. */
export type LakeLocation =
  | { kind: "fs"; path: string }
  | { kind: "s3"; bucket: string; prefix: string };

/** Raised for a lake URI that names no store we can open; the message lists accepted forms. */
export class LakeUriError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "LakeUriError";
  }
}

const ACCEPTED = "a folder (./lake, /abs/path, file:///abs/path) or s3://bucket[/prefix]";

/**
 * Parses a lake URI without touching the disk or the network.
 *
 * @example
 * ```ts
 * import { parseLakeUri } from "./open_store.ts";
 * parseLakeUri("s3://my-lake/stock_market/"); // { kind: "s3", bucket: "my-lake", prefix: "stock_market" }
 * parseLakeUri("./lake"); // { kind: "fs", path: "./lake" }
 * ```
 * @throws {LakeUriError} for an empty URI, another scheme, or an invalid bucket name.
 */
export function parseLakeUri(uri: string): LakeLocation {
  if (typeof uri !== "string" || uri.trim() === "") {
    throw new LakeUriError(`The lake URI is empty: use ${ACCEPTED}.`);
  }
  const text = uri.trim();
  const s3 = parseS3Uri(text);
  if (s3) {
    const { bucket, prefix } = s3;
    if (!isValidBucketName(bucket)) {
      throw new LakeUriError(
        `Lake URI "${uri}" has an invalid bucket name "${bucket}": S3 buckets are ${BUCKET_RULE}; use ${ACCEPTED}.`,
      );
    }
    if (prefix !== "") {
      try {
        assertStorePrefix(`${prefix}/`);
      } catch (cause) {
        throw new LakeUriError(
          `Lake URI "${uri}" has an invalid prefix: ${(cause as Error).message} Use ${ACCEPTED}.`,
        );
      }
    }
    return { kind: "s3", bucket, prefix };
  }
  if (text.startsWith("file://")) {
    let path: string;
    try {
      path = fileURLToPath(text);
    } catch (cause) {
      throw new LakeUriError(
        `Lake URI "${uri}" is not a valid file URL (${
          (cause as Error).message
        }): use file:///absolute/path or ${ACCEPTED}.`,
      );
    }
    return { kind: "fs", path };
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(text)) {
    const scheme = text.slice(0, text.indexOf(":"));
    throw new LakeUriError(
      `Lake URI "${uri}" uses the unsupported scheme "${scheme}:": use ${ACCEPTED}.`,
    );
  }
  return { kind: "fs", path: text };
}

/** Options of {@linkcode openStore}; S3 settings are ignored for folders. */
export interface OpenStoreOptions {
  /** AWS region for `s3://` lakes (`PipelineConfig.region`). @default "us-east-1" */
  region?: string;
  /** S3 emulator endpoint for `s3://` lakes (`PipelineConfig.endpoint`). @default AWS itself */
  endpoint?: string;
  /** A ready S3 client for `s3://` lakes. */
  client?: S3Client;
}

/**
 * Opens the store a lake URI names: `./lake`, `/abs/path` and `file:///abs/path` give an
 * {@linkcode FsStore}; `s3://bucket/prefix` gives an {@linkcode S3Store}.
 *
 * @example
 * ```ts
 * import { openStore } from "./open_store.ts";
 * const local = openStore("./lake");
 * const s3 = openStore("s3://my-lake/stock_market", { region: "eu-west-1" });
 * ```
 * @throws {LakeUriError} for a URI that names no store; the message lists the accepted forms.
 */
export function openStore(uri: string, options: OpenStoreOptions = {}): Store {
  const location = parseLakeUri(uri);
  if (location.kind === "fs") return new FsStore(location.path);
  return new S3Store({
    bucket: location.bucket,
    prefix: location.prefix,
    region: options.region,
    endpoint: options.endpoint,
    client: options.client,
  });
}
