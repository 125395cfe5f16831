/**
 * The EC2 user-data script: the bash program an Amazon Linux 2023 instance runs once, as root, at
 * first boot. It installs Java 17 and Kafka {@linkcode KAFKA_VERSION} (the download checked
 * against {@linkcode KAFKA_TARBALL_SHA512}, pinned here), and runs a secure single-node broker:
 *
 * - the EXTERNAL listener (the one the security group opens to your address) speaks `SASL_SSL`
 *   with SCRAM-SHA-512; its certificate is signed by a CA generated on the instance;
 * - the authorizer denies what no ACL grants; the `pipeline` user may produce and consume the
 *   pipeline's topics and groups, nothing else;
 * - the PLAINTEXT listeners (controller, INTERNAL) bind to 127.0.0.1;
 * - the CA certificate, user name and password go to SSM Parameter Store as `SecureString`s under
 *   `/stock-market-pipeline/<name>/kafka/`, where `deno task ec2 credentials` fetches them;
 * - the configuration, keys and secrets live in `/etc/kafka`, owned by root (the `kafka` user may
 *   read, never write), and the broker runs under a hardened systemd unit.
 *
 * The instance's public DNS name is not known when the script is rendered, and it changes when a
 * stopped instance starts again. So `server.properties` is kept as a template holding
 * {@linkcode PUBLIC_DNS_PLACEHOLDER}, and {@linkcode renderConfigScript} reads the name from the
 * instance metadata service (IMDSv2) before every start, re-issuing the broker certificate when
 * the name changed.
 *
 * @module
 */

import {
  EC2_KAFKA_HOME,
  heapForInstanceType,
  KAFKA_TARBALL_URL,
  KAFKA_VERSION,
  PUBLIC_DNS_PLACEHOLDER,
  renderKafkaEnv,
  renderServerProperties,
  renderSystemdUnit,
  scramFormatArgs,
} from "../broker_config.ts";
import { TOPIC_PATTERN, TOPIC_RULE } from "../../lake/layout.ts";
import { kafkaParameterPath, PIPELINE_KAFKA_USER } from "./ssm_parameters.ts";

/** The largest user-data EC2 accepts, in bytes (before base64). */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

/** Where the broker keeps its partitions on the instance. */
export const EC2_DATA_DIR = "/var/lib/kafka/data";

/** Where the user-data script logs what it did (read it over SSH or SSM when the broker is missing). */
export const USER_DATA_LOG = "/var/log/kafka-setup.log";

/** Where the configuration, TLS material and secrets live: root-owned, readable by `kafka`. */
export const EC2_ETC_DIR = "/etc/kafka";

/** Where Kafka's own log files go (`LOG_DIR`): the one folder besides the data the broker writes. */
export const EC2_LOG_DIR = "/var/log/kafka";

/** The script that fills in the public DNS name (and renews the certificate) before each start. */
export const RENDER_CONFIG_PATH = "/usr/local/bin/kafka-render-config";

/**
 * The SHA-512 of `kafka_2.13-3.9.1.tgz` as Apache publishes it next to the release
 * (https://archive.apache.org/dist/kafka/3.9.1/kafka_2.13-3.9.1.tgz.sha512), lower-case hex.
 * The user data refuses a download that does not match; it never fetches the checksum itself.
 *
 * Provenance: apache.org is unreachable from the machines this project is built on, so the value
 * was taken from two independent public install scripts that check their `archive.apache.org`
 * download of this exact file against it (`sha512sum`), and it must be re-checked against the
 * `.sha512` above when `KAFKA_VERSION` changes. `--kafka-sha512` overrides it.
 */
export const KAFKA_TARBALL_SHA512 =
  "1ea204ba73411737a275429ca976d440f007ff0957b90b19be41dc5a4bae52617267769be9f0b5791714d0b3c4c760605bd426faea39edd90763585523fa2cfe";

/** What is wrong, and what to do, when no SHA-512 of the Kafka tarball is known. */
export const UNPINNED_KAFKA =
  `No SHA-512 is pinned for Kafka ${KAFKA_VERSION}: pass --kafka-sha512 with the value published at ${KAFKA_TARBALL_URL}.sha512 (or pin it in KAFKA_TARBALL_SHA512, lib/ops/aws/user_data.ts).`;

/** The SCRAM user with every right (`super.users`); no password exists for it, so nobody logs in as it. */
const ADMIN_USER = "admin";

