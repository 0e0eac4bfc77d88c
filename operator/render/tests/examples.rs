//! Golden files: the Kubernetes rendering of every `examples/*.yaml`, with fixed fake secret
//! values (`fixture-<id>`), is an insta snapshot under `tests/snapshots/`. After an intended
//! change, run `cargo insta test -p devstack-render-k8s --review` (or `INSTA_UPDATE=always`)
//! and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use devstack_core::test_support as fixtures;

#[test]
fn every_example_matches_its_snapshot() {
    let examples = fixtures::examples();
    assert!(!examples.is_empty(), "no examples/*.yaml found");
    let mut failures = Vec::new();
    for (name, text) in &examples {
        let plan = match fixtures::plan_example(name, text) {
            Ok(plan) => plan,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let yaml = devstack_render_k8s::render(&plan, Some(&fixtures::fake_secrets(&plan)))
            .and_then(|objects| devstack_render_k8s::to_yaml_stream(&objects));
        match yaml {
            Ok(yaml) => insta::assert_snapshot!(name.as_str(), yaml),
            Err(e) => failures.push(format!("{name}: render: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "examples that do not render:\n{}",
        failures.join("\n")
    );
}

#[test]
fn rendering_without_secret_values_references_the_same_secrets() {
    for (name, text) in fixtures::examples() {
        let plan = fixtures::plan_example(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        let with =
            devstack_render_k8s::render(&plan, Some(&fixtures::fake_secrets(&plan))).unwrap();
        let without = devstack_render_k8s::render(&plan, None).unwrap();
        let with: Vec<_> = with.into_iter().filter(|o| o.kind() != "Secret").collect();
        let with_yaml = devstack_render_k8s::to_yaml_stream(&with).unwrap();
        assert!(
            !with_yaml.contains("fixture-"),
            "{name}: a secret value leaked into a workload"
        );
        // With the values known, consumers of app secrets carry a hash of them (a rotation
        // rolls them out); nothing else differs.
        let with: Vec<_> = with.into_iter().map(without_app_secrets_hash).collect();
        assert_eq!(with, without, "{name}");
        let yaml = devstack_render_k8s::to_yaml_stream(&without).unwrap();
        assert!(
            !yaml.contains("fixture-"),
            "{name}: a secret value leaked into a workload"
        );
    }
}

fn without_app_secrets_hash(
    object: devstack_render_k8s::K8sObject,
) -> devstack_render_k8s::K8sObject {
    use devstack_render_k8s::K8sObject;
    let strip = |t: &mut k8s_openapi::api::core::v1::PodTemplateSpec| {
        if let Some(meta) = t.metadata.as_mut() {
            if let Some(a) = meta.annotations.as_mut() {
                a.remove("devstack.dev/app-secrets-hash");
            }
            if meta.annotations.as_ref().is_some_and(|a| a.is_empty()) {
                meta.annotations = None;
            }
        }
    };
    match object {
        K8sObject::Deployment(mut d) => {
            strip(&mut d.spec.template);
            K8sObject::Deployment(d)
        }
        K8sObject::StatefulSet(mut s) => {
            strip(&mut s.spec.template);
            K8sObject::StatefulSet(s)
        }
        other => other,
    }
}
