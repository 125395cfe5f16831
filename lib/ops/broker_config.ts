/**
 * The one source of the Kafka broker configuration: the same functions render `server.properties`
 * for the broker `deno task up` runs on this machine and for the broker an EC2 instance runs from
 * its user-data, so the two cannot drift apart.
 *
 * Both are KRaft brokers (no ZooKeeper) running Apache Kafka {@linkcode KAFKA_VERSION}: a single
 * node, or locally also a cluster of several nodes in combined mode (each node is broker and
 * controller, static voters), with replication from {@linkcode replicationForBrokers}.
 * Locally the broker listens and advertises on one `PLAINTEXT` listener on `127.0.0.1`. On EC2 it
 * has two: `INTERNAL` for the broker itself and tools on the instance, and `EXTERNAL` advertised
 * under the instance's public DNS name, which is what clients outside AWS must be given back in
 * metadata responses (the classic "connects, then times out" EC2 mistake).
 *
 * With {@linkcode BrokerConfigOptions.security} the same functions render the secure setup: the
 * client (local) or EXTERNAL (ec2) listener speaks `SASL_SSL` with {@linkcode SCRAM_MECHANISM},
 * {@linkcode STANDARD_AUTHORIZER} denies what no ACL grants, and the PLAINTEXT listeners left
 * (controller, INTERNAL) bind to `127.0.0.1`. {@linkcode scramFormatArgs} creates the SCRAM users
 * when the storage is formatted.
 *
 * @module
 */

/** The Apache Kafka release every broker of this project runs. */
export const KAFKA_VERSION = "3.9.1";

/** The Scala build of {@linkcode KAFKA_VERSION} (artifact `kafka_2.13`, tarball `kafka_2.13-…`). */
export const SCALA_VERSION = "2.13";

/** Where the EC2 user-data downloads the Kafka tarball from (the Apache archive keeps old releases). */
export const KAFKA_TARBALL_URL =
  `https://archive.apache.org/dist/kafka/${KAFKA_VERSION}/kafka_${SCALA_VERSION}-${KAFKA_VERSION}.tgz`;

/**
 * The token the EC2 user-data replaces with the instance's public DNS name (read from IMDSv2 at
 * boot), e.g. `sed -i "s/\${PUBLIC_DNS}/$PUBLIC_DNS/" server.properties`.
 */
export const PUBLIC_DNS_PLACEHOLDER = "${PUBLIC_DNS}";

/** One KRaft controller of a static quorum (`controller.quorum.voters`): `id@host:port`. */
export interface QuorumVoter {
  /** The node's `node.id`. */
  id: number;
  /** The address its CONTROLLER listener binds to. */
  host: string;
  /** Its CONTROLLER port. */
  port: number;
}

/** How topics are replicated on a cluster of a given size. */
export interface ReplicationPolicy {
  /** Replicas of each partition: `min(3, brokers)`. */
  replicationFactor: number;
  /** Replicas that must have a write before `acks=all` succeeds: 2 from 3 brokers up, else 1. */
  minInsyncReplicas: number;
}

/**
 * The replication every topic (internal ones included) gets on a cluster of `brokers` nodes:
 * 3 replicas (fewer on a smaller cluster) and, from 3 brokers up, `min.insync.replicas=2`, so an
 * acknowledged write survives the loss of any one broker and writes go on while one is down.
 *
 * @example
 * ```ts
 * import { replicationForBrokers } from "./broker_config.ts";
 * replicationForBrokers(1); // { replicationFactor: 1, minInsyncReplicas: 1 }
 * replicationForBrokers(3); // { replicationFactor: 3, minInsyncReplicas: 2 }
 * ```
 * @throws {BrokerConfigError} for a count that is not a whole number of at least 1.
 */
export function replicationForBrokers(brokers: number): ReplicationPolicy {
  if (!Number.isInteger(brokers) || brokers < 1) {
    throw new BrokerConfigError(`brokers must be a whole number of at least 1, got ${brokers}.`);
  }
  const replicationFactor = Math.min(3, brokers);
  return { replicationFactor, minInsyncReplicas: replicationFactor >= 3 ? 2 : 1 };
}

