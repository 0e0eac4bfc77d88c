#!/bin/bash
# Runs on the host before setup.sh: Apache Kafka 4.1.1 laid out like apache/kafka:4.1.1 in the
# rootfs ($ROOTFS). The jars come from Maven Central (kafka_2.13 and kafka-tools 4.1.1 with their
# runtime dependencies, + log4j's slf4j binding, as the release's libs/), fetched by Maven into
# devstack's cache; the JRE is Debian's (setup.sh). The release's bin/ scripts and the Docker
# image's /etc/kafka/docker scripts are not on any registry: the ones below are written by the
# project and do what the catalog relies on —
#   /etc/kafka/docker/run: `configure` (defaults, KAFKA_LISTENERS from KAFKA_ADVERTISED_LISTENERS),
#     then `launch`: kafka.docker.KafkaDockerWrapper setup (in the kafka_2.13 jar: every KAFKA_*
#     variable becomes a server property, replacing the default server.properties; log4j from
#     KAFKA_LOG4J_*; storage formatted with CLUSTER_ID unless already formatted), then
#     kafka-server-start.sh on the result;
#   /opt/kafka/bin/kafka-run-class.sh and the tools the catalog's health check and the
#     conformance suite use (kafka-broker-api-versions, kafka-topics, kafka-console-producer,
#     kafka-console-consumer, kafka-storage), with the release's environment contract
#     (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_OPTS, KAFKA_LOG4J_OPTS, ...).
# Left out: the class-data-sharing archives (start-up time only), JMX defaults, SSL/SASL set-up
# from environment (the catalog uses neither).
set -euo pipefail
version=4.1.1
log4j=2.24.3
if ! command -v mvn >/dev/null; then apt-get install -y -q maven >/dev/null; fi
m2=${DEVSTACK_CACHE:-$HOME/.cache/devstack}/m2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.devstack.e2e</groupId>
  <artifactId>kafka-image</artifactId>
  <version>$version</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$log4j</version></dependency>
  </dependencies>
</project>
POM
k=$ROOTFS/opt/kafka
mkdir -p "$k/bin" "$k/libs" "$k/config" "$ROOTFS/etc/kafka/docker"
mvn -B -q -f "$work/pom.xml" -Dmaven.repo.local="$m2" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$k/libs"
test -s "$k/libs/kafka_2.13-$version.jar"

cat >"$k/bin/kafka-run-class.sh" <<'SH'
#!/bin/bash
# devstack's kafka-run-class.sh: java with the release's environment contract.
set -e
base_dir=$(cd "$(dirname "$0")/.." && pwd)
CLASSPATH="$base_dir/libs/*${CLASSPATH:+:$CLASSPATH}"
LOG_DIR=${LOG_DIR:-$base_dir/logs}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml}
# shellcheck disable=SC2086 # the *_OPTS are word lists, as in the release's script
exec java $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_GC_LOG_OPTS $KAFKA_JMX_OPTS \
  "-Dkafka.logs.dir=$LOG_DIR" $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" $KAFKA_OPTS "$@"
