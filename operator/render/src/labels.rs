//! Names, labels and annotations shared by every rendered object.
//!
//! Selectors use only [`LABEL_STACK`] and [`LABEL_SERVICE`]; the `app.kubernetes.io/*` labels
//! are the recommended ones, for humans and dashboards.

use std::collections::BTreeMap;

use devstack_core::conventions::{LABEL_SERVICE, LABEL_STACK, MANAGED_BY};
use devstack_core::plan::ServicePlan;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::Ctx;

pub(crate) type Labels = BTreeMap<String, String>;

fn common(stack: &str, name: &str) -> Labels {
    [
        ("app.kubernetes.io/name", name),
        ("app.kubernetes.io/instance", stack),
        ("app.kubernetes.io/managed-by", MANAGED_BY),
        ("app.kubernetes.io/part-of", stack),
        (LABEL_STACK, stack),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Labels of stack-wide objects (Secrets, the default-deny policy).
pub(crate) fn stack_labels(ctx: &Ctx) -> Labels {
    common(&ctx.plan.name, &ctx.plan.name)
}

/// Labels of one service's objects and pods.
pub(crate) fn service_labels(ctx: &Ctx, service: &ServicePlan) -> Labels {
    let mut labels = common(&ctx.plan.name, &service.name);
    labels.insert(
        "app.kubernetes.io/component".into(),
        service.type_name.clone().unwrap_or_else(|| "custom".into()),
    );
    labels.insert(LABEL_SERVICE.into(), service.name.clone());
    labels
}

/// The labels that select one service's pods.
pub(crate) fn selector_labels(ctx: &Ctx, service: &str) -> Labels {
    [
        (LABEL_STACK.to_string(), ctx.plan.name.clone()),
        (LABEL_SERVICE.to_string(), service.to_string()),
    ]
    .into()
}

/// A label selector matching one service's pods.
pub(crate) fn selector(ctx: &Ctx, service: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(selector_labels(ctx, service)),
        ..LabelSelector::default()
    }
}

/// Metadata of a top-level object: name, namespace when the plan has one, labels.
pub(crate) fn object_meta(ctx: &Ctx, name: impl Into<String>, labels: Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: ctx.plan.namespace.clone(),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn service_labels_carry_component_and_service() {
        let plan = plan_spec("services:\n  db: {type: postgres}\n  web: {image: nginx:1}\n");
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let db = service_labels(&ctx, &plan.services["db"]);
        assert_eq!(db["app.kubernetes.io/component"], "postgres");
        assert_eq!(db["app.kubernetes.io/name"], "db");
        assert_eq!(db[LABEL_SERVICE], "db");
        assert_eq!(db[LABEL_STACK], "demo");
        let web = service_labels(&ctx, &plan.services["web"]);
        assert_eq!(web["app.kubernetes.io/component"], "custom");
        let stack = stack_labels(&ctx);
        assert_eq!(stack["app.kubernetes.io/name"], "demo");
        assert!(!stack.contains_key(LABEL_SERVICE));
        assert!(!stack.contains_key("app.kubernetes.io/component"));
    }
}
