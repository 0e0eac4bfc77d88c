//! The Kubernetes renderer: the resolved [`StackPlan`] in, typed objects out, no I/O.
//!
//! Every decision is already in the plan; this crate only spells it the Kubernetes way
//! (the Compose renderer spells the same plan the Docker way, and `devstack parity` checks
//! that both say the same thing). Output order is deterministic: Secrets, ConfigMaps (files),
//! NetworkPolicies, Services (each service's ClusterIP Service, then its NodePort one), then
//! workloads, each group by service name.
//!
//! Only services active under the plan's profiles are rendered.
//!
//! The one choice that depends on the cluster (GPUs or the CPU fallback) is made from a node
//! list the caller gives ([`gpu`], [`RenderOptions::from_nodes`]): rendering needs no client.
//!
//! Modules, named like their counterparts in the Compose renderer (`devstack_render_compose`):
//! `labels` (labels, selectors, metadata), `health` (probes), `reachability` and `egress`
//! (NetworkPolicies), `resources` (requests and limits), `secrets` (the stack's two Secrets),
//! `files` (a service's files as a ConfigMap), `devloop` (built images, host mounts, sync
//! volumes), `text` (`$(VAR)` references and escaping); then the objects: `service`, `pod`,
//! `workload`.

use std::collections::BTreeMap;

use devstack_core::conventions;
use devstack_core::plan::StackPlan;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde::Serialize;

mod devloop;
mod egress;
mod files;
pub mod gpu;
mod health;
pub mod kind;
mod labels;
mod pod;
mod reachability;
mod resources;
mod rollout;
mod scrape;
mod secrets;
mod service;
mod text;
mod workload;

pub use gpu::gpu_offered;

pub use devstack_core::conventions::{
    ANNOTATION_DEPENDS_ON, LABEL_SERVICE, LABEL_STACK, MANAGED_BY, RETAIN_ON_DELETE,
};

/// One rendered Kubernetes object.
#[derive(Clone, Debug, PartialEq)]
pub enum K8sObject {
    /// The credentials or connections Secret of the stack.
    Secret(Secret),
    /// The files of one service (mounted with `subPath`).
    ConfigMap(ConfigMap),
    /// A NetworkPolicy (strict isolation only).
    NetworkPolicy(NetworkPolicy),
    /// The Service in front of one service.
    Service(Service),
    /// The workload of a stateless service.
    Deployment(Deployment),
    /// The workload of a stateful service.
    StatefulSet(StatefulSet),
}

impl K8sObject {
    /// The object's kind (`Secret`, `Deployment`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            K8sObject::Secret(_) => "Secret",
            K8sObject::ConfigMap(_) => "ConfigMap",
            K8sObject::NetworkPolicy(_) => "NetworkPolicy",
            K8sObject::Service(_) => "Service",
            K8sObject::Deployment(_) => "Deployment",
            K8sObject::StatefulSet(_) => "StatefulSet",
        }
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            K8sObject::Secret(o) => &o.metadata,
            K8sObject::ConfigMap(o) => &o.metadata,
            K8sObject::NetworkPolicy(o) => &o.metadata,
            K8sObject::Service(o) => &o.metadata,
            K8sObject::Deployment(o) => &o.metadata,
            K8sObject::StatefulSet(o) => &o.metadata,
        }
    }

    /// The object's metadata, to change.
    pub fn metadata_mut(
        &mut self,
    ) -> &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        match self {
            K8sObject::Secret(o) => &mut o.metadata,
            K8sObject::ConfigMap(o) => &mut o.metadata,
            K8sObject::NetworkPolicy(o) => &mut o.metadata,
            K8sObject::Service(o) => &mut o.metadata,
            K8sObject::Deployment(o) => &mut o.metadata,
            K8sObject::StatefulSet(o) => &mut o.metadata,
        }
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
}