/** Options of {@linkcode renderServerProperties}. */
export interface BrokerConfigOptions {
  /** `local`: one PLAINTEXT listener on `host`. `ec2`: INTERNAL + EXTERNAL listeners on all interfaces. */
  mode: "local" | "ec2";
  /** Where the broker keeps its logs (partitions); becomes `log.dirs`. Use an absolute path. */
  dataDir: string;
  /** The client port (local: PLAINTEXT, ec2: EXTERNAL). @default {9092} */
  port?: number;
  /** The KRaft controller port, bound to `host` (local) or `localhost` (ec2). @default {9093} */
  controllerPort?: number;
  /** Local mode: the address the broker binds to and advertises. @default {"127.0.0.1"} */
  host?: string;
  /**
   * EC2 mode (required there): the name advertised on the EXTERNAL listener, normally the instance's
   * public DNS name, or {@linkcode PUBLIC_DNS_PLACEHOLDER} for the user-data to substitute at boot.
   */
  advertisedHost?: string;
  /**
   * EC2 mode, and local secure mode without `security.interBrokerUser`: the INTERNAL listener's
   * port (inter-broker traffic, tools on the host). @default {9094}
   */
  internalPort?: number;
  /**
   * EC2 mode: the name advertised on the INTERNAL listener. `localhost` suits a single node; pass the
   * private IP (or a placeholder the user-data fills in) for clients inside the VPC. @default {"localhost"}
   */
  internalHost?: string;
  /** Partitions of topics created without an explicit count. @default {3} */
  partitions?: number;
  /** This node's `node.id`. @default {1} */
  nodeId?: number;
  /**
   * Local mode: every controller of the cluster (static quorum), this node included with
   * `host` and `controllerPort`. More than one voter makes a multi-node cluster in combined mode,
   * replicated as {@linkcode replicationForBrokers} says for that many nodes.
   * @default {[{ id: nodeId, host, port: controllerPort }]} (a single node)
   */
  voters?: readonly QuorumVoter[];
  /**
   * Secure setup (see {@linkcode BrokerSecurityOptions}): the client listener (local) or EXTERNAL
   * listener (ec2) becomes `SASL_SSL` with SCRAM-SHA-512, an authorizer denies everything not
   * granted by an ACL, and the PLAINTEXT listeners left (controller, ec2 INTERNAL) bind to
   * `127.0.0.1` only. Without it the broker is open (PLAINTEXT, no authentication).
   */
  security?: BrokerSecurityOptions;
}

/** The SASL mechanism of the secure setup: the strongest SCRAM Kafka and Amazon MSK offer. */
export const SCRAM_MECHANISM = "SCRAM-SHA-512";

/** The authorizer of the secure setup: KRaft's own, ACLs kept in the metadata log. */
export const STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

/**
 * One SCRAM user: a name and password, created in the metadata at format time by
 * {@linkcode scramFormatArgs}.
 *
 * Both must be plain tokens (letters, digits, `.`, `_`, `~`, `-`; the password at least 8 long) or
 * a placeholder such as `${ADMIN_PASSWORD}` that a boot script substitutes: that keeps them safe
 * in `server.properties`, in Kafka's `[name=…,password=…]` syntax and inside single or double
 * shell quotes.
 */
export interface ScramCredential {
  /** The user name; its Kafka principal is `User:<name>`. */
  name: string;
  /** The password. */
  password: string;
}

/**
 * The TLS and SASL side of a secure broker ({@linkcode BrokerConfigOptions.security}).
 *
 * Passwords may be placeholders such as `${KEYSTORE_PASSWORD}` (see {@linkcode ScramCredential})
 * that a boot script substitutes in the rendered file.
 */
export interface BrokerSecurityOptions {
  /** The broker's key and certificate (its SAN must name the advertised host): `ssl.keystore.location`. */
  keystorePath: string;
  /** `ssl.keystore.password` (also `ssl.key.password` unless `keyPassword` is given). */
  keystorePassword: string;
  /** `ssl.key.password`. @default {keystorePassword} */
  keyPassword?: string;
  /** `ssl.keystore.type` (and the truststore's). @default {"PKCS12"} */
  keystoreType?: "PKCS12" | "JKS";
  /**
   * The CA the broker trusts when it is a TLS client itself (inter-broker traffic over SASL_SSL):
   * `ssl.truststore.location`. Required when {@linkcode interBrokerUser} is set.
   */
  truststorePath?: string;
  /** `ssl.truststore.password`. @default {keystorePassword} */
  truststorePassword?: string;
  /**
   * SCRAM user names allowed everything (`super.users`), e.g. `["admin"]`. `User:ANONYMOUS` is
   * always added: it is who the broker is on its own loopback PLAINTEXT listeners (the controller,
   * the ec2 INTERNAL one), where no authentication exists, and it must be allowed to register
   * itself with the controller. Those listeners bind to `127.0.0.1`, so only processes on the
   * host itself get that far.
   */
  superUsers: readonly string[];
  /**
   * Local mode only: inter-broker traffic goes over the SASL_SSL listener as this user (who must be
   * in `superUsers` and be created by {@linkcode scramFormatArgs}), so the broker offers no
   * PLAINTEXT client listener at all. Without it (and always in ec2 mode) inter-broker traffic uses
   * a PLAINTEXT listener on `127.0.0.1:internalPort`.
   */
  interBrokerUser?: ScramCredential;
}

/** Raised for a broker option that cannot produce a working configuration. */
export class BrokerConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "BrokerConfigError";
  }
}

const HOST_PATTERN =
  /^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const PLACEHOLDER_PATTERN = /^\$\{[A-Z_][A-Z0-9_]*\}$/;