/** Options of {@linkcode renderUserData}. */
export interface UserDataOptions {
  /** EC2 instance type; sets the broker heap through `heapForInstanceType`. @default {"t3.small"} */
  instanceType?: string;
  /** Topics to create once the broker is up. @default {["stock_market", "stock_market.dlq"]} */
  topics?: string[];
  /** Partitions of each topic (and `num.partitions`). @default {3} */
  partitions?: number;
  /** The EXTERNAL client port, advertised under the public DNS name. @default {9092} */
  port?: number;
  /** The INTERNAL port (127.0.0.1) used by tools on the instance. @default {9094} */
  internalPort?: number;
  /**
   * Swap file size in MiB, a safety net against the kernel's out-of-memory killer. 0 for none.
   * @default {1024 on instance types with 1 GiB of memory or less (heap ≤ 384 MiB), else 0}
   */
  swapMb?: number;
  /** The deployment's name: its parameters go under `/stock-market-pipeline/<name>/kafka/`. @default {"stock-market-kafka"} */
  name?: string;
  /** The SCRAM user the pipeline logs in as; ACLs are granted to it. @default {"pipeline"} */
  pipelineUser?: string;
  /**
   * Consumer groups the pipeline user may use: every group starting with one of these (the lake
   * sink's and the notebooks' `stock_market…`, `deno task tail`'s throwaway `tail-…`).
   * @default {["stock_market", "tail-"]}
   */
  groupPrefixes?: string[];
  /** The Kafka tarball's SHA-512 (128 hex digits). @default {KAFKA_TARBALL_SHA512} */
  kafkaSha512?: string;
  /**
   * Render even when no SHA-512 is known: the script then stops before downloading Kafka, saying
   * why (for showing a plan; `applyEc2` refuses such a script). @default {false}
   */
  allowUnpinned?: boolean;
}

/** Raised for a user-data option that cannot produce a working script. */
export class UserDataError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "UserDataError";
  }
}

/** Quotes a value for bash: single quotes, with embedded single quotes escaped. */
function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}

/** A quoted heredoc writing `content` to `path`; the marker must not occur as a line of the content. */
function writeFile(path: string, content: string, marker: string): string {
  if (content.split("\n").includes(marker)) {
    throw new UserDataError(`The content of ${path} contains the heredoc marker ${marker}.`);
  }
  const body = content.endsWith("\n") ? content : `${content}\n`;
  return `cat > ${path} <<'${marker}'\n${body}${marker}`;
}

/**
 * The script installed as {@linkcode RENDER_CONFIG_PATH}, run as root before every broker start:
 * reads the public DNS name through IMDSv2, (re-)issues the broker's certificate for that name
 * from the CA in `<etcDir>/tls` when it does not match, and writes `<etcDir>/server.properties`
 * from its template with the name and the keystore password filled in. Everything it writes is
 * in `etcDir`, which only root may write.
 */
