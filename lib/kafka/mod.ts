/**
 * Kafka: the shared kafkajs client and its security settings (TLS, SASL), topic administration,
 * the tick producer and the console consumer (tail).
 *
 * @module
 */

export * from "./admin.ts";
export * from "./batches.ts";
export * from "./client.ts";
export * from "./producer.ts";
export * from "./security.ts";
export * from "./tail.ts";
export * from "./tls_probe.ts";
