//! Observability: Jaeger (traces, in memory), Prometheus (metrics), Grafana (dashboards) and
//! the OpenTelemetry Collector. Prometheus and the collector run with the image's default
//! configuration; no config files are generated.

use super::{
    http_url, CatalogEntry, CatalogPort, Check, EntryContext, EntryParts, Health, SecretSpec,
    SizePreset,
};

/// OTLP over HTTP, what applications export to; first, so it is the service's endpoint.
const OTLP_HTTP: CatalogPort = CatalogPort {
    name: "otlp-http",
    port: 4318,
};
const OTLP_GRPC: CatalogPort = CatalogPort {
    name: "otlp-grpc",
    port: 4317,
};
const HEALTH: CatalogPort = CatalogPort {
    name: "health",
    port: 13133,
};

/// `URL`/`HOST`/`PORT` for OTLP over HTTP, plus the gRPC endpoint.
fn otlp_outputs(parts: &mut EntryParts, ctx: &EntryContext) {
    parts.connect(ctx, http_url(ctx, 4318, ""), 4318);
    parts.output("GRPC_URL", http_url(ctx, 4317, ""));
}

fn build_jaeger(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    // Jaeger v2's default config binds localhost unless told otherwise.
    parts.env_lit("JAEGER_LISTEN_HOST", "0.0.0.0");
    parts.health = Some(Health::wget("http://127.0.0.1:13133/status"));
    otlp_outputs(&mut parts, ctx);
    parts.output("UI_URL", http_url(ctx, 16686, ""));
    parts
}

/// Jaeger all-in-one v2 with in-memory storage (runs as 10001).
pub const JAEGER: CatalogEntry = CatalogEntry {
    type_name: "jaeger",
    description: "Jaeger tracing (all-in-one, in-memory; OTLP in, UI on 16686)",
    repository: "jaegertracing/jaeger",
    default_version: "2.13.0",
    stateful: false,
    ports: &[
        OTLP_HTTP,
        OTLP_GRPC,
        CatalogPort {
            name: "ui",
            port: 16686,
        },
        HEALTH,
        // Internal telemetry, Prometheus format (see `catalog::metrics`).
        CatalogPort {
            name: "metrics",
            port: 8888,
        },
    ],
    uid: 10001,
    gid: 10001,
    read_only_root: true,
    // The image declares `VOLUME /tmp`.
    writable_paths: &["/tmp"],
    add_capabilities: &[],
    size: SizePreset::Small,
    secrets: &[],
    build: build_jaeger,
};

fn build_prometheus(ctx: &EntryContext) -> EntryParts {
    // No args: the image's CMD already points at its config and at /prometheus.
    let mut parts = EntryParts {
        health: Some(Health::wget("http://127.0.0.1:9090/-/ready")),
        ..EntryParts::default()
    };
    parts.data("data", "/prometheus");
    parts.connect(ctx, http_url(ctx, 9090, ""), 9090);
    parts
}

/// Prometheus with the image's default configuration (runs as nobody, 65534).
pub const PROMETHEUS: CatalogEntry = CatalogEntry {
    type_name: "prometheus",
    description: "Prometheus metrics server (image default configuration)",
    repository: "prom/prometheus",
    default_version: "v3.8.1",
    stateful: true,
    ports: &[CatalogPort {
        name: "http",
        port: 9090,
    }],
    uid: 65534,
    gid: 65534,
    read_only_root: true,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Nano,
    secrets: &[],
    build: build_prometheus,
};

fn build_grafana(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    let user = ctx.env_or("GF_SECURITY_ADMIN_USER", "admin");
    parts.env_lit("GF_SECURITY_ADMIN_USER", user.clone());
    parts.env_secret("GF_SECURITY_ADMIN_PASSWORD", ctx, "password");
    parts.env_lit("GF_ANALYTICS_REPORTING_ENABLED", "false");
    parts.env_lit("GF_ANALYTICS_CHECK_FOR_UPDATES", "false");
    parts.health = Some(Health::exec(&[
        "curl",
        "-fsS",
        "-o",
        "/dev/null",
        "http://127.0.0.1:3000/api/health",
    ]));
    parts.data("data", "/var/lib/grafana");
    parts.connect(ctx, http_url(ctx, 3000, ""), 3000);
    parts.output("USER", user);
    parts.output("PASSWORD", ctx.secret("password"));
    parts
}

/// Grafana OSS (runs as 472:0). Its writable paths besides the data directory (logs, plugins,
/// provisioning) are not pinned down, so the root filesystem stays writable.
pub const GRAFANA: CatalogEntry = CatalogEntry {
    type_name: "grafana",
    description: "Grafana dashboards",
    repository: "grafana/grafana",
    default_version: "12.3.1",
    stateful: true,
    ports: &[CatalogPort {
        name: "http",
        port: 3000,
    }],
    uid: 472,
    gid: 0,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Nano,
    secrets: &[SecretSpec {
        name: "password",
        length: 32,
    }],
    build: build_grafana,
};

/// The image's own config file (its CMD), repeated because args replace the CMD.
const OTELCOL_CONFIG: &str = "--config=/etc/otelcol-contrib/config.yaml";
/// The default config enables `health_check` without an endpoint, which binds localhost since
/// v0.104; `--set` (keys separated by `::`) moves it to all interfaces so the kubelet and the
/// Docker health check can reach it, without shipping a config file.
const OTELCOL_HEALTH_ENDPOINT: &str = "--set=extensions::health_check::endpoint=0.0.0.0:13133";

fn build_otel_collector(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts {
        args: Some(vec![OTELCOL_CONFIG.into(), OTELCOL_HEALTH_ENDPOINT.into()]),
        // FROM scratch: no shell, no wget, nothing to exec. The only check is an HTTP GET from
        // outside the container: a Kubernetes httpGet probe; Compose cannot check it.
        health: Some(
            Health::new(Check::Http {
                path: "/".into(),
                port: "health".into(),
            })
            .outside_only(),
        ),
        ..EntryParts::default()
    };
    otlp_outputs(&mut parts, ctx);
    parts
}

/// OpenTelemetry Collector (contrib distribution, default pipeline to the debug exporter;
/// FROM scratch, runs as 10001).
pub const OTEL_COLLECTOR: CatalogEntry = CatalogEntry {
    type_name: "otel-collector",
    description: "OpenTelemetry Collector (contrib, default pipelines)",
    repository: "otel/opentelemetry-collector-contrib",
    default_version: "0.142.0",
    stateful: false,
    ports: &[
        OTLP_HTTP,
        OTLP_GRPC,
        HEALTH,
        CatalogPort {
            name: "metrics",
            port: 8888,
        },
        // The prometheus exporter of the generated config's metrics pipeline.
        CatalogPort {
            name: "exporter",
            port: 8889,
        },
    ],
    uid: 10001,
    gid: 10001,
    read_only_root: true,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Micro,
    secrets: &[],
    build: build_otel_collector,
};
