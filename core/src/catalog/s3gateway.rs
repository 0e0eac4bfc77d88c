//! Object storage that builds from the package registries: the Versity S3 Gateway (Apache-2.0),
//! an S3 server over a POSIX directory. It takes MinIO's place where MinIO cannot be used (the
//! server is AGPL and its community edition is archived upstream) with the same connection
//! contract: `URL`, `USER`/`PASSWORD` and, under the names S3 clients use, `ACCESS_KEY`/
//! `SECRET_KEY` (path-style requests, region `us-east-1`).

use super::{
    http_url, CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SecretSpec, SizePreset,
};

fn build_versitygw(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    let user = ctx.env_or("ROOT_ACCESS_KEY", "devstack");
    // The image's entrypoint builds `versitygw posix /data` from these.
    parts.env_lit("VGW_BACKEND", "posix");
    parts.env_lit("VGW_BACKEND_ARG", "/data");
    parts.env_lit("VGW_HEALTH", "/health");
    parts.env_lit("ROOT_ACCESS_KEY", user.clone());
    parts.env_secret("ROOT_SECRET_KEY", ctx, "password");
    // The health route answers GET only: `wget --spider` (HEAD) is refused.
    parts.health = Some(Health::exec(&[
        "wget",
        "-q",
        "-O",
        "/dev/null",
        "http://127.0.0.1:7070/health",
    ]));
    parts.data("data", "/data");
    parts.connect(ctx, http_url(ctx, 7070, ""), 7070);
    parts.output("USER", user.clone());
    parts.output("PASSWORD", ctx.secret("password"));
    parts.output("ACCESS_KEY", user);
    parts.output("SECRET_KEY", ctx.secret("password"));
    parts.output("REGION", "us-east-1");
    parts
}

/// Versity S3 Gateway, POSIX backend on the data volume (Alpine; runs as root).
pub const VERSITYGW: CatalogEntry = CatalogEntry {
    type_name: "versitygw",
    description: "Versity S3 Gateway: S3-compatible object storage (Apache-2.0; path-style)",
    repository: "versity/versitygw",
    default_version: "v1.8.0",
    stateful: true,
    ports: &[CatalogPort {
        name: "s3",
        port: 7070,
    }],
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
    build: build_versitygw,
};
