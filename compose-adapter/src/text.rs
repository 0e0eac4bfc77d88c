//! Text in the Compose file: literal `$` escaped as `$$`, secrets as `${ID:?…}`
//! interpolations from the `.env` file, host names as Compose service names.

use devstack_crds::template::{SecretId, Segment, Template};

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

/// Renders `template`: literal text escaped, secrets interpolated from the env file, hosts as
/// Compose service names (the plan guarantees every secret is declared and every host exists).
pub fn template<S: AsRef<SecretId>>(template: &Template<S>) -> String {
    let mut out = String::new();
    for segment in &template.0 {
        match segment {
            Segment::Lit(text) => out.push_str(&escape(text)),
            Segment::Secret(secret) => out.push_str(&interpolation(secret.as_ref().as_str())),
            Segment::Host(host) => out.push_str(host),
        }
    }
    out
}

/// Renders a list of templates.
pub fn templates<S: AsRef<SecretId>>(list: &[Template<S>]) -> Vec<String> {
    list.iter().map(template).collect()
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
}
