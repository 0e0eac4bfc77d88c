//! PostgreSQL and its image variants (pgvector, TimescaleDB): one env contract, one URL.

use super::url;
use super::{
    CatalogEntry, CatalogPort, DataPath, EntryContext, EntryParts, EnvValue, Health, SecretSpec,
    SizePreset,
};
use crate::template::Template;

const PORTS: &[CatalogPort] = &[CatalogPort {
    name: "postgres",
    port: 5432,
}];
const SECRETS: &[SecretSpec] = &[SecretSpec {
    name: "password",
    length: 32,
}];

/// Postgres 18 moved the volume to `/var/lib/postgresql`; mounting the old path on 18+ makes
/// the container exit, so the data path depends on the major version.
/// Returns (volume mount path, PGDATA). PGDATA is set explicitly so images built elsewhere
/// (mirrors, local test images) put the cluster where the volume is.
fn data_layout(major: Option<u32>) -> (String, String) {
    match major {
        Some(m) if m < 18 => (
            "/var/lib/postgresql/data".to_string(),
            "/var/lib/postgresql/data".to_string(),
        ),
        Some(m) => (
            "/var/lib/postgresql".to_string(),
            format!("/var/lib/postgresql/{m}/docker"),
        ),
        None => (
            "/var/lib/postgresql".to_string(),
            "/var/lib/postgresql/18/docker".to_string(),
        ),
    }
}

/// How long a first start (initdb) may take before failed checks count.
const FIRST_START_SECONDS: u32 = 60;

/// Shared by every Postgres-compatible image; `major` is the Postgres major version.
fn build_postgres(ctx: &EntryContext, major: Option<u32>) -> EntryParts {
    let user = ctx.env_or("POSTGRES_USER", "postgres");
    let db = ctx.env_or("POSTGRES_DB", &user);
    let mut parts = EntryParts::default();
    parts.env.insert(
        "POSTGRES_USER".into(),
        EnvValue::Template(user.clone().into()),
    );
    parts
        .env
        .insert("POSTGRES_DB".into(), EnvValue::Template(db.clone().into()));
    parts
        .env
        .insert("POSTGRES_PASSWORD".into(), ctx.secret_env("password"));
    // The first start runs initdb, the init scripts (pgvector's and TimescaleDB's CREATE
    // EXTENSION) and a restart within the nano budget's half CPU: 3.6 s on an idle machine,
    // over 60 s while a two-core CI machine started ten catalog types and built a release
    // binary (timescaledb, 2026-12-07). A success ends the start period at once, so the wider
    // window costs a healthy start nothing.
    parts.health = Some(
        Health::shell("pg_isready -h 127.0.0.1 -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\"")
            .start_period(FIRST_START_SECONDS),
    );
    let (mount, pgdata) = data_layout(major);
    parts
        .env
        .insert("PGDATA".into(), EnvValue::Template(pgdata.into()));
    parts.data_paths = vec![DataPath {
        name: "data".into(),
        path: mount,
    }];
    let url = Template::lit(format!("postgresql://{}:", url::component(&user)))
        .push_secret(ctx.secret_id("password"))
        .push_lit("@")
        .push_host(ctx.service)
        .push_lit(format!(":5432/{}", url::component(&db)));
    parts.connection.insert("URL".into(), url);
    parts.connection.insert("HOST".into(), ctx.host());
    parts.connection.insert("PORT".into(), "5432".into());
    parts.connection.insert("USER".into(), user.into());
    parts
        .connection
        .insert("PASSWORD".into(), ctx.secret("password"));
    parts.connection.insert("DB".into(), db.into());
    parts
}

fn build_plain(ctx: &EntryContext) -> EntryParts {
    build_postgres(ctx, ctx.major())
}

