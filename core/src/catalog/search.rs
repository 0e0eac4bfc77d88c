//! Search engines: OpenSearch and Elasticsearch, single-node, with the Java heap set to half
//! the memory limit (their start scripts would otherwise size it themselves).

use super::{
    http_url, java_heap, CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SecretSpec,
    SizePreset,
};

const PORTS: &[CatalogPort] = &[
    CatalogPort {
        name: "http",
        port: 9200,
    },
    CatalogPort {
        name: "transport",
        port: 9300,
    },
];

/// Settings both engines take from dotted env vars.
fn single_node(parts: &mut EntryParts) {
    parts.env_lit("discovery.type", "single-node");
    // Laptops run with full disks; the default watermarks would turn indices read-only.
    parts.env_lit("cluster.routing.allocation.disk.threshold_enabled", "false");
}

fn build_opensearch(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    single_node(&mut parts);
    // Development mode: plain HTTP without the security plugin or its demo certificates.
    parts.env_lit("DISABLE_SECURITY_PLUGIN", "true");
    parts.env_lit("DISABLE_INSTALL_DEMO_CONFIG", "true");
    parts.env_lit("OPENSEARCH_JAVA_OPTS", java_heap(ctx));
    // curl in the image is unverified; bash is certain (the entrypoint is a bash script).
    parts.health = Some(
        Health::bash_http(9200, "/_cluster/health?wait_for_status=yellow&timeout=1s")
            .start_period(60),
    );
    parts.data("data", "/usr/share/opensearch/data");
    parts.connect(ctx, http_url(ctx, 9200, ""), 9200);
    parts
}

/// OpenSearch (runs as 1000; its entrypoint edits files under the config directory).
pub const OPENSEARCH: CatalogEntry = CatalogEntry {
    type_name: "opensearch",
    description: "OpenSearch search and analytics engine (security plugin off)",
    repository: "opensearchproject/opensearch",
    default_version: "3.4.0",
    stateful: true,
    ports: PORTS,
    uid: 1000,
    gid: 1000,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Medium,
    secrets: &[],
    build: build_opensearch,
};

fn build_elasticsearch(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    single_node(&mut parts);
    parts.env_secret("ELASTIC_PASSWORD", ctx, "password");
    // Authentication on, TLS off: a local dev cluster reached over plain HTTP.
    parts.env_lit("xpack.security.enabled", "true");
    parts.env_lit("xpack.security.http.ssl.enabled", "false");
    parts.env_lit("xpack.security.transport.ssl.enabled", "false");
    parts.env_lit("ES_JAVA_OPTS", java_heap(ctx));
    parts.health = Some(
        Health::shell(
            "curl --silent --fail --output /dev/null -u \"elastic:$ELASTIC_PASSWORD\" \
             'http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=1s'",
        )
        .start_period(60),
    );
    parts.data("data", "/usr/share/elasticsearch/data");
    parts.connect(ctx, http_url(ctx, 9200, ""), 9200);
    parts.output("USER", "elastic");
    parts.output("PASSWORD", ctx.secret("password"));
    parts
}

/// Elasticsearch (runs as 1000:0; the entrypoint writes the keystore into the config
/// directory, so the root filesystem stays writable).
pub const ELASTICSEARCH: CatalogEntry = CatalogEntry {
    type_name: "elasticsearch",
    description: "Elasticsearch search engine (basic auth, plain HTTP)",
    repository: "docker.elastic.co/elasticsearch/elasticsearch",
    default_version: "9.2.3",
    stateful: true,
    ports: PORTS,
    uid: 1000,
    gid: 0,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Medium,
    secrets: &[SecretSpec {
        name: "password",
        length: 32,
    }],
    build: build_elasticsearch,
};
