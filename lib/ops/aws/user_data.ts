/**
 * The EC2 user-data script: the bash program an Amazon Linux 2023 instance runs once, as root, at
 * first boot. It installs Java 17 and Kafka {@linkcode KAFKA_VERSION}, writes the broker
 * configuration rendered by `broker_config.ts` (the same source as the local broker), and starts
 * the broker under systemd with the topics the pipeline uses.
 *
 * The instance's public DNS name is not known when the script is rendered, and it changes when a
 * stopped instance starts again. So `server.properties` is kept as a template holding
 * {@linkcode PUBLIC_DNS_PLACEHOLDER}, and a small script reads the name from the instance metadata
 * service (IMDSv2: token first, then `public-hostname`) before every start of the broker.
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
} from "../broker_config.ts";
import { TOPIC_PATTERN, TOPIC_RULE } from "../../lake/layout.ts";

/** The largest user-data EC2 accepts, in bytes (before base64). */
export const USER_DATA_LIMIT_BYTES = 16 * 1024;

/** Where the broker keeps its partitions on the instance. */
export const EC2_DATA_DIR = "/var/lib/kafka/data";

/** Where the user-data script logs what it did (read it over SSH or SSM when the broker is missing). */
export const USER_DATA_LOG = "/var/log/kafka-setup.log";

/** The script that fills in the public DNS name before each broker start. */
export const RENDER_CONFIG_PATH = "/usr/local/bin/kafka-render-config";

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
  /** The INTERNAL port used by tools on the instance. @default {9094} */
  internalPort?: number;
  /**
   * Swap file size in MiB, a safety net against the kernel's out-of-memory killer. 0 for none.
   * @default {1024 on instance types with 1 GiB of memory or less (heap ≤ 384 MiB), else 0}
   */
  swapMb?: number;
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
 * The script installed as {@linkcode RENDER_CONFIG_PATH}: reads the public DNS name through IMDSv2
 * and writes `server.properties` from its template. Runs as root before every broker start.
 */
export function renderConfigScript(
  propertiesPath = `${EC2_KAFKA_HOME}/config/kraft/server.properties`,
): string {
  return `#!/bin/bash
# Fills the instance's public DNS name into the Kafka config before each start (it changes when a
# stopped instance starts again). Rendered by lib/ops/aws/user_data.ts.
set -euo pipefail
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
TEMPLATE=$(<${shellQuote(`${propertiesPath}.template`)})
# The placeholder is matched literally, hence the single quotes.
# shellcheck disable=SC2016
printf '%s\\n' "\${TEMPLATE//'${PUBLIC_DNS_PLACEHOLDER}'/$PUBLIC_DNS}" > ${
    shellQuote(`${propertiesPath}.tmp`)
  }
mv ${shellQuote(`${propertiesPath}.tmp`)} ${shellQuote(propertiesPath)}
if id -u kafka >/dev/null 2>&1; then chown kafka:kafka ${shellQuote(propertiesPath)}; fi
echo "kafka-render-config: advertising EXTERNAL://$PUBLIC_DNS"
`;
}

/**
 * Renders the user-data bash script for an Amazon Linux 2023 instance.
 *
 * @example
 * ```ts
 * import { renderUserData } from "./user_data.ts";
 * const script = renderUserData({ instanceType: "t2.micro" });
 * script.startsWith("#!/bin/bash"); // true
 * ```
 * @throws {UserDataError} for a bad topic name or swap size, or a script over 16 KiB.
 * @throws {BrokerConfigError} (from broker_config.ts) for a bad port, partition count or instance type.
 */