export function renderConfigScript(etcDir = EC2_ETC_DIR): string {
  const q = shellQuote;
  return `#!/bin/bash
# Fills the instance's public DNS name into the Kafka config before each start (it changes when a
# stopped instance starts again) and renews the broker certificate for it. Rendered by
# lib/ops/aws/user_data.ts. Runs as root; writes only under ${etcDir}.
set -euo pipefail
umask 027
ETC=${q(etcDir)}
# IMDS_ENDPOINT is for tests; on EC2 the metadata service is always at 169.254.169.254.
IMDS=\${IMDS_ENDPOINT:-http://169.254.169.254}/latest
TOKEN=$(curl -fsS --retry 10 --retry-connrefused -X PUT "$IMDS/api/token" \\
  -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
PUBLIC_DNS=$(curl -fsS --retry 5 -H "X-aws-ec2-metadata-token: $TOKEN" \\
  "$IMDS/meta-data/public-hostname") || PUBLIC_DNS=""
if [[ ! $PUBLIC_DNS =~ ^[A-Za-z0-9.-]+$ ]]; then
  echo "kafka-render-config: this instance has no public DNS name, so clients outside AWS cannot" >&2
  echo "reach the broker. Launch it in a subnet that assigns public IPs, in a VPC with DNS" >&2
  echo "hostnames enabled (the default VPC has both)." >&2
  exit 1
fi
# shellcheck disable=SC1091
source "$ETC/secrets.env"
TLS="$ETC/tls"
if ! openssl x509 -in "$TLS/broker.pem" -noout -checkhost "$PUBLIC_DNS" 2>/dev/null | grep -q 'does match'; then
  echo "kafka-render-config: issuing the broker certificate for $PUBLIC_DNS"
  openssl req -new -newkey rsa:3072 -nodes -keyout "$TLS/broker.key" -out "$TLS/broker.csr" \\
    -subj "/CN=$PUBLIC_DNS" 2>/dev/null
  openssl x509 -req -in "$TLS/broker.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \\
    -days 825 -sha256 -out "$TLS/broker.pem" 2>/dev/null \\
    -extfile <(printf 'subjectAltName=DNS:%s\\nextendedKeyUsage=serverAuth\\n' "$PUBLIC_DNS")
  KEYSTORE_PASSWORD="$KEYSTORE_PASSWORD" openssl pkcs12 -export -in "$TLS/broker.pem" -inkey "$TLS/broker.key" -certfile "$TLS/ca.pem" \\
    -name broker -out "$TLS/broker.p12.tmp" -passout env:KEYSTORE_PASSWORD
  mv "$TLS/broker.p12.tmp" "$TLS/broker.p12"
  rm -f "$TLS/broker.csr"
fi
TEMPLATE=$(<"$ETC/server.properties.template")
# The placeholders are matched literally, hence the single quotes.
# shellcheck disable=SC2016
TEMPLATE=\${TEMPLATE//'${PUBLIC_DNS_PLACEHOLDER}'/$PUBLIC_DNS}
# shellcheck disable=SC2016
printf '%s\\n' "\${TEMPLATE//'\${KEYSTORE_PASSWORD}'/$KEYSTORE_PASSWORD}" > "$ETC/server.properties.tmp"
mv "$ETC/server.properties.tmp" "$ETC/server.properties"
if getent group kafka >/dev/null; then
  chgrp kafka "$ETC/server.properties" "$TLS/broker.p12"
fi
chmod 640 "$ETC/server.properties" "$TLS/broker.p12"
echo "kafka-render-config: advertising EXTERNAL://$PUBLIC_DNS (SASL_SSL)"
`;
}

/**
 * Renders the user-data bash script for an Amazon Linux 2023 instance.
 *
 * @example
 * ```ts
 * import { renderUserData } from "./user_data.ts";
 * const script = renderUserData({ instanceType: "t2.micro", kafkaSha512: "ab".repeat(64) });
 * script.startsWith("#!/bin/bash"); // true
 * ```
 * @throws {UserDataError} for a bad topic name, swap size, name or checksum, or a script over 16 KiB.
 * @throws {BrokerConfigError} (from broker_config.ts) for a bad port, partition count or instance type.
 */
export function renderUserData(options: UserDataOptions = {}): string {
  const settings = userDataSettings(options);
  const script = [
    userDataPreamble(settings),
    swapSection(settings),
    installKafkaSection(settings),
    credentialsSection(settings),
    brokerFilesSection(settings),
    startBrokerSection(settings),
    topicsAndAclsSection(settings),
    publishCredentialsSection(settings),
  ].join("\n");
  const size = new TextEncoder().encode(script).length;
  if (size > USER_DATA_LIMIT_BYTES) {
    throw new UserDataError(
      `The user-data script is ${size} bytes, over EC2's limit of ${USER_DATA_LIMIT_BYTES}: create fewer topics.`,
    );
  }
  return script;
}

/** {@linkcode UserDataOptions} with their defaults, checked. */
interface UserDataSettings {
  instanceType: string;
  heapMb: number;
  topics: string[];
  partitions: number;
  internalPort: number;
  port: number;
  swapMb: number;
  name: string;
  pipelineUser: string;
  groupPrefixes: string[];
  /** Undefined only with `allowUnpinned`. */
  sha512: string | undefined;
}

