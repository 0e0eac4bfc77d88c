#!/bin/bash
# Runs inside the build chroot (Debian sid minbase) with the OpenTelemetry wheels in /tmp/wheels:
# the observability e2e test's own service (not a catalog type). /app/app.py serves Prometheus
# metrics on :8080/metrics (the text format, written by hand), /healthz, and sends a span every
# 5 s through the OTLP/HTTP exporter, configured only by the standard OTEL_* variables devstack
# sets. bash for the tests' /dev/tcp probes (Debian's).
set -euo pipefail
apt-get install -y python3 python3-venv
python3 -m venv /opt/app
/opt/app/bin/pip install --quiet --no-index --find-links /tmp/wheels \
  "opentelemetry-sdk==$(cat /tmp/wheels/VERSION)" \
  "opentelemetry-exporter-otlp-proto-http==$(cat /tmp/wheels/VERSION)"
/opt/app/bin/pip uninstall --quiet --yes pip
mkdir -p /app
cat >/app/app.py <<'PY'
"""devstack's observability test service: metrics on :8080/metrics, a span every 5 s."""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

SENT = [0]


def send_spans():
    # Endpoint, protocol and service name come from OTEL_EXPORTER_OTLP_ENDPOINT,
    # OTEL_EXPORTER_OTLP_PROTOCOL and OTEL_SERVICE_NAME.
    provider = TracerProvider(resource=Resource.create({}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("devstack-e2e")
    while True:
        with tracer.start_as_current_span("devstack-e2e-span") as span:
            span.set_attribute("devstack.iteration", SENT[0])
        SENT[0] += 1
        time.sleep(5)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/metrics":
            body = (
                "# HELP devstack_app_spans_total Spans sent.\n"
                "# TYPE devstack_app_spans_total counter\n"
                f"devstack_app_spans_total {SENT[0]}\n"
            ).encode()
            kind = "text/plain; version=0.0.4"
        elif self.path == "/healthz":
            body, kind = b"ok\n", "text/plain"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


threading.Thread(target=send_spans, daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
PY
find /opt/app -name __pycache__ -prune -exec rm -rf {} +
/opt/app/bin/python -c 'import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http; print("opentelemetry ok")'
command -v bash >/dev/null
