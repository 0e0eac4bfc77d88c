//! Invariants every catalog entry must keep, and one golden file per entry.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::template::{SecretId, Segment};

fn parts_of(entry: &CatalogEntry) -> EntryParts {
    let env = BTreeMap::new();
    let ctx = EntryContext {
        stack: "demo",
        service: entry.type_name,
        version: entry.default_version,
        user_env: &env,
        memory_limit_bytes: entry.size.budget().limit_memory_bytes,
        host_ports: &BTreeMap::new(),
    };
    (entry.build)(&ctx)
}

#[test]
fn entries_are_sorted_and_unique() {
    let names: Vec<_> = type_names().collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        names, sorted,
        "ENTRIES must be sorted by type name, no duplicates"
    );
}

#[test]
fn every_entry_keeps_the_catalog_invariants() {
    for entry in ENTRIES {
        let parts = parts_of(entry);
        let name = entry.type_name;
        assert!(!entry.ports.is_empty(), "{name}: needs at least one port");
        let port_names: BTreeSet<_> = entry.ports.iter().map(|p| p.name).collect();
        assert_eq!(
            port_names.len(),
            entry.ports.len(),
            "{name}: duplicate port names"
        );
        assert_eq!(
            entry.stateful,
            !parts.data_paths.is_empty(),
            "{name}: stateful types (and only they) have data paths"
        );
        let declared: BTreeSet<SecretId> = entry
            .secrets
            .iter()
            .map(|s| SecretId::new(name, s.name))
            .collect();
        // Every secret hole in args/env/connections must be a declared secret that the
        // container also carries as a plain env var (Kubernetes expands `$(VAR)` from it).
        let carried: BTreeSet<SecretId> = parts
            .env
            .values()
            .filter_map(|v| match v {
                EnvValue::Secret(id) => Some(id.clone()),
                EnvValue::Template(_) => None,
            })
            .collect();
        let mut used = BTreeSet::new();
        let templates = parts
            .args
            .iter()
            .flatten()
            .chain(parts.command.iter().flatten())
            .chain(parts.env.values().filter_map(|v| match v {
                EnvValue::Template(t) => Some(t),
                EnvValue::Secret(_) => None,
            }));
        for template in templates {
            for id in template.secrets() {
                assert!(
                    carried.contains(id),
                    "{name}: secret {id} used in args/env but not carried as an env var"
                );
                used.insert(id.clone());
            }
        }
        for template in parts.connection.values() {
            for segment in &template.0 {
                match segment {
                    Segment::Secret(id) => {
                        used.insert(id.clone());
                    }
                    Segment::Host(service) => assert_eq!(
                        service, name,
                        "{name}: connection host must be the service itself"
                    ),
                    Segment::Lit(_) => {}
                }
            }
        }
        used.extend(carried.iter().cloned());
        assert_eq!(
            used, declared,
            "{name}: declared secrets and used secrets differ"
        );
        assert!(
            parts.connection.contains_key("HOST"),
            "{name}: connection outputs need HOST"
        );
        assert!(
            parts.connection.contains_key("PORT"),
            "{name}: connection outputs need PORT"
        );
        assert!(
            parts.connection.contains_key("URL"),
            "{name}: connection outputs need URL"
        );
        if let Some(health) = &parts.health {
            match &health.check {
                Check::Http { port, .. } | Check::Tcp { port } => {
                    assert!(
                        entry.port(port).is_some(),
                        "{name}: health check port {port} is not a port"
                    )
                }
                Check::Exec(argv) => assert!(!argv.is_empty(), "{name}: empty health command"),
            }
        }
        for path in entry
            .writable_paths
            .iter()
            .map(|p| p.to_string())
            .chain(parts.data_paths.iter().map(|d| d.path.clone()))
        {
            assert!(path.starts_with('/'), "{name}: {path} must be absolute");
        }
        assert!(
            !entry.default_version.is_empty() && entry.default_version != "latest",
            "{name}: pin a version"
        );
    }
}

