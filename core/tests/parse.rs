//! Reading manifests: wrong shapes are errors that name the field, never panics.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test helpers panic on broken fixtures

use devstack_core::error::chain;
use devstack_core::parse::{parse_devstack, ParseError};
use devstack_core::plan::{plan, PlanOptions};
use proptest::prelude::*;

#[test]
fn unknown_field_is_named() {
    let err = parse_devstack("apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: x}\nspec:\n  services:\n    api: {image: 'a:1', dependOn: [db]}\n").expect_err("unknown field");
    let text = chain(&err);
    assert!(
        text.starts_with("spec.services.api.dependOn: "),
        "names the field first: {text}"
    );
    assert!(text.contains("dependsOn"), "lists the known fields: {text}");
}

#[test]
fn wrong_kind_is_rejected() {
    let err = parse_devstack("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
        .expect_err("wrong kind");
    assert!(
        matches!(
            err,
            ParseError::WrongKind {
                field: "apiVersion",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn empty_and_multi_document_files_are_rejected() {
    assert!(matches!(parse_devstack(""), Err(ParseError::Documents(_))));
    let two = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: a}\nspec: {services: {}}\n---\napiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: b}\nspec: {services: {}}\n";
    assert!(matches!(parse_devstack(two), Err(ParseError::Documents(_))));
}

#[test]
fn wrong_value_type_is_named() {
    let err = parse_devstack("apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: x}\nspec:\n  services:\n    db: {type: postgres, hostPorts: {postgres: high}}\n").expect_err("not a number");
    assert!(
        matches!(&err, ParseError::Field { path, .. } if path == "spec.services.db.hostPorts.postgres"),
        "{err:?}"
    );
    let text = chain(&err);
    assert!(
        text.starts_with("spec.services.db.hostPorts.postgres: "),
        "names the field first: {text}"
    );
    assert!(text.contains("invalid i64"), "says what is wrong: {text}");
}

fn yaml_fragment() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("postgres".to_string()),
        Just("redis".to_string()),
        Just("-1".to_string()),
        Just("70000".to_string()),
        Just("\"\"".to_string()),
        Just("[]".to_string()),
        Just("{}".to_string()),
        Just("null".to_string()),
        "[a-z]{1,6}",
        "[0-9]{1,6}",
        Just("1Gi".to_string()),
        Just("250m".to_string()),
    ];
    let key = prop_oneof![
        Just("type"),
        Just("image"),
        Just("version"),
        Just("profiles"),
        Just("hostPorts"),
        Just("ports"),
        Just("replicas"),
        Just("dependsOn"),
        Just("storage"),
        Just("resources"),
        Just("env"),
        Just("gpu"),
        Just("healthcheck"),
        Just("command"),
        Just("args"),
        Just("postgres"),
        Just("redis"),
        Just("name"),
        Just("containerPort"),
        Just("hostPort"),
        Just("size"),
        Just("limits"),
        Just("requests"),
        Just("cpu"),
        Just("memory"),
        Just("http"),
        Just("tcp"),
        Just("exec"),
        Just("path"),
        Just("port"),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((key.clone(), inner), 0..5).prop_map(|kv| {
                let body: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = parse_devstack(&text);
    }

    /// Arbitrary service shapes never panic parsing or planning.
    #[test]
    fn arbitrary_services_never_panic(services in prop::collection::vec(("[a-z]{1,4}", yaml_fragment()), 0..5), profiles in prop::collection::vec("[a-z]{1,4}", 0..3)) {
        let body: Vec<String> = services.iter().map(|(n, v)| format!("    {n}: {v}")).collect();
        let text = format!("apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: fuzz}}\nspec:\n  profiles: [{}]\n  services:\n{}\n", profiles.join(", "), body.join("\n"));
        if let Ok(stack) = parse_devstack(&text) {
            let _ = plan(&stack, &PlanOptions::default());
        }
    }
}
