#!/bin/bash
# Runs on the host (Go toolchain) before setup.sh: an OpenTelemetry Collector built with the
# collector builder (ocb) v0.142.0 from the Go module proxy — the release the catalog pins — into
# the rootfs ($ROOTFS) at the contrib image's paths (/otelcol-contrib,
# /etc/otelcol-contrib/config.yaml).
#
# A reduced component set (the contrib distribution has hundreds): what the image's default
# pipelines and devstack's generated configs use —
#   receivers  otlp
#   processors batch, memory_limiter
#   exporters  debug, otlp, otlphttp, prometheus
#   extensions health_check, zpages
# (the contrib default config also enables the jaeger, zipkin, opencensus and prometheus
# receivers and pprof; see setup.sh for the config this image ships).
set -euo pipefail
version=0.142.0
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../go-env.sh
. "$here/../go-env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
GOBIN=$work/bin go install -ldflags "$go_ldflags" "go.opentelemetry.io/collector/cmd/builder@v$version"
core=go.opentelemetry.io/collector contrib=github.com/open-telemetry/opentelemetry-collector-contrib
cat >"$work/manifest.yaml" <<YAML
dist:
  name: otelcol-contrib
  description: devstack's local OpenTelemetry Collector (reduced contrib set)
  version: $version
  output_path: $work/dist
receivers:
  - gomod: $core/receiver/otlpreceiver v$version
processors:
  - gomod: $core/processor/batchprocessor v$version
  - gomod: $core/processor/memorylimiterprocessor v$version
exporters:
  - gomod: $core/exporter/debugexporter v$version
  - gomod: $core/exporter/otlpexporter v$version
  - gomod: $core/exporter/otlphttpexporter v$version
  - gomod: $contrib/exporter/prometheusexporter v$version
extensions:
  - gomod: $contrib/extension/healthcheckextension v$version
  - gomod: $core/extension/zpagesextension v$version
YAML
"$work/bin/builder" --config "$work/manifest.yaml"
install -D -m 0755 "$work/dist/otelcol-contrib" "$ROOTFS/otelcol-contrib"
install -D -m 0644 "$work/manifest.yaml" "$ROOTFS/etc/otelcol-contrib/builder-manifest.yaml"
"$ROOTFS/otelcol-contrib" --version
"$ROOTFS/otelcol-contrib" components | sed -n '1,40p'
