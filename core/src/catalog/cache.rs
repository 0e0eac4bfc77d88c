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

/// How one Redis-protocol image is started.
struct Flavour {
    /// Server binary and any leading arguments (KeyDB wants its config file first).
    server: &'static [&'static str],
    /// Arguments after the password and AOF flags.
    extra: &'static [&'static str],
    /// CLI used by the health check.
    cli: &'static str,
    /// Env var carrying the password (for `$(VAR)` expansion and the health check).
    password_env: &'static str,
}

fn build_with(ctx: &EntryContext, flavour: &Flavour) -> EntryParts {
    let mut parts = EntryParts::default();
    // The server reads its password from the command line; the env var lets the health check
    // authenticate without the secret appearing in the check's text.
    parts
        .env
        .insert(flavour.password_env.into(), ctx.secret_env("password"));
    let mut args: Vec<Template> = flavour.server.iter().map(|a| (*a).into()).collect();
    args.extend([
        "--requirepass".into(),
        ctx.secret("password"),
        "--appendonly".into(),
        "yes".into(),
    ]);
    args.extend(flavour.extra.iter().map(|a| (*a).into()));
    parts.args = Some(args);
    // valkey-cli and keydb-cli read REDISCLI_AUTH like redis-cli does.
    parts.health = Some(Health::shell(&format!(
        "REDISCLI_AUTH=\"${}\" {} ping | grep -q PONG",
        flavour.password_env, flavour.cli
    )));
    parts.data_paths = vec![DataPath {
        name: "data".into(),
        path: "/data".into(),
    }];
    // The ACL user `default` is explicit: with an empty user name redis-cli 7 sends
    // `AUTH "" <pw>`, which the server refuses; every client accepts `default:<pw>`.
    let url = Template::lit("redis://default:")
        .push_secret(ctx.secret_id("password"))
        .push_lit("@")
        .push_host(ctx.service)
        .push_lit(":6379/0");
    parts.connection.insert("URL".into(), url);
    parts.connection.insert("HOST".into(), ctx.host());
    parts.connection.insert("PORT".into(), "6379".into());
    parts
        .connection
        .insert("PASSWORD".into(), ctx.secret("password"));
    parts
}

fn build_redis(ctx: &EntryContext) -> EntryParts {
    build_with(
        ctx,
        &Flavour {
            server: &["redis-server"],
            extra: &[],
            cli: "redis-cli",
            password_env: "REDIS_PASSWORD",
        },
    )
}

fn build_valkey(ctx: &EntryContext) -> EntryParts {
    build_with(
        ctx,
        &Flavour {
            server: &["valkey-server"],
            extra: &[],
            cli: "valkey-cli",
            password_env: "VALKEY_PASSWORD",
        },
    )
}

fn build_keydb(ctx: &EntryContext) -> EntryParts {
    build_with(
        ctx,
        &Flavour {
            // The image's CMD passes its config file; keep it, then pin what matters here
            // rather than rely on how the (dormant) image edited that file.
            server: &["keydb-server", "/etc/keydb/keydb.conf"],
            extra: &["--bind", "0.0.0.0", "--dir", "/data"],
            cli: "keydb-cli",
            password_env: "KEYDB_PASSWORD",
        },
    )
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

/// Valkey (the Linux Foundation fork of Redis; official image, runs as 999).
pub const VALKEY: CatalogEntry = CatalogEntry {
    type_name: "valkey",
    description: "Valkey in-memory cache and data store (Redis-compatible)",
    repository: "valkey/valkey",
    default_version: "9.0.1",
    build: build_valkey,
    ..REDIS
};

/// KeyDB (multithreaded Redis fork, dormant since 2023). Its Ubuntu image creates the keydb
/// user with `useradd -r` (999, as in the Redis image) and steps down to it only when started
/// as root, so it runs as 999 directly. The default config writes a pid file under /var/run,
/// so the root filesystem stays writable.
pub const KEYDB: CatalogEntry = CatalogEntry {
    type_name: "keydb",
    description: "KeyDB multithreaded Redis-compatible cache",
    repository: "eqalpha/keydb",
    default_version: "x86_64_v6.3.4",
    read_only_root: false,
    writable_paths: &[],
    build: build_keydb,
    ..REDIS
};
