//! The `.env` file beside `compose.yaml` (the renderer's `secrets` module): active profiles,
//! then every secret of the plan; values it cannot hold literally are errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeMap;

use devstack_core::test_support::plan_yaml;
use devstack_render_compose::{env_file, required_secret_ids, RenderError};

const MINIMAL: &str = r#"
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: shop}
spec:
  services:
    postgres:
      type: postgres
      hostPorts: {postgres: 5433}
      storage: {size: 2Gi, retainOnDelete: false}
"#;

/// Two declared profiles, services in them, in an undeclared one and in none.
const PROFILES: &str = include_str!("fixtures/profiles.yaml");

#[test]
fn env_file_lists_profiles_then_sorted_secrets() {
    let plan = plan_yaml(PROFILES);
    let ids = required_secret_ids(&plan);
    assert_eq!(
        ids,
        [
            "DEVSTACK_CACHE_ALT_PASSWORD",
            "DEVSTACK_POSTGRES_PASSWORD",
            "DEVSTACK_REDIS_PASSWORD"
        ]
    );
    let mut secrets: BTreeMap<String, String> = ids
        .iter()
        .map(|id| (id.clone(), format!("v{}", id.len())))
        .collect();
    secrets.insert("STALE_SECRET".into(), "old".into());
    let text = env_file(&plan, &secrets).expect("env file");
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "COMPOSE_PROFILES=core,extra",
            "DEVSTACK_CACHE_ALT_PASSWORD=v27",
            "DEVSTACK_POSTGRES_PASSWORD=v26",
            "DEVSTACK_REDIS_PASSWORD=v23",
        ]
    );
    assert!(text.starts_with("# "));
    assert!(!text.contains("STALE_SECRET"));
}

#[test]
fn env_file_without_profiles_or_secrets() {
    let plan = plan_yaml(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: bare}\nspec:\n  services:\n    app: {image: \"ghcr.io/acme/app:1\"}\n",
    );
    assert!(required_secret_ids(&plan).is_empty());
    let text = env_file(&plan, &BTreeMap::new()).expect("env file");
    assert_eq!(
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        ["COMPOSE_PROFILES="]
    );
}

#[test]
fn env_file_rejects_missing_and_unwritable_secrets() {
    let plan = plan_yaml(MINIMAL);
    let missing = env_file(&plan, &BTreeMap::new());
    assert!(
        matches!(missing, Err(RenderError::MissingSecret { ref id }) if id == "DEVSTACK_POSTGRES_PASSWORD")
    );
    let empty = BTreeMap::from([("DEVSTACK_POSTGRES_PASSWORD".to_string(), String::new())]);
    assert!(matches!(
        env_file(&plan, &empty),
        Err(RenderError::MissingSecret { .. })
    ));
    let newline = BTreeMap::from([("DEVSTACK_POSTGRES_PASSWORD".to_string(), "a\nb".to_string())]);
    assert!(matches!(
        env_file(&plan, &newline),
        Err(RenderError::UnsafeSecretValue { .. })
    ));
    let special = BTreeMap::from([(
        "DEVSTACK_POSTGRES_PASSWORD".to_string(),
        "a b$c".to_string(),
    )]);
    assert!(env_file(&plan, &special)
        .expect("quoted")
        .contains("DEVSTACK_POSTGRES_PASSWORD='a b$c'\n"));
}
