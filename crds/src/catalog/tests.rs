//! Invariants every catalog entry must keep, and one golden file per entry.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::template::Segment;

fn parts_of(entry: &CatalogEntry) -> EntryParts {
    let env = BTreeMap::new();
    let ctx = EntryContext {
        stack: "demo",
        service: entry.type_name,
        version: entry.default_version,
        user_env: &env,
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
        let declared: BTreeSet<String> = entry
            .secrets
            .iter()
            .map(|s| secret_id(name, s.name))
            .collect();
        // Every secret hole in args/env/connections must be a declared secret that the
        // container also carries as a plain env var (Kubernetes expands `$(VAR)` from it).
        let carried: BTreeSet<String> = parts
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
                used.insert(id.to_string());
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
