//! The two stack-wide Secrets: `<stack>-credentials` (generated values by secret id) and
//! `<stack>-connections` (every active service's connection keys, with in-cluster host names
//! and the secret values filled in). Both are rendered even when empty, so every stack has
//! the same two Secrets.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use devstack_core::conventions::RETAIN_ON_DELETE;

use super::labels::{object_meta, stack_labels};
use super::text::secret_text;
use super::{Ctx, RenderError};

/// The credentials and connections Secrets, in that order.
pub(crate) fn render(
    ctx: &Ctx,
    values: &BTreeMap<String, String>,
) -> Result<Vec<Secret>, RenderError> {
    let plan = ctx.plan;
    let active = |service: &str| plan.services.get(service).is_some_and(|s| s.active);

    let mut credentials = BTreeMap::new();
    for def in plan.secrets.iter().filter(|d| active(&d.service)) {
        let value = values
            .get(def.id.as_str())
            .ok_or_else(|| RenderError::MissingSecret {
                id: def.id.to_string(),
            })?;
        credentials.insert(def.id.to_string(), value.clone());
    }

    let mut connections = BTreeMap::new();
    for service in plan.active_services() {
        for (key, template) in &service.connection {
            connections.insert(key.clone(), secret_text(ctx, template, values)?);
        }
    }

    let retain = plan.active_services().any(|s| s.retains_data());
    let secret = |name: String, data: BTreeMap<String, String>| {
        let mut metadata = object_meta(ctx, name, stack_labels(ctx));
        if retain {
            metadata.annotations =
                Some([(RETAIN_ON_DELETE.to_string(), "true".to_string())].into());
        }
        Secret {
            metadata,
            type_: Some("Opaque".into()),
            string_data: Some(data),
            ..Secret::default()
        }
    };
    Ok(vec![
        secret(plan.credentials_secret_name(), credentials),
        secret(plan.connections_secret_name(), connections),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::{fake_secrets, plan_spec};

    #[test]
    fn credentials_and_connections_of_active_services() {
        let mut plan = plan_spec(
            "services:\n  db: {type: postgres}\n  cache: {type: redis, profiles: [x]}\n  web: {image: nginx:1, ports: [{name: http, containerPort: 80}]}\n",
        );
        plan.namespace = Some("team".into());
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let secrets = render(&ctx, &fake_secrets(&plan)).unwrap();
        let creds = secrets[0].string_data.as_ref().unwrap();
        assert_eq!(
            secrets[0].metadata.name.as_deref(),
            Some("demo-credentials")
        );
        assert_eq!(creds.len(), 1);
        assert_eq!(
            creds["DEVSTACK_DB_PASSWORD"],
            "fixture-DEVSTACK_DB_PASSWORD"
        );
        let conns = secrets[1].string_data.as_ref().unwrap();
        assert_eq!(
            secrets[1].metadata.name.as_deref(),
            Some("demo-connections")
        );
        assert_eq!(
            conns["DB_URL"],
            "postgresql://postgres:fixture-DEVSTACK_DB_PASSWORD@db.team.svc:5432/postgres"
        );
        assert_eq!(conns["WEB_HOST"], "web.team.svc");
        assert!(!conns.keys().any(|k| k.starts_with("CACHE_")));
        assert_eq!(secrets[0].type_.as_deref(), Some("Opaque"));
        // postgres retains its data by default.
        for s in &secrets {
            let annotations = s.metadata.annotations.as_ref().unwrap();
            assert_eq!(annotations[RETAIN_ON_DELETE], "true");
        }
    }

    #[test]
    fn no_retain_annotation_without_retained_data() {
        let plan = plan_spec(
            "services:\n  db: {type: postgres, storage: {retainOnDelete: false}}\n  web: {image: nginx:1}\n",
        );
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let secrets = render(&ctx, &fake_secrets(&plan)).unwrap();
        assert!(secrets.iter().all(|s| s.metadata.annotations.is_none()));
    }
}