function checkPort(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) {
    throw new BrokerConfigError(`${name} must be a port number from 1 to 65535, got ${value}.`);
  }
  return value;
}

function checkHost(name: string, value: string, allowPlaceholder: boolean): string {
  const ok = HOST_PATTERN.test(value) || /^\d{1,3}(\.\d{1,3}){3}$/.test(value) ||
    (allowPlaceholder && PLACEHOLDER_PATTERN.test(value));
  if (!ok) {
    const also = allowPlaceholder ? ` or a placeholder such as ${PUBLIC_DNS_PLACEHOLDER}` : "";
    throw new BrokerConfigError(
      `${name} "${value}" is not a host name or IPv4 address${also}.`,
    );
  }
  return value;
}

/**
 * Renders a KRaft `server.properties` for Kafka {@linkcode KAFKA_VERSION}: a single node, or
 * (local mode, several `voters`) one node of a combined-mode cluster.
 *
 * @example Local broker
 * ```ts
 * import { renderServerProperties } from "./broker_config.ts";
 * const text = renderServerProperties({ mode: "local", dataDir: "/abs/.cache/kafka/data" });
 * // listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093 …
 * ```
 * @example EC2 broker, public DNS filled in by the user-data at boot
 * ```ts
 * import { PUBLIC_DNS_PLACEHOLDER, renderServerProperties } from "./broker_config.ts";
 * const text = renderServerProperties({
 *   mode: "ec2",
 *   dataDir: "/var/lib/kafka",
 *   advertisedHost: PUBLIC_DNS_PLACEHOLDER,
 * });
 * // advertised.listeners=INTERNAL://localhost:9094,EXTERNAL://${PUBLIC_DNS}:9092
 * ```
 * @example Node 2 of a local 3-node cluster
 * ```ts
 * import { renderServerProperties } from "./broker_config.ts";
 * const voters = [1, 2, 3].map((id) => ({ id, host: "127.0.0.1", port: 9191 + id }));
 * const text = renderServerProperties({
 *   mode: "local",
 *   dataDir: "/abs/.cache/kafka/node-2/data",
 *   nodeId: 2,
 *   port: 9093,
 *   controllerPort: 9193,
 *   voters,
 * });
 * // controller.quorum.voters=1@127.0.0.1:9192,2@127.0.0.1:9193,3@127.0.0.1:9194 …
 * // min.insync.replicas=2
 * ```
 * @example Secure EC2 broker: SASL_SSL outside, loopback PLAINTEXT inside
 * ```ts
 * import { PUBLIC_DNS_PLACEHOLDER, renderServerProperties } from "./broker_config.ts";
 * const text = renderServerProperties({
 *   mode: "ec2",
 *   dataDir: "/var/lib/kafka",
 *   advertisedHost: PUBLIC_DNS_PLACEHOLDER,
 *   security: {
 *     keystorePath: "/etc/kafka/tls/broker.p12",
 *     keystorePassword: "${KEYSTORE_PASSWORD}",
 *     superUsers: ["admin"],
 *   },
 * });
 * // listeners=INTERNAL://127.0.0.1:9094,EXTERNAL://0.0.0.0:9092,CONTROLLER://127.0.0.1:9093
 * // listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL
 * ```
 * @example Secure local broker: no PLAINTEXT client listener at all
 * ```ts
 * import { renderServerProperties } from "./broker_config.ts";
 * const text = renderServerProperties({
 *   mode: "local",
 *   dataDir: "/abs/.cache/kafka/data",
 *   security: {
 *     keystorePath: "/abs/.cache/kafka/tls/broker.p12",
 *     keystorePassword: "changeit-0123",
 *     truststorePath: "/abs/.cache/kafka/tls/truststore.p12",
 *     superUsers: ["admin"],
 *     interBrokerUser: { name: "admin", password: "admin-secret-0123" },
 *   },
 * });
 * // listeners=SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093
 * ```
 * @throws {BrokerConfigError} for a bad port, host, node id, voter list, partition count or data
 * folder, EC2 mode without `advertisedHost` or with several voters, or (secure) a non-loopback
 * PLAINTEXT listener, a missing or malformed store path, password or super user.
 */
export function renderServerProperties(options: BrokerConfigOptions): string {
  const mode = options.mode;
  if (mode !== "local" && mode !== "ec2") {
    throw new BrokerConfigError(`mode must be "local" or "ec2", got "${mode}".`);
  }
  const common = checkCommon(options);
  const { voterCount, listenerLines } = mode === "local"
    ? localListeners(options, common)
    : ec2Listeners(options, common);
  return renderLines(mode, common, voterCount, listenerLines);
}

/** The checked settings both modes share. */
interface CommonSettings {
  port: number;
  controllerPort: number;
  partitions: number;
  dataDir: string;
  nodeId: number;
}

