//! Analytical databases: ClickHouse.

use super::{
    http_url, CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SecretSpec, SizePreset,
};
use crate::template::Template;

fn build_clickhouse(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    let user = ctx.env_or("CLICKHOUSE_USER", "devstack");
    let db = ctx.env_or("CLICKHOUSE_DB", "devstack");
    parts.env_lit("CLICKHOUSE_USER", user.clone());
    parts.env_secret("CLICKHOUSE_PASSWORD", ctx, "password");
    parts.env_lit("CLICKHOUSE_DB", db.clone());
    // Lets that user manage users and grants with SQL, as on a developer's own server.
    parts.env_lit("CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT", "1");
    parts.health = Some(Health::wget("http://127.0.0.1:8123/ping"));
    parts.data("data", "/var/lib/clickhouse");
    let url = Template::lit(format!("clickhouse://{user}:"))
        .push_secret(ctx.secret_id("password"))
        .push_lit("@")
        .push_host(ctx.service)
        .push_lit(format!(":9000/{db}"));
    parts.connect(ctx, url, 9000);
    parts.output("HTTP_URL", http_url(ctx, 8123, ""));
    parts.output("HTTP_PORT", "8123");
    parts.output("USER", user);
    parts.output("PASSWORD", ctx.secret("password"));
    parts.output("DB", db);
    parts
}

/// ClickHouse (official image, runs as 101; the entrypoint writes the user's config into
/// /etc/clickhouse-server, so the root filesystem stays writable). Native protocol first: it
/// is the port of the URL.
pub const CLICKHOUSE: CatalogEntry = CatalogEntry {
    type_name: "clickhouse",
    description: "ClickHouse column-oriented analytics database",
    repository: "clickhouse",
    default_version: "25.12.1",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "native",
            port: 9000,
        },
        CatalogPort {
            name: "http",
            port: 8123,
        },
    ],
    uid: 101,
    gid: 101,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Small,
    secrets: &[SecretSpec {
        name: "password",
        length: 32,
    }],
    build: build_clickhouse,
};
