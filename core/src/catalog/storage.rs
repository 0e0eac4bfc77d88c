//! Object storage: MinIO (S3-compatible). The community edition ships as source only since
//! 2025-10; the pin is the last published image.

use super::{
    http_url, CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SecretSpec, SizePreset,
};

fn build_minio(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    // MinIO wants a root user of at least 3 characters and a password of at least 8.
    let user = ctx.env_or("MINIO_ROOT_USER", "devstack");
    parts.args = Some(vec![
        "server".into(),
        "/data".into(),
        "--console-address".into(),
        ":9001".into(),
    ]);
    parts.env_lit("MINIO_ROOT_USER", user.clone());
    parts.env_secret("MINIO_ROOT_PASSWORD", ctx, "password");
    // Prometheus scrapes /minio/v2/metrics/cluster without a bearer token (`catalog::metrics`).
    parts.env_lit("MINIO_PROMETHEUS_AUTH_TYPE", "public");
    // `mc` ships in the image and knows the `local` alias (http://localhost:9000).
    parts.health = Some(Health::exec(&["mc", "ready", "local"]));
    parts.data("data", "/data");
    parts.connect(ctx, http_url(ctx, 9000, ""), 9000);
    parts.output("CONSOLE_URL", http_url(ctx, 9001, ""));
    parts.output("USER", user.clone());
    parts.output("PASSWORD", ctx.secret("password"));
    // The same pair under the names S3 clients use.
    parts.output("ACCESS_KEY", user);
    parts.output("SECRET_KEY", ctx.secret("password"));
    parts
}

/// MinIO (runs as root).
pub const MINIO: CatalogEntry = CatalogEntry {
    type_name: "minio",
    description: "MinIO S3-compatible object storage (path-style)",
    repository: "quay.io/minio/minio",
    default_version: "RELEASE.2025-09-07T16-13-09Z",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "s3",
            port: 9000,
        },
        CatalogPort {
            name: "console",
            port: 9001,
        },
    ],
    uid: 0,
    gid: 0,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Micro,
    secrets: &[SecretSpec {
        name: "password",
        length: 32,
    }],
    build: build_minio,
};