function userDataSettings(options: UserDataOptions): UserDataSettings {
  const instanceType = options.instanceType ?? "t3.small";
  const { heapMb } = heapForInstanceType(instanceType);
  const topics = options.topics ?? ["stock_market", "stock_market.dlq"];
  const swapMb = options.swapMb ?? (heapMb <= 384 ? 1024 : 0);
  if (topics.length === 0) {
    throw new UserDataError("topics is empty: pass at least one topic, e.g. stock_market.");
  }
  for (const topic of topics) {
    if (!TOPIC_PATTERN.test(topic)) {
      throw new UserDataError(`Topic "${topic}" is not valid: use ${TOPIC_RULE}.`);
    }
  }
  if (!Number.isInteger(swapMb) || swapMb < 0 || swapMb > 16384) {
    throw new UserDataError(`swapMb must be a whole number from 0 to 16384, got ${swapMb}.`);
  }
  const given = (options.kafkaSha512 ?? KAFKA_TARBALL_SHA512).trim().toLowerCase();
  if (given === "" && !options.allowUnpinned) throw new UserDataError(UNPINNED_KAFKA);
  if (given !== "" && !/^[0-9a-f]{128}$/.test(given)) {
    throw new UserDataError(
      `The Kafka SHA-512 must be 128 hex digits (as in ${KAFKA_TARBALL_URL}.sha512, spaces removed), got ${given.length} characters.`,
    );
  }
  const sha512 = given === "" ? undefined : given;
  const name = options.name ?? "stock-market-kafka";
  const pipelineUser = options.pipelineUser ?? PIPELINE_KAFKA_USER;
  const groupPrefixes = options.groupPrefixes ?? ["stock_market", "tail-"];
  const names = [
    ["name", name],
    ["pipelineUser", pipelineUser],
    ...groupPrefixes.map((prefix) => ["groupPrefixes entry", prefix]),
  ];
  for (const [what, value] of names) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(value)) {
      throw new UserDataError(
        `${what} "${value}" must be up to 63 letters, digits, '.', '_' or '-'.`,
      );
    }
  }
  return {
    instanceType,
    heapMb,
    topics,
    partitions: options.partitions ?? 3,
    internalPort: options.internalPort ?? 9094,
    port: options.port ?? 9092,
    swapMb,
    name,
    pipelineUser,
    groupPrefixes,
    sha512,
  };
}

/**
 * The broker unit's memory cap: the heap twice over (direct buffers, metaspace, threads) plus
 * 256 MiB, so a leak ends in a restart of the broker, not in the kernel killing something else.
 */
export function brokerMemoryMaxMb(heapMb: number): number {
  return heapMb * 2 + 256;
}

/** Shebang, what rendered it, the log, and the variables the later sections use. */
function userDataPreamble({ instanceType, heapMb, name }: UserDataSettings): string {
  return `#!/bin/bash
# Apache Kafka ${KAFKA_VERSION} (single-node KRaft, SASL_SSL + SCRAM-SHA-512, ACLs) for the stock market
# pipeline, on Amazon Linux 2023. Rendered by lib/ops/aws/user_data.ts for ${instanceType} (broker heap
# ${heapMb} MiB). Runs once, as root, at first boot. Progress and errors: ${USER_DATA_LOG}
set -euo pipefail
umask 027
exec > >(tee -a ${USER_DATA_LOG}) 2>&1
echo "kafka-setup: starting at $(date -u +%FT%TZ)"

KAFKA_HOME=${EC2_KAFKA_HOME}
KAFKA_URL=${shellQuote(KAFKA_TARBALL_URL)}
DATA_DIR=${EC2_DATA_DIR}
ETC=${EC2_ETC_DIR}
PARAMS=${shellQuote(kafkaParameterPath(name))}
# Kafka's own tools get a small heap so they fit next to the broker.
export KAFKA_HEAP_OPTS="-Xmx128m"
`;
}

/** A swap file on small instances, so the OOM killer leaves the broker alone. */
function swapSection({ instanceType, swapMb }: UserDataSettings): string {
  if (swapMb === 0) return "# No swap file: this instance type has memory to spare.\n";
  return `# ${instanceType} has little memory: a swap file keeps the OOM killer off the broker.
if [ ! -f /swapfile ]; then
  dd if=/dev/zero of=/swapfile bs=1M count=${swapMb} status=none
  chmod 600 /swapfile
  mkswap /swapfile
  swapon /swapfile
  echo '/swapfile none swap sw 0 0' >> /etc/fstab
fi
`;
}

/** Java, OpenSSL, the AWS CLI, the kafka user, and the tarball, checked against the pinned SHA-512. */
function installKafkaSection({ sha512 }: UserDataSettings): string {
  if (sha512 === undefined) {
    return `echo ${shellQuote(`kafka-setup: ${UNPINNED_KAFKA}`)} >&2
exit 1
`;
  }
  return `echo "kafka-setup: installing Java 17, OpenSSL and the AWS CLI"
dnf install -y java-17-amazon-corretto-headless tar gzip openssl awscli-2

id -u kafka >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin kafka

echo "kafka-setup: downloading $KAFKA_URL"
curl -fsSL --retry 5 -o /tmp/kafka.tgz "$KAFKA_URL"
# The SHA-512 is pinned in lib/ops/aws/user_data.ts, never read from beside the download.
if ! echo "${sha512}  /tmp/kafka.tgz" | sha512sum --check --status; then
  echo "kafka-setup: /tmp/kafka.tgz does not match the pinned SHA-512; not installing." >&2
  exit 1
fi
# Root owns the installation; the broker writes only its data and log folders.
mkdir -p "$KAFKA_HOME" "$DATA_DIR" ${EC2_LOG_DIR}
tar -xzf /tmp/kafka.tgz -C "$KAFKA_HOME" --strip-components=1 --no-same-owner
chown -R root:root "$KAFKA_HOME"
chmod -R go-w "$KAFKA_HOME"
chown kafka:kafka "$DATA_DIR" ${EC2_LOG_DIR}
chmod 750 "$DATA_DIR" ${EC2_LOG_DIR}
rm -f /tmp/kafka.tgz
`;
}

