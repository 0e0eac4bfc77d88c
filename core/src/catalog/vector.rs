//! Vector databases: Qdrant, Weaviate, Chroma. Each speaks HTTP on its main port; Qdrant and
//! Weaviate take an API key, Chroma has no built-in auth since 1.0.

use super::{
    http_url, CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SecretSpec, SizePreset,
};

const API_KEY: &[SecretSpec] = &[SecretSpec {
    name: "api-key",
    length: 40,
}];

fn build_qdrant(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    parts.env_secret("QDRANT__SERVICE__API_KEY", ctx, "api-key");
    parts.env_lit("QDRANT__TELEMETRY_DISABLED", "true");
    // Qdrant marks its first start with a file, by default in its working directory — on the
    // read-only root. Its Helm chart points it at the writable init dir; so does this.
    parts.env_lit("QDRANT_INIT_FILE_PATH", "/qdrant/init/.qdrant-initialized");
    // No curl or wget in the image. /readyz needs no API key.
    parts.health = Some(Health::bash_http(6333, "/readyz"));
    parts.data("storage", "/qdrant/storage");
    parts.data("snapshots", "/qdrant/snapshots");
    parts.connect(ctx, http_url(ctx, 6333, ""), 6333);
    parts.output("GRPC_PORT", "6334");
    parts.output("API_KEY", ctx.secret("api-key"));
    parts
}

/// Qdrant, `-unprivileged` image (runs as 1000; the Helm chart's 1000/2000).
pub const QDRANT: CatalogEntry = CatalogEntry {
    type_name: "qdrant",
    description: "Qdrant vector database",
    repository: "qdrant/qdrant",
    default_version: "v1.16.3-unprivileged",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "http",
            port: 6333,
        },
        CatalogPort {
            name: "grpc",
            port: 6334,
        },
    ],
    uid: 1000,
    gid: 2000,
    read_only_root: true,
    writable_paths: &["/qdrant/init", "/tmp"],
    add_capabilities: &[],
    size: SizePreset::Micro,
    secrets: API_KEY,
    build: build_qdrant,
};

fn build_weaviate(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts {
        args: Some(vec![
            "--host".into(),
            "0.0.0.0".into(),
            "--port".into(),
            "8080".into(),
            "--scheme".into(),
            "http".into(),
        ]),
        ..EntryParts::default()
    };
    parts.env_lit("PERSISTENCE_DATA_PATH", "/var/lib/weaviate");
    parts.env_lit("AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED", "false");
    parts.env_lit("AUTHENTICATION_APIKEY_ENABLED", "true");
    // One key, so the variable is the secret itself (no template needed).
    parts.env_secret("AUTHENTICATION_APIKEY_ALLOWED_KEYS", ctx, "api-key");
    parts.env_lit("AUTHENTICATION_APIKEY_USERS", "devstack");
    parts.env_lit("DEFAULT_VECTORIZER_MODULE", "none");
    // Raft state is keyed by the node name; fix it so it survives new pod/container names.
    parts.env_lit("CLUSTER_HOSTNAME", "node1");
    parts.env_lit("DISABLE_TELEMETRY", "true");
    parts.health =
        Some(Health::wget("http://127.0.0.1:8080/v1/.well-known/ready").start_period(30));
    parts.data("data", "/var/lib/weaviate");
    parts.connect(ctx, http_url(ctx, 8080, ""), 8080);
    parts.output("GRPC_PORT", "50051");
    parts.output("API_KEY", ctx.secret("api-key"));
    parts
}

/// Weaviate (runs as root).
pub const WEAVIATE: CatalogEntry = CatalogEntry {
    type_name: "weaviate",
    description: "Weaviate vector database",
    repository: "cr.weaviate.io/semitechnologies/weaviate",
    default_version: "1.34.0",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "http",
            port: 8080,
        },
        CatalogPort {
            name: "grpc",
            port: 50051,
        },
    ],
    uid: 0,
    gid: 0,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Small,
    secrets: API_KEY,
    build: build_weaviate,
};

fn build_chroma(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    parts.env_lit("CHROMA_PERSIST_PATH", "/data");
    parts.env_lit("ANONYMIZED_TELEMETRY", "FALSE");
    // No curl in the image.
    parts.health = Some(Health::bash_http(8000, "/api/v2/heartbeat"));
    parts.data("data", "/data");
    parts.connect(ctx, http_url(ctx, 8000, ""), 8000);
    parts
}

/// Chroma (runs as root; no built-in auth since 1.0).
pub const CHROMA: CatalogEntry = CatalogEntry {
    type_name: "chroma",
    description: "Chroma embedding database",
    repository: "chromadb/chroma",
    default_version: "1.4.0",
    stateful: true,
    ports: &[CatalogPort {
        name: "http",
        port: 8000,
    }],
    uid: 0,
    gid: 0,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Micro,
    secrets: &[],
    build: build_chroma,
};
