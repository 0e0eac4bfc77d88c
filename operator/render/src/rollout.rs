//! Restarting a service when the app secrets it reads change: its pod template carries
//! [`ANNOTATION_APP_SECRETS_HASH`], a hash of those values (never the values), so a rotation
//! (`devstack.dev/rotate`) rolls out exactly the consumers. Rendered only when the caller has
//! the values (the operator; `render k8s --include-secrets`).

use std::collections::BTreeMap;

use devstack_core::plan::{EnvSource, ServicePlan};
use sha2::{Digest, Sha256};

use super::Ctx;

/// Pod template annotation: a hash of the app secret values the container reads.
pub const ANNOTATION_APP_SECRETS_HASH: &str = "devstack.dev/app-secrets-hash";

/// The pod template annotations of `service`: the app secrets hash when it reads any and the
/// values are known.
pub(crate) fn annotations(ctx: &Ctx, service: &ServicePlan) -> Option<BTreeMap<String, String>> {
    let values = ctx.values?;
    let mut digest = Sha256::new();
    let mut any = false;
    for var in &service.env {
        let EnvSource::Secret(id) = &var.source else {
            continue;
        };
        if !ctx.plan.secrets.iter().any(|d| d.app && &d.id == id) {
            continue;
        }
        any = true;
        let value = values.get(id.as_str()).map_or("", String::as_str);
        digest.update(format!("{id}={value}\n").as_bytes());
    }
    any.then(|| {
        let hash = hex::encode(digest.finalize());
        [(
            ANNOTATION_APP_SECRETS_HASH.to_string(),
            hash[..32].to_string(),
        )]
        .into()
    })
}

/// Both restart hashes (files, app secrets) on one pod template.
pub(crate) fn merge(
    a: Option<BTreeMap<String, String>>,
    b: Option<BTreeMap<String, String>>,
) -> Option<BTreeMap<String, String>> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.extend(b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use devstack_core::test_support::plan_spec;

    use super::*;
    use crate::RenderOptions;

    #[test]
    fn the_hash_follows_the_app_secret_values_only() {
        let plan = plan_spec(
            "services:\n  db: {type: postgres}\n  api: {image: a:1, secrets: [JWT_SECRET]}\n",
        );
        let mut values: BTreeMap<String, String> = [
            ("DEVSTACK_API_JWT_SECRET".to_string(), "one".to_string()),
            ("DEVSTACK_DB_PASSWORD".to_string(), "pw".to_string()),
        ]
        .into();
        let hash = |values: &BTreeMap<String, String>, service: &str| {
            let mut ctx = Ctx::new(&plan, RenderOptions::default());
            ctx.values = Some(values);
            annotations(&ctx, &plan.services[service])
                .map(|a| a[ANNOTATION_APP_SECRETS_HASH].clone())
        };
        let first = hash(&values, "api").expect("api reads an app secret");
        assert!(!first.contains("one"));
        assert_eq!(
            hash(&values, "db"),
            None,
            "catalog credentials restart nothing"
        );
        values.insert("DEVSTACK_DB_PASSWORD".into(), "other".into());
        assert_eq!(hash(&values, "api").as_deref(), Some(first.as_str()));
        values.insert("DEVSTACK_API_JWT_SECRET".into(), "two".into());
        assert_ne!(hash(&values, "api").as_deref(), Some(first.as_str()));
        let ctx = Ctx::new(&plan, RenderOptions::default());
        assert_eq!(
            annotations(&ctx, &plan.services["api"]),
            None,
            "no values, no hash"
        );
    }
}
