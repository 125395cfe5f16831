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
export * from "./tcp_probe.ts";
export * from "./local/broker_tls.ts";
export * from "./local/daemon.ts";
export * from "./local/java.ts";
export * from "./local/local_broker.ts";
export * from "./local/local_services.ts";
export * from "./local/moto.ts";
export * from "./local/python_env.ts";
export * from "./local/secure_kafka.ts";
export * from "./aws/doctor.ts";
export * from "./aws/ec2.ts";
export * from "./aws/iam.ts";
export * from "./aws/my_ip.ts";
export * from "./aws/redact.ts";
export * from "./aws/user_data.ts";