impl Serialize for K8sObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            K8sObject::Secret(o) => o.serialize(serializer),
            K8sObject::ConfigMap(o) => o.serialize(serializer),
            K8sObject::NetworkPolicy(o) => o.serialize(serializer),
            K8sObject::Service(o) => o.serialize(serializer),
            K8sObject::Deployment(o) => o.serialize(serializer),
            K8sObject::StatefulSet(o) => o.serialize(serializer),
        }
    }
}

/// Why objects could not be rendered or written. A valid plan always renders; what can fail
/// is a missing secret value and serialization.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The caller supplied secret values, but not this one.
    #[error("no value supplied for secret {id:?}")]
    MissingSecret {
        /// Secret id.
        id: String,
    },
    /// YAML serialization failed.
    #[error("failed to write {kind} {name:?} as YAML")]
    Yaml {
        /// Object kind.
        kind: &'static str,
        /// Object name.
        name: String,
        /// Cause.
        #[source]
        source: devstack_core::yaml::YamlError,
    },
}

/// Choices that depend on the cluster rather than the plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// No node offers `nvidia.com/gpu`: services whose GPUs are not required run on CPU (no
    /// GPU limit, `DEVSTACK_GPU=0`). The operator sets it from the nodes; `devstack render
    /// k8s --gpu-fallback` sets it by hand.
    pub gpu_fallback: bool,
}

impl RenderOptions {
    /// The options the operator renders with on a cluster of `nodes`: the CPU fallback when
    /// no node offers the GPUs the plan's services want ([`gpu::gpu_offered`]).
    pub fn from_nodes(plan: &StackPlan, nodes: &[k8s_openapi::api::core::v1::Node]) -> Self {
        RenderOptions {
            gpu_fallback: !gpu::gpu_offered(plan, nodes),
        }
    }

    /// Whether `service` runs on CPU instead of its GPUs.
    pub fn falls_back_to_cpu(&self, service: &devstack_core::plan::ServicePlan) -> bool {
        service.gpu > 0 && self.gpu_fallback && !service.gpu_required
    }
}

/// What every part of the renderer needs: the plan, where its services live, the options.
pub(crate) struct Ctx<'a> {
    pub plan: &'a StackPlan,
    pub options: RenderOptions,
    /// The generated secret values, when the caller has them (see [`rollout`]).
    pub values: Option<&'a BTreeMap<String, String>>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(plan: &'a StackPlan, options: RenderOptions) -> Self {
        Ctx {
            plan,
            options,
            values: None,
        }
    }

    /// In-cluster host name of a service: `<service>.<namespace>.svc`.
    pub fn host(&self, service: &str) -> String {
        conventions::k8s_host(service, self.plan.dns_namespace())
    }
}

/// Renders the active services of `plan` as Kubernetes objects.
///
/// `secrets` holds the generated credential values by secret id. With `None` the two stack
/// Secrets (`<stack>-credentials`, `<stack>-connections`) are not rendered (the operator
/// creates them in the cluster); every workload still references them by name.
pub fn render(
    plan: &StackPlan,
    secrets: Option<&BTreeMap<String, String>>,
) -> Result<Vec<K8sObject>, RenderError> {
    render_with(plan, secrets, RenderOptions::default())
}

/// [`render`] with cluster-dependent [`RenderOptions`].
pub fn render_with(
    plan: &StackPlan,
    secrets: Option<&BTreeMap<String, String>>,
    options: RenderOptions,
) -> Result<Vec<K8sObject>, RenderError> {
    let mut ctx = Ctx::new(plan, options);
    ctx.values = secrets;
    let mut objects = Vec::new();
    if let Some(values) = secrets {
        objects.extend(
            secrets::render(&ctx, values)?
                .into_iter()
                .map(K8sObject::Secret),
        );
    }
    objects.extend(
        plan.active_services()
            .filter_map(|s| files::config_map(&ctx, s))
            .map(K8sObject::ConfigMap),
    );
    objects.extend(
        reachability::render(&ctx)
            .into_iter()
            .map(K8sObject::NetworkPolicy),
    );
    objects.extend(
        plan.active_services()
            .flat_map(|s| service::render(&ctx, s))
            .map(K8sObject::Service),
    );
    objects.extend(plan.active_services().map(|s| workload::render(&ctx, s)));
    Ok(objects)
}

