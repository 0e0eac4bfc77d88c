//! The operator's chart on the local control plane: `helm install` rolls the Deployment out
//! (the kwok node marks the pods Ready) in a namespace that enforces Pod Security
//! `restricted`, and the ServiceAccount's permissions, read back with
//! `kubectl auth can-i --list`, are exactly the chart's rules: no wildcard, and in namespaced
//! mode no Secret outside the watched namespaces.
//!
//! Run: `e2e/cluster.sh up && KUBECONFIG=$(e2e/cluster.sh kubeconfig) cargo test -p
//! devstack-e2e --test chart_install`. Without a cluster these tests fail; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use devstack_e2e::helm::Release;
use devstack_e2e::kubectl::Kubectl;
use devstack_e2e::TestNamespace;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::Api;

/// One permission: (resource as kubectl prints it, resource names, verb).
type Grant = (String, String, String);

/// What the chart grants in a namespace the operator watches.
const WATCHED: &[(&str, &[&str])] = &[
    ("devstacks.devstack.dev", &["list", "watch", "patch"]),
    ("devstacks.devstack.dev/status", &["patch"]),
    ("devstacks.devstack.dev/finalizers", &["update"]),
    (
        "secrets",
        &["get", "list", "watch", "create", "patch", "delete"],
    ),
    (
        "configmaps",
        &["get", "list", "watch", "create", "patch", "delete"],
    ),
    (
        "services",
        &["get", "list", "watch", "create", "patch", "delete"],
    ),
    ("services/proxy", &["get"]),
    ("persistentvolumeclaims", &["list", "delete"]),
    ("pods", &["list"]),
    (
        "statefulsets.apps",
        &[
            "get",
            "list",
            "watch",
            "create",
            "patch",
            "delete",
            "deletecollection",
        ],
    ),
    (
        "deployments.apps",
        &["get", "list", "watch", "create", "patch", "delete"],
    ),
    (
        "networkpolicies.networking.k8s.io",
        &["get", "list", "watch", "create", "patch", "delete"],
    ),
    ("events.events.k8s.io", &["create", "patch"]),
    ("events", &["list"]),
];

/// Granted everywhere: watching the DevStack CRD only.
const CRD: (&str, &str, &[&str]) = (
    "customresourcedefinitions.apiextensions.k8s.io",
    "[devstacks.devstack.dev]",
    &["list", "watch"],
);

/// Leader election, in the release's namespace when replicas > 1: create any Lease, read and
/// renew only the release's.
fn lease_grants(lease: &str) -> BTreeSet<Grant> {
    let leases = "leases.coordination.k8s.io".to_string();
    let mut set: BTreeSet<Grant> =
        [(leases.clone(), "[]".to_string(), "create".to_string())].into();
    for verb in ["get", "patch"] {
        set.insert((leases.clone(), format!("[{lease}]"), verb.to_string()));
    }
    set
}

fn grants(rows: &[(&str, &[&str])]) -> BTreeSet<Grant> {
    rows.iter()
        .flat_map(|(res, verbs)| {
            verbs
                .iter()
                .map(|v| (res.to_string(), "[]".to_string(), v.to_string()))
        })
        .collect()
}

/// The cluster-wide grants of both modes: the CRD, and listing Nodes (GPU capacity).
fn crd_grants() -> BTreeSet<Grant> {
    let mut set: BTreeSet<Grant> = CRD
        .2
        .iter()
        .map(|v| (CRD.0.to_string(), CRD.1.to_string(), v.to_string()))
        .collect();
    set.insert(("nodes".to_string(), "[]".to_string(), "list".to_string()));
    set
}

