/**
 * Operations: the Kafka broker configuration shared by the local and the EC2 broker, the EC2
 * deployment (plan/apply/destroy, user-data), IAM policies, the doctor, and the
 * local services (Kafka broker, moto, Python environment) that `deno task up`, `down` and `test`
 * control.
 *
 * @example
 * ```ts
 * import { upLocalServices } from "./mod.ts";
 * const { env } = await upLocalServices({ aws: true });
 * ```
 *
 * @module
 */

export * from "./broker_config.ts";
export * from "./daemon.ts";
export * from "./java.ts";
export * from "./local_broker.ts";
export * from "./local_services.ts";
export * from "./moto.ts";
export * from "./python_env.ts";
export * from "./doctor.ts";
export * from "./ec2.ts";
export * from "./iam.ts";
export * from "./my_ip.ts";
export * from "./redact.ts";
export * from "./user_data.ts";
