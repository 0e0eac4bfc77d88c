#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh laid out /opt/kafka and
# /etc/kafka/docker. Mirrors apache/kafka:4.1.1: appuser 1000:1000, Java 21 (Debian's JRE; the
# image has Temurin 21), data in /var/lib/kafka/data, final configs written to /opt/kafka/config
# by the wrapper at start.
set -euo pipefail
groupadd --gid=1000 appuser
useradd --uid=1000 --gid=1000 --no-create-home --home-dir=/home/appuser --shell=/bin/bash appuser
apt-get install -y openjdk-21-jre-headless
install -d -o appuser -g appuser /home/appuser /var/lib/kafka/data /etc/kafka/secrets \
  /mnt/shared/config /opt/kafka/config /opt/kafka/logs
chown -R appuser:appuser /etc/kafka/docker
java -version
test -x /opt/kafka/bin/kafka-broker-api-versions.sh
