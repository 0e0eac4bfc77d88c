//! Filling the holes of a plan [`Template`] the Kubernetes way.
//!
//! In container fields (command, args, env values) the kubelet expands `$(VAR)` from the
//! container's environment, so a secret becomes `$(KEY)` of the env var that carries it (its
//! value never appears in the workload), and literal text is escaped so that nothing in it
//! expands. In Secret data nothing is expanded: secrets are filled with their values.
//! Host names are `<service>.<namespace>.svc` in both.

use std::collections::BTreeMap;

use devstack_crds::plan::ServicePlan;
use devstack_crds::template::{Segment, Template};

use super::{Ctx, RenderError};

/// Escapes literal text for a container field given the character that follows it in the
/// rendered value. The kubelet reads `$$` as `$` and `$(` as a reference, so a `$` followed by
/// `(` or `$` is doubled; any other `$` stays as it is (`$HOME` is left alone by the kubelet).
fn escape_literal(text: &str, next: Option<char>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' && matches!(chars.peek().copied().or(next), Some('$' | '(')) {
            out.push('$');
        }
    }
    out
}

/// Renders a template used in a container field of `service`: `$(KEY)` for secrets,
/// in-cluster host names, escaped literals. `field` names the place for errors.
pub(crate) fn container_text(
    ctx: &Ctx,
    service: &ServicePlan,
    template: &Template,
    field: &str,
) -> Result<String, RenderError> {
    let mut pieces: Vec<(String, bool)> = Vec::with_capacity(template.0.len());
    for segment in &template.0 {
        pieces.push(match segment {
            Segment::Lit(text) => (text.clone(), true),
            Segment::Host(svc) => (ctx.host(svc), false),
            Segment::Secret(id) => match service.env_carrying_secret(id) {
                Some(key) => (format!("$({key})"), false),
                None => {
                    return Err(RenderError::SecretNotInEnv {
                        service: service.name.clone(),
                        field: field.to_string(),
                        secret: id.clone(),
                    })
                }
            },
        });
    }
    let mut out = String::new();
    for (i, (text, literal)) in pieces.iter().enumerate() {
        if *literal {
            let next = pieces[i + 1..].iter().find_map(|(t, _)| t.chars().next());
            out.push_str(&escape_literal(text, next));
        } else {
            out.push_str(text);
        }
    }
    Ok(out)
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
                    .get(id)
                    .ok_or_else(|| RenderError::MissingSecret { id: id.clone() })?,
            ),
        }
    }
    Ok(out)
}

/// Renders a list of templates (command or args) for a container field.
pub(crate) fn container_list(
    ctx: &Ctx,
    service: &ServicePlan,
    templates: Option<&Vec<Template>>,
    field: &str,
) -> Result<Option<Vec<String>>, RenderError> {
    templates
        .map(|list| {
            list.iter()
                .enumerate()
                .map(|(i, t)| container_text(ctx, service, t, &format!("{field}[{i}]")))
                .collect()
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::plan_of;
    use super::*;

    /// Kubernetes' expansion (k8s.io/kubernetes third_party/forked/golang/expansion), for
    /// checking that escaped text expands back to the original.
    fn kubelet_expand(input: &str, env: &BTreeMap<&str, &str>) -> String {
        let bytes = input.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' && i + 1 < bytes.len() {
                match bytes[i + 1] {
                    b'$' => {
                        out.push('$');
                        i += 2;
                    }
                    b'(' => match input[i + 2..].find(')') {
                        Some(end) => {
                            let name = &input[i + 2..i + 2 + end];
                            match env.get(name) {
                                Some(v) => out.push_str(v),
                                None => out.push_str(&format!("$({name})")),
                            }
                            i += 3 + end;
                        }
                        None => {
                            out.push_str("$(");
                            i += 2;
                        }
                    },
                    _ => {
                        out.push('$');
                        i += 1;
                    }
                }
            } else {
                let c = input[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
        out
    }

    #[test]
    fn escapes_only_what_the_kubelet_would_expand() {
        assert_eq!(escape_literal("$(HOME)", None), "$$(HOME)");
        assert_eq!(escape_literal("echo $HOME", None), "echo $HOME");
        assert_eq!(escape_literal("a$$b", None), "a$$$b");
        assert_eq!(escape_literal("cost: 5$", None), "cost: 5$");
        assert_eq!(escape_literal("cost: 5$", Some('(')), "cost: 5$$");
        for text in [
            "$(HOME)", "$$(X)", "a$$b", "$", "$$", "x$(", "${A}", "$(A)$(B)", "€$(é)",
        ] {
            let escaped = escape_literal(text, None);
            assert_eq!(
                kubelet_expand(
                    &escaped,
                    &[("HOME", "/root"), ("X", "x"), ("A", "a")].into()
                ),
                text,
                "{escaped}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever the literal text and whatever hole follows it (a secret reference, a host
        /// name, nothing), the kubelet expands the rendering back to the intended value.
        #[test]
        fn escaped_literals_expand_to_themselves(
            text in "[a-z$()A-Z_ ]{0,24}",
            hole in proptest::sample::select(vec![("", ""), ("$(K)", "v"), ("db.ns.svc", "db.ns.svc")]),
        ) {
            let (rendered, value) = hole;
            let escaped = escape_literal(&text, rendered.chars().next());
            let env = [("K", "v"), ("A", "a")].into();
            proptest::prop_assert_eq!(kubelet_expand(&format!("{escaped}{rendered}"), &env), format!("{text}{value}"));
        }
    }

    #[test]
    fn secrets_become_references_to_the_carrying_env_var() {
        let plan = plan_of("services:\n  cache: {type: redis}\n");
        let ctx = Ctx::new(&plan, crate::render::RenderOptions::default());
        let svc = &plan.services["cache"];
        let t = Template::lit("pre$")
            .push_secret("DEVSTACK_CACHE_PASSWORD")
            .push_lit("@")
            .push_host("db");
        let text = container_text(&ctx, svc, &t, "args[0]").unwrap();
        assert_eq!(text, "pre$$$(REDIS_PASSWORD)@db.default.svc");
        let env = [("REDIS_PASSWORD", "s3cret")].into();
        assert_eq!(kubelet_expand(&text, &env), "pre$s3cret@db.default.svc");
    }

    #[test]
    fn secret_without_carrying_env_var_is_an_error() {
        let plan = plan_of("services:\n  web: {image: nginx:1}\n");
        let ctx = Ctx::new(&plan, crate::render::RenderOptions::default());
        let t = Template::default().push_secret("DEVSTACK_DB_PASSWORD");
        let err = container_text(&ctx, &plan.services["web"], &t, "env.X").unwrap_err();
        assert!(err.to_string().contains("env.X"), "{err}");
        assert!(matches!(err, RenderError::SecretNotInEnv { .. }));
    }

    #[test]
    fn secret_data_is_filled_and_not_escaped() {
        let mut plan = plan_of("services:\n  web: {image: nginx:1}\n");
        plan.namespace = Some("team".into());
        let ctx = Ctx::new(&plan, crate::render::RenderOptions::default());
        let t = Template::lit("x$(y):")
            .push_secret("S")
            .push_lit("@")
            .push_host("db");
        let values = [("S".to_string(), "v".to_string())].into();
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