/** The CA (generated here, its key never leaves the instance) and the random passwords. */
function credentialsSection(_: UserDataSettings): string {
  return `echo "kafka-setup: generating the CA and the passwords"
install -d -o root -g kafka -m 750 "$ETC"
install -d -o root -g root -m 700 "$ETC/tls"
if [ ! -f "$ETC/secrets.env" ]; then
  ( umask 077
    printf 'KEYSTORE_PASSWORD=%s\\nPIPELINE_PASSWORD=%s\\n' "$(openssl rand -hex 24)" "$(openssl rand -hex 24)" > "$ETC/secrets.env" )
fi
if [ ! -f "$ETC/tls/ca.pem" ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -sha256 -days 3650 -keyout "$ETC/tls/ca.key" \\
    -out "$ETC/tls/ca.pem" -subj "/CN=stock-market-pipeline Kafka CA $(hostname)" \\
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi
chmod 600 "$ETC/tls/ca.key"
chmod 644 "$ETC/tls/ca.pem"
# The broker (group kafka) must reach its keystore inside the otherwise root-only folder.
chgrp kafka "$ETC/tls"
chmod 710 "$ETC/tls"
`;
}

/** The config template, the script that renders it at each start, the env file, the hardened unit. */
function brokerFilesSection(
  { heapMb, port, internalPort, partitions }: UserDataSettings,
): string {
  const template = renderServerProperties({
    mode: "ec2",
    dataDir: EC2_DATA_DIR,
    advertisedHost: PUBLIC_DNS_PLACEHOLDER,
    internalHost: "127.0.0.1",
    port,
    internalPort,
    partitions,
    security: {
      keystorePath: `${EC2_ETC_DIR}/tls/broker.p12`,
      keystorePassword: "${KEYSTORE_PASSWORD}",
      superUsers: [ADMIN_USER],
    },
  });
  const unit = renderSystemdUnit({ propertiesPath: `${EC2_ETC_DIR}/server.properties` });
  const hardening = [
    "[Service]",
    '# "+": runs as root, before the broker starts as the kafka user.',
    `ExecStartPre=+${RENDER_CONFIG_PATH}`,
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=yes",
    "PrivateTmp=yes",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictSUIDSGID=yes",
    `ReadWritePaths=${EC2_DATA_DIR} ${EC2_LOG_DIR}`,
    `MemoryMax=${brokerMemoryMaxMb(heapMb)}M`,
    "",
  ].join("\n");
  return `# server.properties from lib/ops/broker_config.ts; the placeholders are filled in at each start.
${writeFile("$ETC/server.properties.template", template, "KAFKA_PROPERTIES_EOF")}
chmod 640 "$ETC/server.properties.template"
${writeFile(RENDER_CONFIG_PATH, renderConfigScript(), "RENDER_CONFIG_EOF")}
chmod 755 ${RENDER_CONFIG_PATH}
${writeFile("/etc/default/kafka", renderKafkaEnv({ heapMb, logDir: EC2_LOG_DIR }), "KAFKA_ENV_EOF")}
chmod 644 /etc/default/kafka
${writeFile("/etc/systemd/system/kafka.service", unit, "KAFKA_UNIT_EOF")}
mkdir -p /etc/systemd/system/kafka.service.d
${writeFile("/etc/systemd/system/kafka.service.d/hardening.conf", hardening, "DROP_IN_EOF")}
chmod 644 /etc/systemd/system/kafka.service /etc/systemd/system/kafka.service.d/hardening.conf
`;
}