function checkCommon(options: BrokerConfigOptions): CommonSettings {
  const port = checkPort("port", options.port ?? 9092);
  const controllerPort = checkPort("controllerPort", options.controllerPort ?? 9093);
  const partitions = options.partitions ?? 3;
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new BrokerConfigError(
      `partitions must be a whole number of at least 1, got ${partitions}.`,
    );
  }
  const dataDir = options.dataDir;
  if (typeof dataDir !== "string" || dataDir.trim() === "" || /[\r\n,]/.test(dataDir)) {
    throw new BrokerConfigError(
      `dataDir must be a folder path without commas or line breaks, got "${dataDir}".`,
    );
  }
  const nodeId = options.nodeId ?? 1;
  if (!Number.isInteger(nodeId) || nodeId < 0) {
    throw new BrokerConfigError(`nodeId must be a whole number of at least 0, got ${nodeId}.`);
  }
  return { port, controllerPort, partitions, dataDir, nodeId };
}

/** Local: one PLAINTEXT (or SASL_SSL) listener on the host, a controller quorum of one or more nodes. */
function localListeners(
  options: BrokerConfigOptions,
  { port, controllerPort, nodeId }: CommonSettings,
): { voterCount: number; listenerLines: string[] } {
  const host = checkHost("host", options.host ?? "127.0.0.1", false);
  if (port === controllerPort) {
    throw new BrokerConfigError(`port and controllerPort must differ, both are ${port}.`);
  }
  const self = { id: nodeId, host, port: controllerPort };
  const voters = checkVoters(options.voters ?? [self], self, port);
  const quorum = `controller.quorum.voters=${
    voters.map((v) => `${v.id}@${v.host}:${v.port}`).join(",")
  }`;
  const security = options.security;
  if (security === undefined) {
    return {
      voterCount: voters.length,
      listenerLines: [
        quorum,
        `listeners=PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://${host}:${port}`,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
      ],
    };
  }
  for (const voter of voters) checkLoopback(`voter ${voter.id} host`, voter.host);
  const interBroker = security.interBrokerUser;
  if (interBroker !== undefined) {
    return {
      voterCount: voters.length,
      listenerLines: [
        quorum,
        `listeners=SASL_SSL://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
        `advertised.listeners=SASL_SSL://${host}:${port}`,
        "controller.listener.names=CONTROLLER",
        "# Inter-broker traffic authenticates like any client, over TLS.",
        "inter.broker.listener.name=SASL_SSL",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
        ...securityLines(security, "SASL_SSL", interBroker),
      ],
    };
  }
  if (voters.length > 1) {
    throw new BrokerConfigError(
      "A secure cluster of several nodes needs security.interBrokerUser: a loopback INTERNAL " +
        "listener cannot reach the other nodes.",
    );
  }
  const internalPort = checkPort("internalPort", options.internalPort ?? 9094);
  if (new Set([port, controllerPort, internalPort]).size !== 3) {
    throw new BrokerConfigError(
      `port, controllerPort and internalPort must all differ, got ${port}, ${controllerPort} and ${internalPort}.`,
    );
  }
  return {
    voterCount: 1,
    listenerLines: [
      quorum,
      `listeners=SASL_SSL://${host}:${port},INTERNAL://127.0.0.1:${internalPort},CONTROLLER://${host}:${controllerPort}`,
      `advertised.listeners=SASL_SSL://${host}:${port},INTERNAL://127.0.0.1:${internalPort}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=INTERNAL",
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL",
      ...securityLines(security, "SASL_SSL", undefined),
    ],
  };
}

/** EC2: an INTERNAL listener for the host itself and an EXTERNAL one advertised by public DNS. */
function ec2Listeners(
  options: BrokerConfigOptions,
  { port, controllerPort }: CommonSettings,
): { voterCount: number; listenerLines: string[] } {
  if (options.advertisedHost === undefined || options.advertisedHost.trim() === "") {
    throw new BrokerConfigError(
      `advertisedHost is required in ec2 mode: pass the instance's public DNS name or ${PUBLIC_DNS_PLACEHOLDER} for the user-data to fill in.`,
    );
  }
  if (options.voters !== undefined && options.voters.length > 1) {
    throw new BrokerConfigError(
      `ec2 mode renders a single-node broker; got ${options.voters.length} voters.`,
    );
  }
  const advertised = checkHost("advertisedHost", options.advertisedHost, true);
  const security = options.security;
  const internalHost = checkHost("internalHost", options.internalHost ?? "localhost", true);
  if (security !== undefined) checkLoopback("internalHost", internalHost);
  if (security?.interBrokerUser !== undefined) {
    throw new BrokerConfigError(
      "security.interBrokerUser is for local mode; on ec2 inter-broker traffic uses the loopback INTERNAL listener.",
    );
  }
  const internalPort = checkPort("internalPort", options.internalPort ?? 9094);
  if (new Set([port, controllerPort, internalPort]).size !== 3) {
    throw new BrokerConfigError(
      `port, controllerPort and internalPort must all differ, got ${port}, ${controllerPort} and ${internalPort}.`,
    );
  }
  if (security !== undefined) {
    return {
      voterCount: 1,
      listenerLines: [
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        "# Only EXTERNAL is reachable from outside; INTERNAL and CONTROLLER are loopback PLAINTEXT.",
        `listeners=INTERNAL://127.0.0.1:${internalPort},EXTERNAL://0.0.0.0:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=INTERNAL://${internalHost}:${internalPort},EXTERNAL://${advertised}:${port}`,
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=INTERNAL",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
        ...securityLines(security, "EXTERNAL", undefined),
      ],
    };
  }
  return {
    voterCount: 1,
    listenerLines: [
      `controller.quorum.voters=1@localhost:${controllerPort}`,
      `listeners=INTERNAL://0.0.0.0:${internalPort},EXTERNAL://0.0.0.0:${port},CONTROLLER://localhost:${controllerPort}`,
      `advertised.listeners=INTERNAL://${internalHost}:${internalPort},EXTERNAL://${advertised}:${port}`,
      "controller.listener.names=CONTROLLER",
      "inter.broker.listener.name=INTERNAL",
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
    ],
  };
}

