//! Redis-protocol caches: Redis, Valkey, KeyDB. No env contract for the password, and it never
//! goes on a command line (`docker inspect`, `ps`): the container's shell writes it from the
//! env var into a config file under /tmp (mode 0600) and execs the server with that file; the
//! health check authenticates through `REDISCLI_AUTH`.
//!
//! What the image must support (the official images and `e2e/images/redis` do): `sh` with the
//! `printf` builtin, a writable /tmp, and `sh -c …` as the command exec'd unchanged by its
//! entrypoint (a command that is neither `redis-server` nor starts with `-`).

use super::{
    CatalogEntry, CatalogPort, DataPath, EntryContext, EntryParts, Health, SecretSpec, SizePreset,
};
use crate::template::Template;

const PORTS: &[CatalogPort] = &[CatalogPort {
    name: "redis",
    port: 6379,
}];
/// The generated config file (on the writable /tmp).
const CONFIG: &str = "/tmp/devstack-redis.conf";

const SECRETS: &[SecretSpec] = &[SecretSpec {
    name: "password",
    length: 32,
}];

/// How one Redis-protocol image is started.
struct Flavour {
    /// Server binary.
    server: &'static str,
    /// The image's own config file, included by the generated one (KeyDB starts from it).
    include: Option<&'static str>,
    /// Arguments after the password and AOF flags.
    extra: &'static [&'static str],
    /// CLI used by the health check.
    cli: &'static str,
    /// Env var carrying the password (for `$(VAR)` expansion and the health check).
    password_env: &'static str,
}

fn build_with(ctx: &EntryContext, flavour: &Flavour) -> EntryParts {
    let mut parts = EntryParts::default();
    // The env var carries the password to the shell that writes the config file, and lets the
    // health check authenticate without the secret appearing in the check's text.
    parts
        .env
        .insert(flavour.password_env.into(), ctx.secret_env("password"));
    let include = flavour
        .include
        .map(|f| format!("echo 'include {f}'; "))
        .unwrap_or_default();
    let mut server = vec![flavour.server, CONFIG, "--appendonly", "yes"];
    server.extend(flavour.extra);
    let script = format!(
        "umask 077 && {{ {include}printf 'requirepass %s\\n' \"${}\"; }} > {CONFIG} && exec {}",
        flavour.password_env,
        server.join(" ")
    );
    parts.args = Some(vec!["sh".into(), "-c".into(), script.into()]);
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
            server: "redis-server",
            include: None,
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
            server: "valkey-server",
            include: None,
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
            // The image's CMD passes its config file; include it, then pin what matters here
            // rather than rely on how the (dormant) image edited that file.
            server: "keydb-server",
            include: Some("/etc/keydb/keydb.conf"),
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
