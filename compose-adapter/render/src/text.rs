//! Text in the Compose file: literal `$` escaped as `$$`, secrets as `${ID:?…}`
//! interpolations from the `.env` file, host names as Compose service names. The spelling
//! rules live in [`devstack_core::conventions::compose`], where parity reads them back.

use devstack_core::template::{SecretId, Segment, Template};

pub use devstack_core::conventions::compose::{escape, interpolation};

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
    use devstack_core::template::CarriedSecret;

    #[test]
    fn templates_escape_literals_and_interpolate_secrets() {
        let id = SecretId::new("db", "password");
        let plain: Template = Template::lit("a$b:")
            .push_secret(id.clone())
            .push_host("db");
        assert_eq!(
            template(&plain),
            format!("a$$b:{}db", interpolation("DEVSTACK_DB_PASSWORD"))
        );
        let carried = Template::lit("$").push_secret(CarriedSecret {
            id,
            env: "PW".into(),
        });
        assert_eq!(
            template(&carried),
            format!("$${}", interpolation("DEVSTACK_DB_PASSWORD")),
            "Compose reads the secret from the env file, not from the carrying variable"
        );
    }
}
