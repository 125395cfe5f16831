/**
 * The ingest job: consume a topic, split good ticks from poison messages, hand the ticks to the
 * lake sink, dead-letter the rest, and commit offsets only once the rows are durable.
 *
 * @module
 */

export * from "./consume_to_lake.ts";
