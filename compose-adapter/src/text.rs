//! Text in the Compose file: literal `$` escaped as `$$`, secrets as `${ID:?…}`
//! interpolations from the `.env` file, host names as Compose service names.

use std::collections::BTreeSet;

use devstack_crds::template::{Segment, Template};
use devstack_crds::StackPlan;

use crate::RenderError;

/// The message Compose prints when a secret is missing from the `.env` file.
pub const MISSING_SECRET_HINT: &str = "secret missing: run devstack render compose -o DIR";

/// Escapes literal text for Compose interpolation: every `$` becomes `$$`.
pub fn escape(text: &str) -> String {
    text.replace('$', "$$")
}

/// The interpolation that reads secret `id` from the environment / `.env`, failing loudly
/// when it is absent.
pub fn interpolation(id: &str) -> String {
    format!("${{{id}:?{MISSING_SECRET_HINT}}}")
}

/// Whether `id` can be an interpolated variable (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_variable_name(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Renders plan templates for one stack: knows which secrets and services exist.
pub struct TextRenderer<'a> {
    plan: &'a StackPlan,
    secrets: BTreeSet<&'a str>,
}

impl<'a> TextRenderer<'a> {
    /// A renderer for `plan`; fails on a secret id that cannot be a variable name.
    pub fn new(plan: &'a StackPlan) -> Result<Self, RenderError> {
        let secrets: BTreeSet<&str> = plan.secrets.iter().map(|s| s.id.as_str()).collect();
        if let Some(bad) = secrets.iter().find(|id| !is_variable_name(id)) {
            return Err(RenderError::InvalidSecretId {
                id: (*bad).to_string(),
            });
        }
        Ok(TextRenderer { plan, secrets })
    }

    /// The interpolation of a declared secret, as used by `service`.
    pub fn secret(&self, id: &str, service: &str) -> Result<String, RenderError> {
        if self.secrets.contains(id) {
            Ok(interpolation(id))
        } else {
            Err(RenderError::UnknownSecret {
                service: service.to_string(),
                id: id.to_string(),
            })
        }
    }

    /// Renders `template` (used by `service`): literal text escaped, secrets interpolated,
    /// hosts as Compose service names.
    pub fn template(&self, template: &Template, service: &str) -> Result<String, RenderError> {
        let mut out = String::new();
        for segment in &template.0 {
            match segment {
                Segment::Lit(text) => out.push_str(&escape(text)),
                Segment::Secret(id) => out.push_str(&self.secret(id, service)?),
                Segment::Host(host) => {
                    if !self.plan.services.contains_key(host) {
                        return Err(RenderError::UnknownService {
                            service: service.to_string(),
                            referenced: host.clone(),
                        });
                    }
                    out.push_str(host);
                }
            }
        }
        Ok(out)
    }

    /// Renders a list of templates.
    pub fn templates(&self, list: &[Template], service: &str) -> Result<Vec<String>, RenderError> {
        list.iter().map(|t| self.template(t, service)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_dollar() {
        assert_eq!(escape("a$b$$c${D}"), "a$$b$$$$c$${D}");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn interpolation_has_the_guard() {
        assert_eq!(
            interpolation("DEVSTACK_PG_PASSWORD"),
            "${DEVSTACK_PG_PASSWORD:?secret missing: run devstack render compose -o DIR}"
        );
    }

    #[test]
    fn variable_names() {
        assert!(is_variable_name("DEVSTACK_A_1"));
        assert!(is_variable_name("_x"));
        assert!(!is_variable_name("1A"));
        assert!(!is_variable_name("A-B"));
        assert!(!is_variable_name(""));
    }
}
