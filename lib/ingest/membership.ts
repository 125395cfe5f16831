/**
 * How the ingest job reads kafkajs' group-membership errors: which mean "this member lost its
 * partitions" (rejoin and resume from what is durable) rather than "something is broken".
 *
 * @module
 */

import { FencedError } from "../lake/checkpoint_log.ts";
import { isRetriableError } from "../retry.ts";

/** Protocol error types that mean the member's generation or membership is gone. */
const LOST_MEMBERSHIP = new Set([
  "ILLEGAL_GENERATION",
  "UNKNOWN_MEMBER_ID",
  "REBALANCE_IN_PROGRESS",
  "FENCED_INSTANCE_ID",
]);

/**
 * True when `error` (or an error it wraps: kafkajs wraps protocol errors in
 * `KafkaJSNonRetriableError` with a `cause`) says the group moved on without this member.
 */
export function isMembershipLost(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const type = (e as { type?: string }).type;
    if (type && LOST_MEMBERSHIP.has(type)) return true;
    e = (e as { cause?: unknown; originalError?: unknown }).cause ??
      (e as { originalError?: unknown }).originalError;
  }
  return false;
}

/**
 * An error that makes the kafkajs runner rejoin the group (it rejoins on
 * `REBALANCE_IN_PROGRESS`): after a rejoin every partition resumes from its committed offset.
 */
export class RejoinRequest extends Error {
  /** The protocol error type kafkajs' runner reacts to. */
  readonly type = "REBALANCE_IN_PROGRESS";
  /** Not retried in place: the runner rejoins instead. */
  readonly retriable = false;
  /** Creates the request with the reason to log. */
  constructor(reason: string, options?: ErrorOptions) {
    super(`Rejoining the consumer group: ${reason}`, options);
    this.name = "RejoinRequest";
  }
}

/** Kafka error types no retry fixes: a person must change credentials, ACLs or the topic. */
const NEEDS_A_PERSON = new Set([
  "TOPIC_AUTHORIZATION_FAILED",
  "GROUP_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
  "ILLEGAL_SASL_STATE",
  "UNSUPPORTED_SASL_MECHANISM",
  "INVALID_TOPIC_EXCEPTION",
]);

/**
 * True when `error` comes from kafkajs and says nothing a person must fix: a broker or
 * coordinator that is down or moving, retries that ran out during a failover. kafkajs retries
 * such errors itself (and restarts a consumer that crashed on them), so the job hands them back
 * to it instead of stopping. An error of ours wrapped by kafkajs (a store error) is not one.
 */
export function isKafkaTransient(error: unknown): boolean {
  let kafka = false;
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const { name = "", type } = e as { name?: string; type?: string };
    if (!name.startsWith("KafkaJS")) return false;
    if (name === "KafkaJSSASLAuthenticationError" || (type && NEEDS_A_PERSON.has(type))) {
      return false;
    }
    kafka = true;
    const cause = (e as { cause?: unknown }).cause;
    if (cause === e) break;
    e = cause;
  }
  return kafka;
}

/** What the ingest job does about an error: rejoin the group, let kafkajs retry, or stop. */
export type ErrorAction = "rejoin" | "retry" | "stop";

/**
 * The one rule for errors out of a batch or a flush: a lost partition or membership means
 * rejoin and resume from what is durable; a retriable error or Kafka's own transient trouble goes
 * back to kafkajs; anything else needs a person, so the job stops with it.
 */
export function errorAction(error: unknown): ErrorAction {
  if (error instanceof FencedError || isMembershipLost(error)) return "rejoin";
  return isRetriableError(error) || isKafkaTransient(error) ? "retry" : "stop";
}