#[test]
fn every_entry_has_a_golden_rendering() {
    for entry in ENTRIES {
        let parts = parts_of(entry);
        insta::assert_yaml_snapshot!(format!("entry_{}", entry.type_name), (entry, parts));
    }
}

#[test]
fn health_checks_never_carry_secrets_or_kubernetes_expansions() {
    for entry in ENTRIES {
        let parts = parts_of(entry);
        let Some(Health {
            check: Check::Exec(argv),
            ..
        }) = &parts.health
        else {
            continue;
        };
        for arg in argv {
            assert!(
                !arg.contains("DEVSTACK_") && !arg.contains("$("),
                "{}: health command must read secrets from the container env: {arg}",
                entry.type_name
            );
        }
    }
}

#[test]
fn slow_starters_get_a_start_period() {
    for name in [
        "elasticsearch",
        "kafka",
        "neo4j",
        "opensearch",
        "rabbitmq",
        "postgres",
        "pgvector",
        "timescaledb",
    ] {
        let entry = lookup(name).unwrap();
        let health = parts_of(entry).health.unwrap();
        assert!(
            (30..=60).contains(&health.start_period_seconds),
            "{name}: start period {}",
            health.start_period_seconds
        );
    }
}

#[test]
fn only_the_scratch_image_relies_on_an_outside_check() {
    for entry in ENTRIES {
        let health = parts_of(entry).health;
        let outside = !matches!(
            health,
            Some(Health {
                check: Check::Exec(_),
                ..
            })
        );
        assert_eq!(
            outside,
            entry.type_name == "otel-collector",
            "{}: use a container-native exec check",
            entry.type_name
        );
    }
}

#[test]
fn pinned_versions_and_secret_lengths_are_sane() {
    for entry in ENTRIES {
        assert!(
            !entry.default_version.contains("latest"),
            "{}: pin a version",
            entry.type_name
        );
        for secret in entry.secrets {
            // MinIO and Neo4j need at least 8; everything gets far more.
            assert!(secret.length >= 24, "{}: short secret", entry.type_name);
        }
    }
}

#[test]
fn java_heap_is_half_the_limit() {
    let env = BTreeMap::new();
    let published = BTreeMap::new();
    let ctx = |limit: u64| EntryContext {
        stack: "demo",
        service: "search",
        version: "1",
        user_env: &env,
        memory_limit_bytes: limit,
        host_ports: &published,
    };
    assert_eq!(
        java_heap(&ctx(SizePreset::Small.budget().limit_memory_bytes)),
        "-Xms512m -Xmx512m"
    );
    assert_eq!(
        java_heap(&ctx(SizePreset::Medium.budget().limit_memory_bytes)),
        "-Xms1024m -Xmx1024m"
    );
    assert_eq!(java_heap(&ctx(3 << 30)), "-Xms1536m -Xmx1536m");
    assert_eq!(
        java_heap(&ctx(64 << 20)),
        "-Xms64m -Xmx64m",
        "never below 64m"
    );
}

#[test]
fn bash_http_check_is_one_bash_script() {
    let Check::Exec(argv) = Health::bash_http(6333, "/readyz").check else {
        panic!("exec check expected");
    };
    assert_eq!(argv[..2], ["bash".to_string(), "-c".to_string()]);
    assert_eq!(
        argv[2],
        "exec 3<>/dev/tcp/127.0.0.1/6333 && \
         printf 'GET /readyz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && \
         read -r status <&3 && [[ $status == *' 200 '* ]]"
    );
}

#[test]
fn every_type_of_the_brief_is_listed() {
    let names: BTreeSet<_> = type_names().collect();
    for name in [
        "chroma",
        "clickhouse",
        "elasticsearch",
        "grafana",
        "jaeger",
        "kafka",
        "keydb",
        "minio",
        "mongodb",
        "nats",
        "neo4j",
        "ollama",
        "opensearch",
        "otel-collector",
        "pgvector",
        "postgres",
        "prometheus",
        "qdrant",
        "rabbitmq",
        "redis",
        "timescaledb",
        "valkey",
        "weaviate",
    ] {
        assert!(names.contains(name), "{name} missing");
    }
}
