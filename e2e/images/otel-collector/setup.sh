#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) after host-build.sh put /otelcol-contrib into
# the rootfs. Mirrors otel/opentelemetry-collector-contrib: uid 10001, config
# /etc/otelcol-contrib/config.yaml. The upstream image is FROM scratch (no shell, no wget): this
# one installs nothing, so a health check that needs a tool fails here as it does upstream.
set -euo pipefail
mkdir -p /etc/otelcol-contrib
# The contrib image's default config, reduced to the components this build has (no jaeger,
# zipkin, opencensus or prometheus receivers, no pprof): OTLP in on all interfaces, batch,
# everything to the debug exporter (detailed); health_check without an endpoint (localhost:13133
# since v0.104, as upstream); zpages on all interfaces.
cat >/etc/otelcol-contrib/config.yaml <<'YAML'
extensions:
  health_check:
  zpages:
    endpoint: 0.0.0.0:55679

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318

processors:
  batch:

exporters:
  debug:
    verbosity: detailed

service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
    logs:
      receivers: [otlp]
      processors: [batch]
      exporters: [debug]
  extensions: [health_check, zpages]
YAML
chmod 0644 /etc/otelcol-contrib/config.yaml
test -x /otelcol-contrib
