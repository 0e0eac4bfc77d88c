//! The workload of a service: a StatefulSet with one volume claim per data path for stateful
//! services, a Deployment otherwise.
//!
//! The `devstack.dev/depends-on` annotation lists the dependencies (sorted); the operator rolls
//! a workload out only once they are Ready, as Compose waits for `service_healthy`.

use devstack_core::conventions::ANNOTATION_DEPENDS_ON;
use devstack_core::plan::{ServicePlan, VolumePlan, Workload};
use devstack_core::quantity::format_bytes;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::labels::{object_meta, selector, service_labels};
use super::{pod, Ctx, K8sObject};

fn workload_meta(ctx: &Ctx, service: &ServicePlan) -> ObjectMeta {
    let mut metadata = object_meta(ctx, service.name.clone(), service_labels(ctx, service));
    if !service.depends_on.is_empty() {
        let mut deps: Vec<&str> = service.dependency_names().collect();
        deps.sort();
        deps.dedup();
        metadata.annotations = Some([(ANNOTATION_DEPENDS_ON.to_string(), deps.join(","))].into());
    }
    metadata
}

/// The Deployment or StatefulSet of `service`.
pub(crate) fn render(ctx: &Ctx, service: &ServicePlan) -> K8sObject {
    let template = pod::template(ctx, service);
    let metadata = workload_meta(ctx, service);
    let (volumes, retain_on_delete) = match &service.workload {
        Workload::Stateless { replicas } => {
            return K8sObject::Deployment(Deployment {
                metadata,
                spec: DeploymentSpec {
                    replicas: Some(i32::try_from(*replicas).unwrap_or(i32::MAX)),
                    selector: selector(ctx, &service.name),
                    template,
                    ..DeploymentSpec::default()
                },
                ..Deployment::default()
            });
        }
        Workload::Stateful {
            volumes,
            retain_on_delete,
        } => (volumes, *retain_on_delete),
    };
    let claims: Vec<PersistentVolumeClaim> =
        volumes.iter().map(|v| claim(ctx, service, v)).collect();
    let when_deleted = if retain_on_delete { "Retain" } else { "Delete" };
    K8sObject::StatefulSet(StatefulSet {
        metadata,
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(service.name.clone()),
            selector: selector(ctx, &service.name),
            template,
            volume_claim_templates: (!claims.is_empty()).then_some(claims),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(when_deleted.into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            ..StatefulSetSpec::default()
        },
        ..StatefulSet::default()
    })
}

/// The volume claim template of one persisted path.
fn claim(ctx: &Ctx, service: &ServicePlan, volume: &VolumePlan) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(volume.name.clone()),
            labels: Some(service_labels(ctx, service)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(
                    [(
                        "storage".to_string(),
                        Quantity(format_bytes(volume.size_bytes)),
                    )]
                    .into(),
                ),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    const STACK: &str = r#"
services:
  db: {type: postgres, storage: {size: 5Gi, retainOnDelete: false}}
  cache: {type: redis}
  api:
    image: ghcr.io/acme/api:1
    replicas: 3
    dependsOn: [db, cache]
"#;

    #[test]
    fn stateless_service_is_a_deployment() {
        let plan = plan_spec(STACK);
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let K8sObject::Deployment(d) = render(&ctx, &plan.services["api"]) else {
            panic!("expected a Deployment");
        };
        assert_eq!(d.spec.replicas, Some(3));
        assert_eq!(
            d.metadata.annotations.unwrap()[ANNOTATION_DEPENDS_ON],
            "cache,db"
        );
        let selected = d.spec.selector.match_labels.unwrap();
        let labels = d.spec.template.metadata.unwrap().labels.unwrap();
        assert!(selected.iter().all(|(k, v)| labels.get(k) == Some(v)));
        assert_eq!(selected.len(), 2);
    }

    #[test]
    fn stateful_service_is_a_statefulset_with_claims() {
        let plan = plan_spec(STACK);
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let K8sObject::StatefulSet(s) = render(&ctx, &plan.services["db"]) else {
            panic!("expected a StatefulSet");
        };
        assert!(s.metadata.annotations.is_none());
        assert_eq!(s.spec.replicas, Some(1));
        assert_eq!(s.spec.service_name.as_deref(), Some("db"));
        let claims = s.spec.volume_claim_templates.unwrap();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("data"));
        let spec = claims[0].spec.clone().unwrap();
        assert_eq!(spec.access_modes.unwrap(), ["ReadWriteOnce"]);
        assert_eq!(
            spec.resources.unwrap().requests.unwrap()["storage"].0,
            "5Gi"
        );
        let policy = s.spec.persistent_volume_claim_retention_policy.unwrap();
        assert_eq!(policy.when_deleted.as_deref(), Some("Delete"));
        assert_eq!(policy.when_scaled.as_deref(), Some("Retain"));

        let K8sObject::StatefulSet(cache) = render(&ctx, &plan.services["cache"]) else {
            panic!("expected a StatefulSet");
        };
        let policy = cache.spec.persistent_volume_claim_retention_policy.unwrap();
        assert_eq!(policy.when_deleted.as_deref(), Some("Retain"));
        let claims = cache.spec.volume_claim_templates.unwrap();
        assert_eq!(
            claims[0]
                .spec
                .clone()
                .unwrap()
                .resources
                .unwrap()
                .requests
                .unwrap()["storage"]
                .0,
            "1Gi"
        );
    }
}
