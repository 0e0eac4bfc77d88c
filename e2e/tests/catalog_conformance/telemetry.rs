//! The observability types: a PromQL query against Prometheus's own scrapes, and a trace sent
//! with OTLP/HTTP (JSON) to Jaeger (found again through its query API) and to the collector
//! (found again in its debug exporter's log). The clients are `wget` (GNU, from Debian) in the
//! dependent; none of these types has credentials.

use crate::kinds::{Kind, Read};

/// Prometheus: the timestamp of a sample of its self-scrape (the example config scrapes
/// itself), kept in the dependent's /tmp; read back by querying at that instant, so after a
/// restart only the persisted TSDB (not a fresh scrape) can answer with the same timestamp.
const PROMETHEUS: Kind = Kind {
    type_name: "prometheus",
    port_name: "http",
    client_type: None,
    handed_key: None,
    write: r#"set -e
ts=$(wget -qO- --post-data 'query=timestamp(up)' "$SVC_URL/api/v1/query" |
  sed -n 's/.*"value":\[[^,]*,"\([0-9.]*\)"\].*/\1/p')
[ -n "$ts" ]
echo "$ts" >/tmp/conformance-ts
echo "sample-at-$ts""#,
    write_expect: "sample-at-",
    read: Read::Client(
        r#"set -e
ts=$(cat /tmp/conformance-ts)
got=$(wget -qO- --post-data "query=timestamp(up)&time=$ts" "$SVC_URL/api/v1/query" |
  sed -n 's/.*"value":\[[^,]*,"\([0-9.]*\)"\].*/\1/p')
[ "$got" = "$ts" ] || { echo "at $ts: got ${got:-nothing}"; exit 1; }
echo "sample-at-$ts""#,
    ),
    read_expect: "sample-at-",
    auth: None,
};

/// One span, service `conformance`, named `written-by-client`, as OTLP/HTTP JSON to
/// `$SVC_URL/v1/traces` (trace and span ids from the clock, so each run sends a new one).
macro_rules! send_span {
    () => {
        r#"set -e
now=$(date +%s)
trace=$(printf '%032x' "$now")
span=$(printf '%016x' "$now")
body=$(printf '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"conformance"}}]},"scopeSpans":[{"scope":{"name":"devstack-conformance"},"spans":[{"traceId":"%s","spanId":"%s","name":"written-by-client","kind":2,"startTimeUnixNano":"%s000000000","endTimeUnixNano":"%s500000000"}]}]}]}' \
  "$trace" "$span" "$now" "$now")
wget -qO- --header 'Content-Type: application/json' --post-data "$body" "$SVC_URL/v1/traces"
echo
echo trace-sent"#
    };
}

/// Jaeger (in memory): the span, then the trace through the query API on the UI port.
const JAEGER: Kind = Kind {
    type_name: "jaeger",
    port_name: "otlp-http",
    client_type: None,
    handed_key: None,
    write: send_span!(),
    write_expect: "trace-sent",
    read: Read::Client(
        r#"for i in 1 2 3 4 5 6 7 8 9 10; do
  out=$(wget -qO- "$SVC_UI_URL/api/traces?service=conformance&limit=5") || out=""
  case $out in *written-by-client*) echo "$out"; exit 0 ;; esac
  sleep 1
done
echo "not found: $out"; exit 1"#,
    ),
    read_expect: "written-by-client",
    auth: None,
};

/// The collector (default config: OTLP in, debug exporter out). Its image has no tools, as
/// upstream: the dependent runs the local prometheus image for `wget`.
const OTEL_COLLECTOR: Kind = Kind {
    type_name: "otel-collector",
    port_name: "otlp-http",
    client_type: Some("prometheus"),
    handed_key: None,
    write: send_span!(),
    write_expect: "trace-sent",
    read: Read::ServiceLog,
    read_expect: "written-by-client",
    auth: None,
};

pub const KINDS: &[Kind] = &[PROMETHEUS, JAEGER, OTEL_COLLECTOR];
