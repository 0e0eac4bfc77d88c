//! Graph databases: Neo4j.

use super::{
    http_url, CatalogEntry, CatalogPort, EntryContext, EntryParts, EnvValue, Health, SecretSpec,
    SizePreset,
};
use crate::template::Template;

fn build_neo4j(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    // NEO4J_AUTH is `neo4j/<password>`; a plain variable carries the secret so Kubernetes can
    // expand it into the template. Not `NEO4J_PASSWORD`: the entrypoint turns every other
    // NEO4J_* variable into a neo4j.conf setting, and strict config validation rejects an
    // unknown one (and the secret would land in the file).
    parts.env_secret("DEVSTACK_PASSWORD", ctx, "password");
    parts.env.insert(
        "NEO4J_AUTH".into(),
        EnvValue::Template(Template::lit("neo4j/").push_secret(ctx.secret_id("password"))),
    );
    // Half the small preset's 1 GiB for the heap, a little for the page cache; Neo4j would
    // otherwise size both from the host's memory.
    parts.env_lit("NEO4J_server_memory_heap_initial__size", "512m");
    parts.env_lit("NEO4J_server_memory_heap_max__size", "512m");
    parts.env_lit("NEO4J_server_memory_pagecache_size", "128m");
    parts.health = Some(Health::wget("http://127.0.0.1:7474").start_period(60));
    parts.data("data", "/data");
    parts.data("logs", "/logs");
    let url = Template::lit("neo4j://")
        .push_host(ctx.service)
        .push_lit(":7687");
    parts.connect(ctx, url, 7687);
    parts.output("HTTP_URL", http_url(ctx, 7474, ""));
    parts.output("USER", "neo4j");
    parts.output("PASSWORD", ctx.secret("password"));
    parts
}

/// Neo4j community (runs as 7474; its entrypoint writes /var/lib/neo4j/conf, so the root
/// filesystem stays writable). Bolt first: it is what drivers connect to.
pub const NEO4J: CatalogEntry = CatalogEntry {
    type_name: "neo4j",
    description: "Neo4j graph database",
    repository: "neo4j",
    default_version: "2025.11.2",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "bolt",
            port: 7687,
        },
        CatalogPort {
            name: "http",
            port: 7474,
        },
    ],
    uid: 7474,
    gid: 7474,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Small,
    secrets: &[SecretSpec {
        name: "password",
        length: 32,
    }],
    build: build_neo4j,
};
