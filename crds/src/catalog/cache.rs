//! Redis-protocol caches: Redis, Valkey, KeyDB. No env contract: the password goes on the
//! command line, the health check authenticates through `REDISCLI_AUTH`.

use super::{
    CatalogEntry, CatalogPort, DataPath, EntryContext, EntryParts, Health, SecretSpec, SizePreset,
};
use crate::template::Template;

const PORTS: &[CatalogPort] = &[CatalogPort {
    name: "redis",
    port: 6379,
}];
const SECRETS: &[SecretSpec] = &[SecretSpec {
    name: "password",
    length: 32,
}];

fn build_with(ctx: &EntryContext, server: &str, cli: &str) -> EntryParts {
    let mut parts = EntryParts::default();
    // The server reads its password from the command line; the env var lets the health check
    // authenticate without the secret appearing in the check's text.
    parts
        .env
        .insert("REDIS_PASSWORD".into(), ctx.secret_env("password"));
    parts.args = Some(vec![
        server.into(),
        "--requirepass".into(),
        ctx.secret("password"),
        "--appendonly".into(),
        "yes".into(),
    ]);
    parts.health = Some(Health::shell(&format!(
        "REDISCLI_AUTH=\"$REDIS_PASSWORD\" {cli} ping | grep -q PONG"
    )));
    parts.data_paths = vec![DataPath {
        name: "data".into(),
        path: "/data".into(),
    }];
    let url = Template::lit("redis://:")
        .push_secret(ctx.secret_id("password"))
        .push_lit("@")
        .push_host(ctx.service)
        .push_lit(":6379/0");
    parts.connection.insert("URL".into(), url);
    parts.connection.insert("HOST".into(), ctx.host());
    parts.connection.insert("PORT".into(), "6379".into());
    parts.connection.insert("PASSWORD".into(), ctx.secret("password"));
    parts
}

fn build_redis(ctx: &EntryContext) -> EntryParts {
    build_with(ctx, "redis-server", "redis-cli")
}

/// Redis (official image, runs as 999).
pub const REDIS: CatalogEntry = CatalogEntry {
    type_name: "redis",
    description: "Redis in-memory cache and data store",
    repository: "redis",
    default_version: "8.4.0",
    stateful: true,
    ports: PORTS,
    uid: 999,
    gid: 999,
    read_only_root: true,
    writable_paths: &["/tmp"],
    add_capabilities: &[],
    size: SizePreset::Nano,
    secrets: SECRETS,
    build: build_redis,
};