/// `kubectl auth can-i --list --as=USER -n NS`, one [`Grant`] per (resource, names, verb).
/// Rows without a resource (non-resource URLs) are skipped: the built-in discovery roles
/// grant those to every authenticated user, the chart grants none.
fn can_i_list(user: &str, namespace: &str) -> Result<BTreeSet<Grant>> {
    let out = Kubectl::new()?.run(&["auth", "can-i", "--list", "--as", user, "-n", namespace])?;
    let mut set = BTreeSet::new();
    for line in out.lines().skip(1) {
        // Resources  Non-Resource URLs  Resource Names  Verbs
        let (resource, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let cols: Vec<&str> = rest
            .split(']')
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .map(|c| c.trim_start_matches('['))
            .collect();
        let [_urls, names, verbs] = cols[..] else {
            anyhow::bail!("unexpected `kubectl auth can-i --list` line: {line:?}");
        };
        if resource.is_empty() {
            continue;
        }
        for verb in verbs.split_whitespace() {
            set.insert((resource.to_string(), format!("[{names}]"), verb.to_string()));
        }
    }
    Ok(set)
}

/// What `user` may do in `namespace` beyond what every authenticated user may (the
/// ServiceAccount `default` of the same namespace has no bindings, so it is the baseline).
fn granted(sa_namespace: &str, sa: &str, namespace: &str) -> Result<BTreeSet<Grant>> {
    let all = can_i_list(
        &format!("system:serviceaccount:{sa_namespace}:{sa}"),
        namespace,
    )?;
    for (res, names, verb) in &all {
        assert!(
            !res.contains('*') && !names.contains('*') && !verb.contains('*'),
            "wildcard in the rules of {sa}: {res} {names} {verb}"
        );
    }
    let baseline = can_i_list(
        &format!("system:serviceaccount:{sa_namespace}:default"),
        namespace,
    )?;
    Ok(all.difference(&baseline).cloned().collect())
}

/// `kubectl auth can-i VERB RESOURCE --as USER ARGS`: true for "yes".
fn can_i(user: &str, verb: &str, resource: &str, args: &[&str]) -> Result<bool> {
    let mut a = vec!["auth", "can-i", verb, resource, "--as", user];
    a.extend_from_slice(args);
    let out = Kubectl::new()?.output(&a, None)?;
    let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match answer.as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => anyhow::bail!(
            "kubectl auth can-i answered {answer:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Makes the namespace enforce Pod Security `restricted`, so the API server rejects an
/// operator pod that is not.
async fn enforce_restricted(ns: &TestNamespace) -> Result<()> {
    let patch = serde_json::json!({"metadata": {"labels": {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }}});
    Api::<Namespace>::all(ns.client())
        .patch(ns.name(), &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .context("labelling the namespace")?;
    Ok(())
}

async fn available_replicas(ns: &TestNamespace, name: &str) -> Result<i32> {
    let d = ns.api::<Deployment>().get(name).await?;
    Ok(d.status.and_then(|s| s.available_replicas).unwrap_or(0))
}

#[tokio::test]
async fn every_namespace_mode_rolls_out_with_exactly_the_chart_rules() -> Result<()> {
    // The kwok node runs the operator's pods (Ready without the image): this test is about
    // what the chart creates, chart_operator runs the operator itself.
    let ns = TestNamespace::on_kwok("chart-all").await?;
    enforce_restricted(&ns).await?;
    let release = Release::install(ns.name(), ns.name(), &[])?;
    assert!(
        release.notes().contains("rollout status deployment/"),
        "NOTES.txt does not tell the next command:\n{}",
        release.notes()
    );
    let sa = release.fullname();
    assert_eq!(available_replicas(&ns, &sa).await?, 1);

    let mut want = grants(WATCHED);
    want.extend(crd_grants());
    // The same everywhere: its own namespace and one it never saw.
    assert_eq!(granted(ns.name(), &sa, ns.name())?, want);
    assert_eq!(granted(ns.name(), &sa, "kube-system")?, want);
    assert!(!can_i(
        &release.service_account_user(),
        "get",
        "nodes",
        &[]
    )?);

    drop(release);
    ns.cleanup().await
}

#[tokio::test]
async fn namespaced_mode_grants_secrets_only_in_watched_namespaces() -> Result<()> {
    let ns = TestNamespace::on_kwok("chart-ns").await?;
    let watched = TestNamespace::new("chart-watched").await?;
    let other = TestNamespace::new("chart-other").await?;
    enforce_restricted(&ns).await?;
    let watch = format!("watchNamespaces={{{}}}", watched.name());
    let release = Release::install(ns.name(), ns.name(), &[&watch, "replicas=2"])?;
    let sa = release.fullname();
    let user = release.service_account_user();
    assert_eq!(available_replicas(&ns, &sa).await?, 2);

    let mut in_watched = grants(WATCHED);
    in_watched.extend(crd_grants());
    assert_eq!(granted(ns.name(), &sa, watched.name())?, in_watched);

    let mut in_release = lease_grants(&sa);
    in_release.extend(crd_grants());
    assert_eq!(granted(ns.name(), &sa, ns.name())?, in_release);
    assert_eq!(granted(ns.name(), &sa, other.name())?, crd_grants());

    for (verb, args) in [
        ("get", vec!["-n", other.name()]),
        ("list", vec!["-n", ns.name()]),
        ("list", vec!["--all-namespaces"]),
    ] {
        assert!(
            !can_i(&user, verb, "secrets", &args)?,
            "{verb} secrets {args:?} is allowed"
        );
    }
    assert!(can_i(&user, "get", "secrets", &["-n", watched.name()])?);

    drop(release);
    other.cleanup().await?;
    watched.cleanup().await?;
    ns.cleanup().await
}