const TOKEN_PATTERN = /^[A-Za-z0-9._~-]+$/;
const PATH_PATTERN = /^\/[A-Za-z0-9._~\/-]*$/;

function checkLoopback(name: string, host: string): void {
  if (host !== "localhost" && !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new BrokerConfigError(
      `${name} must be a loopback address (127.0.0.1 or localhost) in the secure setup, got ` +
        `"${host}": that listener is PLAINTEXT and unauthenticated.`,
    );
  }
}

function checkToken(name: string, value: string, minLength: number): string {
  const ok = typeof value === "string" &&
    ((TOKEN_PATTERN.test(value) && value.length >= minLength) || PLACEHOLDER_PATTERN.test(value));
  if (!ok) {
    throw new BrokerConfigError(
      `${name} must be at least ${minLength} of letters, digits, ".", "_", "~", "-" or a ` +
        `placeholder such as \${ADMIN_PASSWORD}; got ${
          typeof value === "string" ? `${value.length} characters` : typeof value
        } (value not shown).`,
    );
  }
  return value;
}

function checkUserName(name: string, value: string): string {
  if (typeof value !== "string" || !TOKEN_PATTERN.test(value)) {
    throw new BrokerConfigError(
      `${name} must be letters, digits, ".", "_", "~" or "-", got "${value}".`,
    );
  }
  return value;
}

function checkAbsolutePath(name: string, value: string | undefined): string {
  if (typeof value !== "string" || !(PATH_PATTERN.test(value) || PLACEHOLDER_PATTERN.test(value))) {
    throw new BrokerConfigError(
      `${name} must be an absolute path of letters, digits, ".", "_", "~", "-" and "/", got "${value}".`,
    );
  }
  return value;
}

/**
 * TLS, SCRAM and the authorizer for a secure broker whose client listener is `listener`; with
 * `interBroker`, the broker logs in to that listener as that user.
 */
