//! Live parity on Kubernetes: the objects a stack has in the cluster (applied by the operator,
//! or by `kubectl apply` of a rendering), read back through the API server, against the
//! Kubernetes rendering of the same plan — aspect by aspect in the normalized form of
//! [`super`], through the same reader as the rendering.
//!
//! The cluster's credentials are its own (the operator generates them): their values are
//! recognized in the connections Secret and compared as markers, as the rendering has them.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::LABEL_STACK;
use devstack_core::plan::StackPlan;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::ListParams;
use kube::{Api, Client};
use serde::Serialize;
use serde_json::Value;

use super::{k8s, replace_secret_values, secret_marker, secret_markers, ParityError, Report};

fn err(message: impl Into<String>) -> ParityError {
    ParityError::ReadBack {
        mode: "cluster objects",
        message: message.into(),
    }
}

/// Compares the objects of `plan` in namespace `plan.dns_namespace()` with its rendering.
pub async fn check(client: &Client, plan: &StackPlan) -> Result<Report, ParityError> {
    let markers = secret_markers(plan);
    // Rendered as the operator does on this cluster: for CPU where no node offers GPUs.
    let nodes = if devstack_render_k8s::gpu::needs_nodes(plan) {
        Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| err(format!("listing nodes: {e}")))?
            .items
    } else {
        Vec::new()
    };
    let options = devstack_render_k8s::RenderOptions::from_nodes(plan, &nodes);
    let objects = devstack_render_k8s::render_with(plan, Some(&markers), options)?;
    let rendered = k8s::read_back(&devstack_render_k8s::to_yaml_stream(&objects)?, plan)?;
    let live = k8s::read_back(&read_live(client, plan).await?, plan)?;
    if live.services.is_empty() {
        return Err(err(format!(
            "no workload of stack {:?} in namespace {:?}: is it applied (and is this the namespace)?",
            plan.name,
            plan.dns_namespace()
        )));
    }
    // Only published ports have node ports (the `<service>-nodeport` Service), so every node
    // port reads back as the host port it was planned for: nothing is excused.
    let mut report = super::compare(&plan.name, &rendered, &live, &BTreeSet::new());
    super::as_live_check(&mut report, "cluster", |_| None);
    Ok(report)
}

/// The stack's objects as a YAML stream, as the renderer would print them: server-set fields
/// left out, the credentials in the connections Secret replaced by their markers.
async fn read_live(client: &Client, plan: &StackPlan) -> Result<String, ParityError> {
    let ns = plan.dns_namespace();
    let by_stack = ListParams::default().labels(&format!("{LABEL_STACK}={}", plan.name));
    let mut docs = Vec::new();
    docs.extend(list::<StatefulSet>(client, ns, &by_stack).await?);
    docs.extend(list::<Deployment>(client, ns, &by_stack).await?);
    docs.extend(list::<Service>(client, ns, &by_stack).await?);
    docs.extend(list::<ConfigMap>(client, ns, &by_stack).await?);
    docs.extend(list::<NetworkPolicy>(client, ns, &by_stack).await?);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let get = |name: String| {
        let secrets = secrets.clone();
        async move {
            secrets
                .get_opt(&name)
                .await
                .map_err(|e| err(format!("reading Secret {name}: {e}")))
        }
    };
    let credentials = data(get(plan.credentials_secret_name()).await?.as_ref());
    if let Some(connections) = get(plan.connections_secret_name()).await? {
        let marked: BTreeMap<String, String> = data(Some(&connections))
            .into_iter()
            .map(|(key, value)| {
                let value = replace_secret_values(&value, &credentials, secret_marker);
                (key, value)
            })
            .collect();
        let secret = Secret {
            metadata: connections.metadata,
            string_data: Some(marked),
            type_: connections.type_,
            ..Secret::default()
        };
        docs.push(document(&secret)?);
    }
    let mut stream = String::new();
    for doc in docs {
        stream.push_str("---\n");
        stream.push_str(&devstack_core::yaml::to_string(&doc).map_err(|e| err(e.to_string()))?);
    }
    Ok(stream)
}

async fn list<K>(client: &Client, ns: &str, params: &ListParams) -> Result<Vec<Value>, ParityError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Serialize,
    <K as kube::Resource>::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), ns);
    let items = api
        .list(params)
        .await
        .map_err(|e| err(format!("listing {}: {e}", K::kind(&Default::default()))))?
        .items;
    items.iter().map(document).collect()
}

/// An object as a document: without status and the server's bookkeeping.
fn document<K: Serialize>(object: &K) -> Result<Value, ParityError> {
    let mut value = serde_json::to_value(object).map_err(|e| err(e.to_string()))?;
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
    }
    Ok(value)
}

fn data(secret: Option<&Secret>) -> BTreeMap<String, String> {
    let Some(secret) = secret else {
        return BTreeMap::new();
    };
    let mut out = secret.string_data.clone().unwrap_or_default();
    for (key, value) in secret.data.iter().flatten() {
        out.insert(key.clone(), String::from_utf8_lossy(&value.0).into_owned());
    }
    out
}