export function renderUserData(options: UserDataOptions = {}): string {
  const settings = userDataSettings(options);
  const script = [
    userDataPreamble(settings),
    swapSection(settings),
    installKafkaSection(),
    brokerFilesSection(settings),
    startBrokerSection(settings),
    createTopicsSection(settings),
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
  /** Path of the broker's `server.properties`. */
  properties: string;
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
  return {
    instanceType,
    heapMb,
    topics,
    partitions: options.partitions ?? 3,
    internalPort: options.internalPort ?? 9094,
    port: options.port ?? 9092,
    swapMb,
    properties: `${EC2_KAFKA_HOME}/config/kraft/server.properties`,
  };
}

/** Shebang, what rendered it, the log, and the variables the later sections use. */
function userDataPreamble({ instanceType, heapMb }: UserDataSettings): string {
  return `#!/bin/bash
# Apache Kafka ${KAFKA_VERSION} (single-node KRaft) for the stock market pipeline, on Amazon Linux 2023.
# Rendered by lib/ops/aws/user_data.ts for ${instanceType} (broker heap ${heapMb} MiB). Runs once, as root,
# at first boot. Progress and errors: ${USER_DATA_LOG}
set -euo pipefail
exec > >(tee -a ${USER_DATA_LOG}) 2>&1
echo "kafka-setup: starting at $(date -u +%FT%TZ)"

KAFKA_HOME=${EC2_KAFKA_HOME}
KAFKA_URL=${shellQuote(KAFKA_TARBALL_URL)}
DATA_DIR=${EC2_DATA_DIR}
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

/** Java, the kafka user, and the Kafka tarball, checked against its published SHA-512. */
function installKafkaSection(): string {
  return `echo "kafka-setup: installing Java 17"
dnf install -y java-17-amazon-corretto-headless tar gzip

id -u kafka >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin kafka

echo "kafka-setup: downloading $KAFKA_URL"
curl -fsSL --retry 5 -o /tmp/kafka.tgz "$KAFKA_URL"
curl -fsSL --retry 5 -o /tmp/kafka.tgz.sha512 "$KAFKA_URL.sha512"
# The .sha512 file is either "name: HEX HEX ..." (gpg --print-md) or "hex  name" (sha512sum).
SUM_FILE=$(</tmp/kafka.tgz.sha512)
if [[ $SUM_FILE == *:* ]]; then EXPECTED=\${SUM_FILE#*:}; else EXPECTED=\${SUM_FILE%% *}; fi
EXPECTED=$(printf '%s' "$EXPECTED" | tr -d ' \\t\\r\\n' | tr 'A-F' 'a-f')
ACTUAL=$(sha512sum /tmp/kafka.tgz | cut -d ' ' -f 1)
if [ "$EXPECTED" != "$ACTUAL" ]; then
  echo "kafka-setup: checksum of $KAFKA_URL does not match its .sha512; not installing." >&2
  exit 1
fi
mkdir -p "$KAFKA_HOME" "$DATA_DIR"
tar -xzf /tmp/kafka.tgz -C "$KAFKA_HOME" --strip-components=1
rm -f /tmp/kafka.tgz /tmp/kafka.tgz.sha512
`;
}

/** The config template, the script that renders it at each start, the env file and the unit. */
function brokerFilesSection(
  { heapMb, port, internalPort, partitions, properties }: UserDataSettings,
): string {
  const template = renderServerProperties({
    mode: "ec2",
    dataDir: EC2_DATA_DIR,
    advertisedHost: PUBLIC_DNS_PLACEHOLDER,
    port,
    internalPort,
    partitions,
  });
  const dropIn =
    `[Service]\n# "+": runs as root, before the broker starts as the kafka user.\nExecStartPre=+${RENDER_CONFIG_PATH}\n`;
  return `# server.properties from lib/ops/broker_config.ts; ${PUBLIC_DNS_PLACEHOLDER} is filled in at each start.
${writeFile(`${properties}.template`, template, "KAFKA_PROPERTIES_EOF")}
${writeFile(RENDER_CONFIG_PATH, renderConfigScript(properties), "RENDER_CONFIG_EOF")}
chmod 755 ${RENDER_CONFIG_PATH}
${writeFile("/etc/default/kafka", renderKafkaEnv({ heapMb }), "KAFKA_ENV_EOF")}
${writeFile("/etc/systemd/system/kafka.service", renderSystemdUnit({}), "KAFKA_UNIT_EOF")}
mkdir -p /etc/systemd/system/kafka.service.d
${writeFile("/etc/systemd/system/kafka.service.d/public-dns.conf", dropIn, "DROP_IN_EOF")}
chown -R kafka:kafka "$KAFKA_HOME" "$DATA_DIR"
`;
}

/** Formats the KRaft storage, starts the service and waits up to 5 minutes for it to answer. */
function startBrokerSection({ internalPort, properties }: UserDataSettings): string {
  return `echo "kafka-setup: formatting the KRaft storage"
${RENDER_CONFIG_PATH}
CLUSTER_ID=$("$KAFKA_HOME/bin/kafka-storage.sh" random-uuid)
"$KAFKA_HOME/bin/kafka-storage.sh" format -t "$CLUSTER_ID" -c ${properties} --ignore-formatted
chown -R kafka:kafka "$KAFKA_HOME" "$DATA_DIR"

echo "kafka-setup: starting the broker"
systemctl daemon-reload
systemctl enable --now kafka.service

READY=0
for _ in $(seq 1 60); do
  if "$KAFKA_HOME/bin/kafka-topics.sh" --bootstrap-server "localhost:${internalPort}" --list >/dev/null 2>&1; then
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

/** Creates the pipeline's topics (idempotent) and reports the advertised listeners. */
function createTopicsSection(
  { topics, internalPort, partitions, properties }: UserDataSettings,
): string {
  const createTopics = topics.map((topic) =>
    `"$KAFKA_HOME/bin/kafka-topics.sh" --bootstrap-server "localhost:${internalPort}" --create \\
  --if-not-exists --topic ${shellQuote(topic)} --partitions ${partitions} --replication-factor 1`
  ).join("\n");
  return `echo "kafka-setup: creating topics"
${createTopics}

echo "kafka-setup: done at $(date -u +%FT%TZ); $(grep '^advertised.listeners=' ${properties})"
`;
}