/// `0.8.1-pg18-trixie` → 18.
fn pg_major_from_tag(version: &str) -> Option<u32> {
    let rest = version.split("-pg").nth(1)?;
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Where pgvector's init script creates the extension: the official entrypoint runs it with
/// psql in `POSTGRES_DB` on first start (an empty data directory) only.
pub const PGVECTOR_INIT_PATH: &str = "/docker-entrypoint-initdb.d/00-devstack-vector.sql";

fn build_pgvector(ctx: &EntryContext) -> EntryParts {
    let mut parts = build_postgres(ctx, pg_major_from_tag(ctx.version));
    parts.files.insert(
        PGVECTOR_INIT_PATH.to_string(),
        "-- Written by devstack: the pgvector type enables its extension in the stack's database.\nCREATE EXTENSION IF NOT EXISTS vector;\n".to_string(),
    );
    parts
}

fn build_timescaledb(ctx: &EntryContext) -> EntryParts {
    let mut parts = build_postgres(ctx, pg_major_from_tag(ctx.version));
    // A development instance should not phone home; users can turn it back on in `env`.
    parts.env_lit("TIMESCALEDB_TELEMETRY", "off");
    parts
}

/// PostgreSQL (official Debian image, runs as 999).
pub const POSTGRES: CatalogEntry = CatalogEntry {
    type_name: "postgres",
    description: "PostgreSQL relational database",
    repository: "postgres",
    default_version: "18.1",
    stateful: true,
    ports: PORTS,
    uid: 999,
    gid: 999,
    read_only_root: true,
    writable_paths: &["/var/run/postgresql", "/tmp"],
    add_capabilities: &[],
    size: SizePreset::Nano,
    secrets: SECRETS,
    build: build_plain,
};

/// PostgreSQL with the pgvector extension (`CREATE EXTENSION vector;`).
pub const PGVECTOR: CatalogEntry = CatalogEntry {
    type_name: "pgvector",
    description: "PostgreSQL with the pgvector extension",
    repository: "pgvector/pgvector",
    default_version: "0.8.1-pg18-trixie",
    build: build_pgvector,
    ..POSTGRES
};

/// PostgreSQL with the TimescaleDB extension (Alpine based: the postgres user is 70).
pub const TIMESCALEDB: CatalogEntry = CatalogEntry {
    type_name: "timescaledb",
    description: "PostgreSQL with the TimescaleDB time-series extension",
    repository: "timescale/timescaledb",
    default_version: "2.24.0-pg18",
    uid: 70,
    gid: 70,
    build: build_timescaledb,
    ..POSTGRES
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn data_path(entry: &CatalogEntry, version: &str) -> (String, String) {
        let env = BTreeMap::new();
        let ctx = EntryContext {
            stack: "demo",
            service: "db",
            version,
            user_env: &env,
            memory_limit_bytes: 1 << 30,
            host_ports: &BTreeMap::new(),
        };
        let parts = (entry.build)(&ctx);
        let pgdata = match parts.env.get("PGDATA") {
            Some(EnvValue::Template(t)) => t.as_literal().unwrap_or_default(),
            _ => String::new(),
        };
        (parts.data_paths[0].path.clone(), pgdata)
    }

    #[test]
    fn postgres_18_uses_the_new_layout_and_17_the_old_one() {
        assert_eq!(
            data_path(&POSTGRES, "18.1"),
            (
                "/var/lib/postgresql".to_string(),
                "/var/lib/postgresql/18/docker".to_string()
            )
        );
        assert_eq!(
            data_path(&POSTGRES, "17.6-alpine"),
            (
                "/var/lib/postgresql/data".to_string(),
                "/var/lib/postgresql/data".to_string()
            )
        );
        // An unparsable tag gets the layout of the default version.
        assert_eq!(data_path(&POSTGRES, "nightly").0, "/var/lib/postgresql");
    }

    #[test]
    fn variant_tags_carry_the_postgres_major() {
        assert_eq!(pg_major_from_tag("0.8.1-pg18-trixie"), Some(18));
        assert_eq!(pg_major_from_tag("0.8.0-pg17"), Some(17));
        assert_eq!(pg_major_from_tag("2.24.0-pg18"), Some(18));
        assert_eq!(pg_major_from_tag("2.17.2-pg16-oss"), Some(16));
        assert_eq!(pg_major_from_tag("2.24.0"), None);
        assert_eq!(
            data_path(&PGVECTOR, "0.8.0-pg17").0,
            "/var/lib/postgresql/data"
        );
        assert_eq!(
            data_path(&TIMESCALEDB, "2.17.2-pg16").1,
            "/var/lib/postgresql/data"
        );
        assert_eq!(
            data_path(&TIMESCALEDB, "2.24.0-pg18").1,
            "/var/lib/postgresql/18/docker"
        );
    }

    #[test]
    fn user_and_db_overrides_reach_the_url() {
        let env = BTreeMap::from([
            ("POSTGRES_USER".to_string(), "soma".to_string()),
            ("POSTGRES_DB".to_string(), "ledger".to_string()),
        ]);
        let ctx = EntryContext {
            stack: "demo",
            service: "db",
            version: "18.1",
            user_env: &env,
            memory_limit_bytes: 1 << 30,
            host_ports: &BTreeMap::new(),
        };
        let parts = (POSTGRES.build)(&ctx);
        let url = parts.connection["URL"].render(|_| "X".to_string());
        assert_eq!(url, "postgresql://soma:X@X:5432/ledger");
    }
}