/// Writes objects as one YAML stream: each document starts with `---`.
pub fn to_yaml_stream(objects: &[K8sObject]) -> Result<String, RenderError> {
    let mut out = String::new();
    for object in objects {
        let doc = devstack_core::yaml::to_string(object).map_err(|source| RenderError::Yaml {
            kind: object.kind(),
            name: object.name().to_string(),
            source,
        })?;
        out.push_str("---\n");
        out.push_str(&doc);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::{fake_secrets, plan_spec};

    const STACK: &str = r#"
services:
  db: {type: postgres}
  cache: {type: redis, profiles: [extra]}
  api:
    image: ghcr.io/acme/api:1.0
    ports: [{name: http, containerPort: 8080}]
    dependsOn: [db]
"#;

    #[test]
    fn orders_objects_by_kind_then_name() {
        let plan = plan_spec(STACK);
        let objects = render(&plan, Some(&fake_secrets(&plan))).unwrap();
        let got: Vec<(&str, &str)> = objects.iter().map(|o| (o.kind(), o.name())).collect();
        assert_eq!(
            got,
            vec![
                ("Secret", "demo-credentials"),
                ("Secret", "demo-connections"),
                ("NetworkPolicy", "demo-default-deny"),
                ("NetworkPolicy", "demo-api-egress"),
                ("NetworkPolicy", "demo-db-egress"),
                ("NetworkPolicy", "demo-db-ingress"),
                ("Service", "api"),
                ("Service", "db"),
                ("Deployment", "api"),
                ("StatefulSet", "db"),
            ]
        );
    }

    #[test]
    fn without_secret_values_the_secrets_are_not_rendered() {
        let plan = plan_spec(STACK);
        let objects = render(&plan, None).unwrap();
        assert!(objects.iter().all(|o| o.kind() != "Secret"));
        let yaml = to_yaml_stream(&objects).unwrap();
        assert!(yaml.contains("name: demo-credentials"), "still referenced");
    }

    #[test]
    fn inactive_services_are_skipped() {
        let plan = plan_spec(STACK);
        let objects = render(&plan, Some(&fake_secrets(&plan))).unwrap();
        assert!(objects.iter().all(|o| o.name() != "cache"));
        let yaml = to_yaml_stream(&objects).unwrap();
        assert!(!yaml.contains("DEVSTACK_CACHE_PASSWORD"));
        assert!(!yaml.contains("CACHE_URL"));
    }

    #[test]
    fn missing_secret_value_is_an_error() {
        let plan = plan_spec(STACK);
        let err = render(&plan, Some(&BTreeMap::new())).unwrap_err();
        assert!(
            matches!(err, RenderError::MissingSecret { ref id } if id == "DEVSTACK_DB_PASSWORD"),
            "{err}"
        );
    }

    #[test]
    fn namespace_is_set_only_when_planned() {
        let mut plan = plan_spec(STACK);
        let objects = render(&plan, None).unwrap();
        assert!(objects.iter().all(|o| o.metadata().namespace.is_none()));
        plan.namespace = Some("team".into());
        let objects = render(&plan, None).unwrap();
        assert!(objects
            .iter()
            .all(|o| o.metadata().namespace.as_deref() == Some("team")));
    }

    #[test]
    fn yaml_stream_is_documents_with_kinds() {
        let plan = plan_spec(STACK);
        let objects = render(&plan, Some(&fake_secrets(&plan))).unwrap();
        let yaml = to_yaml_stream(&objects).unwrap();
        assert!(yaml.starts_with("---\n"));
        assert_eq!(yaml.matches("---\n").count(), objects.len());
        assert!(yaml.contains("apiVersion: apps/v1\nkind: StatefulSet\n"));
        assert!(yaml.contains("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"));
    }
}
