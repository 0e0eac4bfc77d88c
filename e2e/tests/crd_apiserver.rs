//! The generated CRD on a real API server: it installs and becomes Established, the examples
//! are accepted, and the schema and CEL rules reject what the API server can check on its own
//! (with the messages `crds/src/types.rs` gives them). Needs the local control plane
//! (`e2e/cluster.sh up`); without one it fails, never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use anyhow::{Context, Result};
use devstack_core::parse::parse_devstack;
use devstack_core::DevStack;
use devstack_e2e::TestNamespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, CustomResourceExt};

async fn install_crd() -> Result<()> {
    let client = devstack_e2e::client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let crd = DevStack::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply("devstack").force(),
        &Patch::Apply(&crd),
    )
    .await
    .context("applying the DevStack CRD")?;
    devstack_e2e::poll_until("CRD Established", Duration::from_secs(60), || {
        let crds = crds.clone();
        let name = name.clone();
        async move {
            let crd = crds.get(&name).await?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(()))
        }
    })
    .await
}

fn stack(services: &str) -> DevStack {
    parse_devstack(&format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: probe}}\nspec:\n  services:\n{services}"
    ))
    .expect("test stack parses")
}

/// Creates `stack` and returns the API server's rejection message, if any.
async fn rejection(api: &Api<DevStack>, stack: &DevStack) -> Option<String> {
    match api.create(&PostParams::default(), stack).await {
        Ok(created) => {
            let name = created.metadata.name.unwrap_or_default();
            let _ = api.delete(&name, &Default::default()).await;
            None
        }
        Err(kube::Error::Api(status)) => Some(status.message),
        Err(other) => Some(format!("unexpected error: {other}")),
    }
}

#[tokio::test]
async fn crd_installs_and_its_rules_reject_bad_specs() -> Result<()> {
    install_crd().await?;
    let ns = TestNamespace::new("crd").await?;
    let api: Api<DevStack> = ns.api();

    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for entry in std::fs::read_dir(&examples)? {
        let path = entry?.path();
        // examples/apps/ holds the build contexts of the examples' own services.
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let mut stack = parse_devstack(&std::fs::read_to_string(&path)?)?;
        stack.metadata.namespace = None;
        let rejected = rejection(&api, &stack).await;
        assert_eq!(rejected, None, "{} was rejected", path.display());
    }

    let cases = [
        (
            "    db: {type: postgres, image: 'postgres:18'}\n",
            "set exactly one of type",
        ),
        ("    db: {profiles: [x]}\n", "set exactly one of type"),
        (
            "    db: {type: postgres, replicas: 3}\n",
            "replicas > 1 is only allowed",
        ),
        (
            "    db: {type: postgres, hostPorts: {postgres: 70000}}\n",
            "host ports must be within 1-65535",
        ),
        (
            "    Bad_Name: {type: postgres}\n",
            "service names must be DNS labels",
        ),
        (
            "    api: {image: 'a:1', ports: [{name: http, containerPort: 0}]}\n",
            "containerPort",
        ),
        (
            "    api: {image: 'a:1', healthcheck: {tcp: {port: x}, exec: {command: [true]}}}\n",
            "set exactly one of http, tcp or exec",
        ),
        (
            "    api: {image: 'a:1', files: {etc/x: {content: a}}}\n",
            "file paths must be absolute",
        ),
        (
            "    api: {image: 'a:1', files: {/etc/x: {content: a, source: b}}}\n",
            "set exactly one of content",
        ),
        (
            "    api: {image: 'a:1', files: {/etc/x: {content: a, mode: '0999'}}}\n",
            "mode is an octal string",
        ),
        (
            "    api: {image: 'a:1', storage: {size: 1Gi}}\n",
            "needs its data path",
        ),
        (
            "    db: {type: postgres, storage: {path: /x}}\n",
            "the catalog decides where",
        ),
        (
            "    api: {image: 'a:1', replicas: 2, storage: {path: /data}}\n",
            "runs exactly one replica",
        ),
    ];
    for (services, expected) in cases {
        let message = rejection(&api, &stack(services)).await;
        let message = message.unwrap_or_else(|| panic!("accepted although invalid:\n{services}"));
        assert!(message.contains(expected), "{services}: {message}");
    }
    let mut empty = stack("    db: {type: postgres}\n");
    empty.spec.services.clear();
    let message = rejection(&api, &empty)
        .await
        .expect("empty services rejected");
    assert!(message.contains("services must not be empty"), "{message}");

    ns.cleanup().await
}