/** Formats the KRaft storage with the SCRAM user, starts the service, waits up to 5 minutes. */
function startBrokerSection({ internalPort, pipelineUser }: UserDataSettings): string {
  const scram = scramFormatArgs([{ name: pipelineUser, password: "${PIPELINE_PASSWORD}" }])
    .map((arg) => `"${arg}"`).join(" ");
  return `echo "kafka-setup: formatting the KRaft storage with SCRAM user ${pipelineUser}"
${RENDER_CONFIG_PATH}
# shellcheck disable=SC1091
source "$ETC/secrets.env"
CLUSTER_ID=$("$KAFKA_HOME/bin/kafka-storage.sh" random-uuid)
runuser -u kafka -- env LOG_DIR=${EC2_LOG_DIR} KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS" \\
  "$KAFKA_HOME/bin/kafka-storage.sh" format -t "$CLUSTER_ID" -c "$ETC/server.properties" \\
  --ignore-formatted ${scram}

echo "kafka-setup: starting the broker"
systemctl daemon-reload
systemctl enable --now kafka.service

READY=0
for _ in $(seq 1 60); do
  if "$KAFKA_HOME/bin/kafka-topics.sh" --bootstrap-server "127.0.0.1:${internalPort}" --list >/dev/null 2>&1; then
    READY=1
    break
  fi
  sleep 5
done
if [ "$READY" != 1 ]; then
  echo "kafka-setup: the broker did not come up in 5 minutes; see: journalctl -u kafka" >&2
  exit 1
fi
`;
}

/**
 * The pipeline's topics (idempotent) and the ACLs of the pipeline user, over the loopback INTERNAL
 * listener (only processes on the instance reach it).
 */
export function topicsAndAclsSection(
  { topics, internalPort, partitions, pipelineUser, groupPrefixes }: Pick<
    UserDataSettings,
    "topics" | "internalPort" | "partitions" | "pipelineUser" | "groupPrefixes"
  >,
): string {
  const bootstrap = `--bootstrap-server "127.0.0.1:${internalPort}"`;
  const createTopics = topics.map((topic) =>
    `"$KAFKA_HOME/bin/kafka-topics.sh" ${bootstrap} --create \\
  --if-not-exists --topic ${shellQuote(topic)} --partitions ${partitions} --replication-factor 1`
  ).join("\n");
  const acl =
    `"$KAFKA_HOME/bin/kafka-acls.sh" ${bootstrap} --add --allow-principal User:${pipelineUser}`;
  const topicAcls = topics.map((topic) =>
    `${acl} \\
  --operation Describe --operation Read --operation Write --operation Create --operation DescribeConfigs \\
  --topic ${shellQuote(topic)}`
  ).join("\n");
  const groupAcls = groupPrefixes.map((prefix) =>
    `${acl} \\
  --operation Describe --operation Read --operation Delete \\
  --group ${shellQuote(prefix)} --resource-pattern-type prefixed`
  ).join("\n");
  return `echo "kafka-setup: creating topics"
${createTopics}

echo "kafka-setup: granting User:${pipelineUser} its topics, its groups and the cluster's metadata"
${topicAcls}
${groupAcls}
${acl} \\
  --operation Describe --operation IdempotentWrite --cluster
`;
}

/** Puts the CA, user and password into Parameter Store (SecureString) for `deno task ec2 credentials`. */
function publishCredentialsSection({ pipelineUser }: UserDataSettings): string {
  return `echo "kafka-setup: storing the client settings in SSM Parameter Store under $PARAMS"
IMDS=http://169.254.169.254/latest
TOKEN=$(curl -fsS -X PUT "$IMDS/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
REGION=$(curl -fsS -H "X-aws-ec2-metadata-token: $TOKEN" "$IMDS/meta-data/placement/region")
PASSWORD_FILE=$(mktemp)
printf '%s' "$PIPELINE_PASSWORD" > "$PASSWORD_FILE"
put() {
  aws ssm put-parameter --region "$REGION" --type SecureString --overwrite \\
    --name "$PARAMS/$1" --value "$2" >/dev/null
}
if ! { put ca.pem "file://$ETC/tls/ca.pem" && put username ${shellQuote(pipelineUser)} &&
  put password "file://$PASSWORD_FILE"; }; then
  rm -f "$PASSWORD_FILE"
  echo "kafka-setup: could not store the client settings: the instance role needs" >&2
  echo "ssm:PutParameter on $PARAMS/* (the producer-host policy of deno task iam)." >&2
  exit 1
fi
rm -f "$PASSWORD_FILE"

echo "kafka-setup: done at $(date -u +%FT%TZ); $(grep '^advertised.listeners=' "$ETC/server.properties")"
`;
}
