/**
 * Kafka: the shared kafkajs client, topic administration, the tick producer and the lake
 * consumer.
 *
 * @module
 */

export * from "./admin.ts";
export * from "./batches.ts";
export * from "./client.ts";
export * from "./producer.ts";
