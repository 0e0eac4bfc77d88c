//! Document databases: MongoDB.

use super::{CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SecretSpec, SizePreset};
use crate::template::Template;

fn build_mongodb(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    let user = ctx.env_or("MONGO_INITDB_ROOT_USERNAME", "devstack");
    let db = ctx.env_or("MONGO_INITDB_DATABASE", "devstack");
    // With a root user set, the entrypoint turns authentication on.
    parts.env_lit("MONGO_INITDB_ROOT_USERNAME", user.clone());
    parts.env_secret("MONGO_INITDB_ROOT_PASSWORD", ctx, "password");
    parts.env_lit("MONGO_INITDB_DATABASE", db.clone());
    // `ping` needs no authentication; mongosh exits non-zero when it cannot connect.
    parts.health = Some(
        Health::exec(&[
            "mongosh",
            "--quiet",
            "--norc",
            "--eval",
            "db.adminCommand('ping').ok",
        ])
        .start_period(30)
        .timeout(10),
    );
    parts.data("data", "/data/db");
    parts.data("config", "/data/configdb");
    let url = Template::lit(format!("mongodb://{user}:"))
        .push_secret(ctx.secret_id("password"))
        .push_lit("@")
        .push_host(ctx.service)
        .push_lit(format!(":27017/{db}?authSource=admin"));
    parts.connect(ctx, url, 27017);
    parts.output("USER", user);
    parts.output("PASSWORD", ctx.secret("password"));
    parts.output("DB", db);
    parts
}

/// MongoDB (official image, runs as 999; mongod's socket goes to /tmp).
pub const MONGODB: CatalogEntry = CatalogEntry {
    type_name: "mongodb",
    description: "MongoDB document database",
    repository: "mongo",
    default_version: "8.2.3",
    stateful: true,
    ports: &[CatalogPort {
        name: "mongodb",
        port: 27017,
    }],
    uid: 999,
    gid: 999,
    read_only_root: true,
    writable_paths: &["/tmp"],
    add_capabilities: &[],
    size: SizePreset::Small,
    secrets: &[SecretSpec {
        name: "password",
        length: 32,
    }],
    build: build_mongodb,
};