function securityLines(
  security: BrokerSecurityOptions,
  listener: string,
  interBroker: ScramCredential | undefined,
): string[] {
  const type = security.keystoreType ?? "PKCS12";
  if (type !== "PKCS12" && type !== "JKS") {
    throw new BrokerConfigError(`keystoreType must be "PKCS12" or "JKS", got "${type}".`);
  }
  const keystore = checkAbsolutePath("security.keystorePath", security.keystorePath);
  const storePassword = checkToken("security.keystorePassword", security.keystorePassword, 8);
  const keyPassword = checkToken("security.keyPassword", security.keyPassword ?? storePassword, 8);
  if (!Array.isArray(security.superUsers) || security.superUsers.length === 0) {
    throw new BrokerConfigError(
      'security.superUsers must name at least one SCRAM user (e.g. ["admin"]), or nobody can create ACLs.',
    );
  }
  const superUsers = security.superUsers.map((name) =>
    checkUserName("security.superUsers entry", name)
  );
  const lines = [
    `# ${listener}: TLS, then SASL ${SCRAM_MECHANISM}; users are created at format time (kafka-storage.sh --add-scram).`,
    `sasl.enabled.mechanisms=${SCRAM_MECHANISM}`,
    `ssl.keystore.type=${type}`,
    `ssl.keystore.location=${keystore}`,
    `ssl.keystore.password=${storePassword}`,
    `ssl.key.password=${keyPassword}`,
    "ssl.client.auth=none",
    "ssl.enabled.protocols=TLSv1.3,TLSv1.2",
  ];
  const jaasKey =
    `listener.name.${listener.toLowerCase()}.${SCRAM_MECHANISM.toLowerCase()}.sasl.jaas.config`;
  const loginModule = "org.apache.kafka.common.security.scram.ScramLoginModule required";
  if (interBroker === undefined) {
    lines.push(`${jaasKey}=${loginModule};`);
  } else {
    const name = checkUserName("security.interBrokerUser.name", interBroker.name);
    const password = checkToken("security.interBrokerUser.password", interBroker.password, 8);
    if (!superUsers.includes(name)) {
      throw new BrokerConfigError(
        `security.interBrokerUser "${name}" must be one of security.superUsers (${
          superUsers.join(", ")
        }).`,
      );
    }
    // The broker is a TLS client of itself: it must trust its own CA.
    checkAbsolutePath("security.truststorePath", security.truststorePath);
    lines.push(
      `sasl.mechanism.inter.broker.protocol=${SCRAM_MECHANISM}`,
      `${jaasKey}=${loginModule} username="${name}" password="${password}";`,
    );
  }
  if (security.truststorePath !== undefined) {
    const truststore = checkAbsolutePath("security.truststorePath", security.truststorePath);
    const trustPassword = checkToken(
      "security.truststorePassword",
      security.truststorePassword ?? storePassword,
      8,
    );
    lines.push(
      `ssl.truststore.type=${type}`,
      `ssl.truststore.location=${truststore}`,
      `ssl.truststore.password=${trustPassword}`,
    );
  }
  lines.push(
    "# Nothing is allowed unless an ACL grants it. ANONYMOUS is the broker itself on its loopback",
    "# PLAINTEXT listeners (controller, internal), which only processes on this host can reach.",
    `authorizer.class.name=${STANDARD_AUTHORIZER}`,
    "allow.everyone.if.no.acl.found=false",
    `super.users=${[...superUsers, "ANONYMOUS"].map((name) => `User:${name}`).join(";")}`,
  );
  return lines;
}

/**
 * The `kafka-storage.sh format` arguments that create SCRAM-SHA-512 users in the new metadata log,
 * so they exist before the broker first starts (KRaft cannot add them any other way before a
 * broker runs). One `--add-scram` pair per user.
 *
 * Names and passwords are checked tokens or placeholders (see {@linkcode ScramCredential}), so the
 * result can be passed as an argument list, or joined into a shell line with each value in double
 * quotes (a `${NAME}` placeholder then expands from the environment).
 *
 * @example
 * ```ts
 * import { scramFormatArgs } from "./broker_config.ts";
 * scramFormatArgs([{ name: "admin", password: "s3cret-pass" }]);
 * // ["--add-scram", "SCRAM-SHA-512=[name=admin,password=s3cret-pass]"]
 * ```
 * @throws {BrokerConfigError} for no users, a repeated name, or a name or password outside the
 * allowed characters (the password is never shown in the message).
 */
export function scramFormatArgs(users: readonly ScramCredential[]): string[] {
  if (!Array.isArray(users) || users.length === 0) {
    throw new BrokerConfigError("scramFormatArgs needs at least one SCRAM user.");
  }
  const seen = new Set<string>();
  return users.flatMap((user) => {
    const name = checkUserName("SCRAM user name", user.name);
    if (seen.has(name)) throw new BrokerConfigError(`SCRAM user "${name}" is listed twice.`);
    seen.add(name);
    const password = checkToken(`password of SCRAM user "${name}"`, user.password, 8);
    return ["--add-scram", `${SCRAM_MECHANISM}=[name=${name},password=${password}]`];
  });
}

/** The file: identity, listeners, data folder, replication for the node count, retention. */
function renderLines(
  mode: "local" | "ec2",
  { partitions, dataDir, nodeId }: CommonSettings,
  voterCount: number,
  listenerLines: string[],
): string {
  const { replicationFactor, minInsyncReplicas } = replicationForBrokers(voterCount);
  const kind = voterCount === 1
    ? "single-node KRaft"
    : `${voterCount}-node KRaft cluster in combined mode, node ${nodeId}`;
  return [
    `# Apache Kafka ${KAFKA_VERSION}, ${kind} (${mode}). Rendered by lib/ops/broker_config.ts.`,
    "process.roles=broker,controller",
    `node.id=${nodeId}`,
    ...listenerLines,
    `log.dirs=${dataDir}`,
    voterCount === 1
      ? "# One node: every internal topic has one replica, or consumer groups never get a coordinator."
      : `# ${voterCount} nodes: ${replicationFactor} replicas of every topic (internal ones too); ` +
        `acks=all needs ${minInsyncReplicas} of them, so one broker may be down.`,
    `offsets.topic.replication.factor=${replicationFactor}`,
    `transaction.state.log.replication.factor=${replicationFactor}`,
    `transaction.state.log.min.isr=${minInsyncReplicas}`,
    `min.insync.replicas=${minInsyncReplicas}`,
    `default.replication.factor=${replicationFactor}`,
    "group.initial.rebalance.delay.ms=0",
    `num.partitions=${partitions}`,
    "# Topics are created up front by the pipeline (lib/kafka/admin.ts), never by a typo.",
    "auto.create.topics.enable=false",
    "# Keep a week or 1 GiB per partition, whichever comes first, in 256 MiB segments.",
    "log.retention.hours=168",
    "log.retention.bytes=1073741824",
    "log.segment.bytes=268435456",
    "log.retention.check.interval.ms=300000",
    "",
  ].join("\n");
}