SH
cat >"$k/bin/kafka-server-start.sh" <<'SH'
#!/bin/bash
# devstack's kafka-server-start.sh: the broker, 1 GiB heap unless KAFKA_HEAP_OPTS says otherwise.
[ $# -ge 1 ] || { echo "USAGE: $0 server.properties [--override property=value]*" >&2; exit 1; }
base_dir=$(cd "$(dirname "$0")/.." && pwd)
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/log4j2.yaml}
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
exec "$base_dir/bin/kafka-run-class.sh" kafka.Kafka "$@"
SH
tool() { # NAME CLASS
  printf '#!/bin/bash\n# devstack'"'"'s %s: %s\nexec "$(dirname "$0")/kafka-run-class.sh" %s "$@"\n' "$1" "$2" "$2" >"$k/bin/$1"
}
tool kafka-broker-api-versions.sh org.apache.kafka.tools.BrokerApiVersionsCommand
tool kafka-topics.sh org.apache.kafka.tools.TopicCommand
tool kafka-console-producer.sh org.apache.kafka.tools.ConsoleProducer
tool kafka-console-consumer.sh org.apache.kafka.tools.consumer.ConsoleConsumer
tool kafka-storage.sh kafka.tools.StorageTool
chmod 0755 "$k"/bin/*

d=$ROOTFS/etc/kafka/docker
cat >"$d/run" <<'SH'
#!/bin/bash
# devstack's /etc/kafka/docker/run (the image's CMD): NAME=VALUE arguments become environment,
# then configure and launch.
set -euo pipefail
for var in "$@"; do export "$var"; done
echo "===> User"
id
. /etc/kafka/docker/configure
echo "===> Launching ..."
. /etc/kafka/docker/launch
SH
cat >"$d/configure" <<'SH'
# devstack's /etc/kafka/docker/configure (sourced by run): defaults and checks.
# shellcheck shell=bash
if [[ -z ${CLUSTER_ID:-} ]]; then
  echo "CLUSTER_ID not set. Setting it to default value: \"5L6g3nShT-eMCtK--X86sw\""
  export CLUSTER_ID=5L6g3nShT-eMCtK--X86sw
fi
if [[ -n ${KAFKA_PROCESS_ROLES:-} ]]; then
  echo "Running in KRaft mode..."
  if [[ $KAFKA_PROCESS_ROLES == controller ]]; then
    if [[ -n ${KAFKA_ADVERTISED_LISTENERS:-} ]]; then
      echo "KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller."; exit 1
    fi
    unset KAFKA_ADVERTISED_LISTENERS
  fi
fi
# LISTENERS derived from ADVERTISED_LISTENERS (hosts become 0.0.0.0) unless set.
if [[ -z ${KAFKA_LISTENERS:-} && ${KAFKA_PROCESS_ROLES:-} != controller && -n ${KAFKA_ADVERTISED_LISTENERS:-} ]]; then
  KAFKA_LISTENERS=$(echo "$KAFKA_ADVERTISED_LISTENERS" | sed -e 's|://[^:]*:|://0.0.0.0:|g')
  export KAFKA_LISTENERS
fi
[[ -w /opt/kafka/config ]] || { echo "/opt/kafka/config is not writable"; exit 1; }
SH
cat >"$d/launch" <<'SH'
# devstack's /etc/kafka/docker/launch (sourced by run): the wrapper writes the final configs
# and formats the storage, then the broker starts on them.
# shellcheck shell=bash
echo "===> Using provided cluster id $CLUSTER_ID ..."
result=$(/opt/kafka/bin/kafka-run-class.sh kafka.docker.KafkaDockerWrapper setup \
  --default-configs-dir /etc/kafka/docker \
  --mounted-configs-dir /mnt/shared/config \
  --final-configs-dir /opt/kafka/config 2>&1) ||
  echo "$result" | grep -i "already formatted" ||
  { echo "$result"; exit 1; }
exec /opt/kafka/bin/kafka-server-start.sh /opt/kafka/config/server.properties
SH
chmod 0755 "$d/run"
cat >"$d/server.properties" <<'PROPS'
# The image's default (used only when no KAFKA_* variable is set): single-node KRaft.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
PROPS
for f in log4j2.yaml tools-log4j2.yaml; do
  if [[ $f == log4j2.yaml ]]; then level=INFO target=SYSTEM_OUT; else level=WARN target=SYSTEM_ERR; fi
  cat >"$d/$f" <<YAML
Configuration:
  Properties:
    Property:
      - name: "logPattern"
        value: "[%d] %p %m (%c)%n"
  Appenders:
    Console:
      name: STDOUT
      target: $target
      PatternLayout:
        pattern: "\${logPattern}"
  Loggers:
    Root:
      level: $level
      AppenderRef:
        - ref: STDOUT
YAML
done
