//! Filling the holes of a plan [`Template`] the Kubernetes way.
//!
//! In container fields (command, args, env values) the kubelet expands `$(VAR)` from the
//! container's environment, so a secret becomes `$(KEY)` of the env var that carries it (its
//! value never appears in the workload), and literal text is escaped so that nothing in it
//! expands. In Secret data nothing is expanded: secrets are filled with their values.
//! Host names are `<service>.<namespace>.svc` in both.

use std::collections::BTreeMap;

use devstack_core::conventions::kubelet;
use devstack_core::template::{ContainerTemplate, Segment, Template};

use super::{Ctx, RenderError};

/// Renders a template used in a container field: `$(KEY)` of the env var carrying each secret,
/// in-cluster host names, escaped literals.
pub(crate) fn container_text(ctx: &Ctx, template: &ContainerTemplate) -> String {
    let pieces: Vec<(String, bool)> = template
        .0
        .iter()
        .map(|segment| match segment {
            Segment::Lit(text) => (text.clone(), true),
            Segment::Host(svc) => (ctx.host(svc), false),
            Segment::Secret(secret) => (format!("$({})", secret.env), false),
        })
        .collect();
    let mut out = String::new();
    for (i, (text, literal)) in pieces.iter().enumerate() {
        if *literal {
            let next = pieces[i + 1..].iter().find_map(|(t, _)| t.chars().next());
            out.push_str(&kubelet::escape(text, next));
        } else {
            out.push_str(text);
        }
    }
    out
}

/// Renders a template as the final value (Secret data): secrets filled with their values.
pub(crate) fn secret_text(
    ctx: &Ctx,
    template: &Template,
    values: &BTreeMap<String, String>,
) -> Result<String, RenderError> {
    let mut out = String::new();
    for segment in &template.0 {
        match segment {
            Segment::Lit(text) => out.push_str(text),
            Segment::Host(svc) => out.push_str(&ctx.host(svc)),
            Segment::Secret(id) => out.push_str(
                values
                    .get(id.as_str())
                    .ok_or_else(|| RenderError::MissingSecret { id: id.to_string() })?,
            ),
        }
    }
    Ok(out)
}

/// Renders a list of templates (command or args) for a container field.
pub(crate) fn container_list(
    ctx: &Ctx,
    templates: Option<&Vec<ContainerTemplate>>,
) -> Option<Vec<String>> {
    templates.map(|list| list.iter().map(|t| container_text(ctx, t)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::template::{CarriedSecret, SecretId};
    use devstack_core::test_support::plan_spec;

    #[test]
    fn secrets_become_references_to_the_carrying_env_var() {
        let plan = plan_spec("services:\n  cache: {type: redis}\n");
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let t = ContainerTemplate::lit("pre$")
            .push_secret(CarriedSecret {
                id: SecretId::new("cache", "password"),
                env: "REDIS_PASSWORD".into(),
            })
            .push_lit("@")
            .push_host("db");
        let text = container_text(&ctx, &t);
        assert_eq!(text, "pre$$$(REDIS_PASSWORD)@db.default.svc");
        let expanded = kubelet::expand(&text, |name| {
            (name == "REDIS_PASSWORD").then(|| "s3cret".to_string())
        });
        assert_eq!(expanded, "pre$s3cret@db.default.svc");
    }

    #[test]
    fn secret_data_is_filled_and_not_escaped() {
        let mut plan = plan_spec("services:\n  web: {image: nginx:1}\n");
        plan.namespace = Some("team".into());
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let t = Template::lit("x$(y):")
            .push_secret(SecretId::new("web", "password"))
            .push_lit("@")
            .push_host("db");
        let values = [("DEVSTACK_WEB_PASSWORD".to_string(), "v".to_string())].into();
        assert_eq!(
            secret_text(&ctx, &t, &values).unwrap(),
            "x$(y):v@db.team.svc"
        );
        assert!(matches!(
            secret_text(&ctx, &t, &BTreeMap::new()),
            Err(RenderError::MissingSecret { .. })
        ));
    }
}