/**
 * Checks a static quorum: whole-number ids without repeats, valid hosts and ports, no controller
 * port equal to this node's client port, and this node (`self`) among the voters exactly as its
 * own listener binds.
 */
function checkVoters(
  voters: readonly QuorumVoter[],
  self: QuorumVoter,
  clientPort: number,
): QuorumVoter[] {
  if (!Array.isArray(voters) || voters.length === 0) {
    throw new BrokerConfigError("voters must list at least one controller.");
  }
  const ids = new Set<number>();
  const addresses = new Set<string>();
  const checked = voters.map((voter) => {
    if (!Number.isInteger(voter.id) || voter.id < 0 || ids.has(voter.id)) {
      throw new BrokerConfigError(
        `voter ids must be distinct whole numbers of at least 0, got ${voter.id} in ${
          JSON.stringify(voters)
        }.`,
      );
    }
    ids.add(voter.id);
    const host = checkHost(`voter ${voter.id} host`, voter.host, false);
    const port = checkPort(`voter ${voter.id} port`, voter.port);
    if (addresses.has(`${host}:${port}`)) {
      throw new BrokerConfigError(`two voters share the address ${host}:${port}.`);
    }
    addresses.add(`${host}:${port}`);
    return { id: voter.id, host, port };
  });
  const own = checked.find((voter) => voter.id === self.id);
  if (own === undefined || own.host !== self.host || own.port !== self.port) {
    throw new BrokerConfigError(
      `voters must include this node as ${self.id}@${self.host}:${self.port} (its controller ` +
        `listener), got ${checked.map((v) => `${v.id}@${v.host}:${v.port}`).join(",")}.`,
    );
  }
  if (checked.some((voter) => voter.port === clientPort && voter.host === self.host)) {
    throw new BrokerConfigError(`a voter uses the client port ${clientPort} as controller port.`);
  }
  return checked;
}

/**
 * Parses Java properties text of the simple `key=value` kind this module writes: blank lines and
 * `#` comments are skipped. Useful for checking a rendered file.
 *
 * @throws {BrokerConfigError} for a line that is not `key=value`.
 */
export function parseProperties(text: string): Map<string, string> {
  const result = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith("!")) return;
    const at = line.indexOf("=");
    if (at <= 0) {
      throw new BrokerConfigError(`Line ${index + 1} is not key=value: "${line}".`);
    }
    result.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  });
  return result;
}

/**
 * Java heap per EC2 instance type, in MiB: about a third of the memory on the small types (the page
 * cache does the real work for Kafka), capped at 2 GiB. A t2.micro with the Kafka default of 1 GiB
 * heap is the classic out-of-memory kill.
 */
export const HEAP_MB_BY_INSTANCE_TYPE: Readonly<Record<string, number>> = {
  "t2.micro": 384,
  "t3.micro": 384,
  "t3a.micro": 384,
  "t4g.micro": 384,
  "t2.small": 768,
  "t3.small": 768,
  "t3a.small": 768,
  "t4g.small": 768,
  "t2.medium": 1024,
  "t3.medium": 1024,
  "t3a.medium": 1024,
  "t4g.medium": 1024,
  "t2.large": 2048,
  "t3.large": 2048,
  "t3a.large": 2048,
  "t4g.large": 2048,
  "t3.xlarge": 2048,
  "m5.large": 2048,
  "m5.xlarge": 2048,
  "m6i.large": 2048,
  "m6i.xlarge": 2048,
  "m7i.large": 2048,
  "c5.large": 2048,
  "r5.large": 2048,
};

/**
 * The broker heap for an EC2 instance type.
 *
 * @example
 * ```ts
 * import { heapForInstanceType } from "./broker_config.ts";
 * heapForInstanceType("t2.micro"); // { heapMb: 384 }
 * ```
 * @throws {BrokerConfigError} for a type that is too small or not in {@linkcode HEAP_MB_BY_INSTANCE_TYPE}.
 */
export function heapForInstanceType(type: string): { heapMb: number } {
  const key = String(type).trim().toLowerCase();
  const heapMb = HEAP_MB_BY_INSTANCE_TYPE[key];
  if (heapMb !== undefined) return { heapMb };
  const known = Object.keys(HEAP_MB_BY_INSTANCE_TYPE).join(", ");
  if (/\.nano$/.test(key)) {
    throw new BrokerConfigError(
      `Instance type "${type}" has 0.5 GiB of memory, too little for a Kafka broker: use t2.micro or larger (${known}).`,
    );
  }
  throw new BrokerConfigError(
    `Unknown instance type "${type}": use one of ${known}.`,
  );
}

/**
 * The `KAFKA_HEAP_OPTS` value for a heap size (fixed size: `-Xms` equals `-Xmx`).
 *
 * @example
 * ```ts
 * import { kafkaHeapOpts } from "./broker_config.ts";
 * kafkaHeapOpts(384); // "-Xms384m -Xmx384m"
 * ```
 * @throws {BrokerConfigError} for a heap below 128 MiB or not a whole number.
 */
export function kafkaHeapOpts(heapMb: number): string {
  if (!Number.isInteger(heapMb) || heapMb < 128) {
    throw new BrokerConfigError(`heapMb must be a whole number of at least 128, got ${heapMb}.`);
  }
  return `-Xms${heapMb}m -Xmx${heapMb}m`;
}

/** Where a tarball install of Kafka lives on the EC2 instance. */
export const EC2_KAFKA_HOME = "/opt/kafka";

/** Options of {@linkcode renderKafkaEnv}. */
export interface KafkaEnvOptions {
  /** Broker heap in MiB, e.g. from {@linkcode heapForInstanceType}. */
  heapMb: number;
  /** Where Kafka's scripts write their own log files (`LOG_DIR`). @default {"/opt/kafka/logs"} */
  logDir?: string;
}

/**
 * Renders the environment file the systemd unit reads (`EnvironmentFile=`), setting
 * `KAFKA_HEAP_OPTS` and `LOG_DIR` for `kafka-server-start.sh`.
 *
 * @example
 * ```ts
 * import { heapForInstanceType, renderKafkaEnv } from "./broker_config.ts";
 * renderKafkaEnv(heapForInstanceType("t2.micro"));
 * // KAFKA_HEAP_OPTS="-Xms384m -Xmx384m"\nLOG_DIR="/opt/kafka/logs"\n
 * ```
 */
export function renderKafkaEnv(options: KafkaEnvOptions): string {
  const logDir = options.logDir ?? `${EC2_KAFKA_HOME}/logs`;
  if (!logDir.startsWith("/") || /["\s]/.test(logDir)) {
    throw new BrokerConfigError(
      `logDir must be an absolute path without spaces or quotes, got "${logDir}".`,
    );
  }
  return `KAFKA_HEAP_OPTS="${kafkaHeapOpts(options.heapMb)}"\nLOG_DIR="${logDir}"\n`;
}

/** Options of {@linkcode renderSystemdUnit}. */
export interface SystemdUnitOptions {
  /** Where the Kafka tarball is unpacked. @default {"/opt/kafka"} */
  kafkaHome?: string;
  /** The rendered `server.properties`. @default {"/opt/kafka/config/kraft/server.properties"} */
  propertiesPath?: string;
  /** The file from {@linkcode renderKafkaEnv}. @default {"/etc/default/kafka"} */
  envFile?: string;
  /** The system user the broker runs as. @default {"kafka"} */
  user?: string;
}

/**
 * Renders the systemd unit (`/etc/systemd/system/kafka.service`) that runs the EC2 broker from a
 * Kafka {@linkcode KAFKA_VERSION} tarball install and restarts it if it fails.
 *
 * @example
 * ```ts
 * import { renderSystemdUnit } from "./broker_config.ts";
 * const unit = renderSystemdUnit({});
 * // ExecStart=/opt/kafka/bin/kafka-server-start.sh /opt/kafka/config/kraft/server.properties
 * ```
 */
export function renderSystemdUnit(options: SystemdUnitOptions = {}): string {
  const home = options.kafkaHome ?? EC2_KAFKA_HOME;
  const properties = options.propertiesPath ?? `${home}/config/kraft/server.properties`;
  const envFile = options.envFile ?? "/etc/default/kafka";
  const user = options.user ?? "kafka";
  for (
    const [name, path] of [["kafkaHome", home], ["propertiesPath", properties], [
      "envFile",
      envFile,
    ]]
  ) {
    if (!path.startsWith("/") || /\s/.test(path)) {
      throw new BrokerConfigError(
        `${name} must be an absolute path without spaces, got "${path}".`,
      );
    }
  }
  if (!/^[a-z_][a-z0-9_-]*$/.test(user)) {
    throw new BrokerConfigError(`user must be a system user name such as "kafka", got "${user}".`);
  }
  return [
    "[Unit]",
    `Description=Apache Kafka ${KAFKA_VERSION} broker (single-node KRaft)`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `User=${user}`,
    `EnvironmentFile=${envFile}`,
    `ExecStart=${home}/bin/kafka-server-start.sh ${properties}`,
    `ExecStop=${home}/bin/kafka-server-stop.sh`,
    "Restart=on-failure",
    "RestartSec=5",
    "TimeoutStopSec=60",
    "LimitNOFILE=100000",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
