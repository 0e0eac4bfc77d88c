//! Values that are known only partly at plan time: a literal with holes for a generated
//! secret or a service's host name. Each renderer fills the holes its own way (a Secret
//! reference or `$(VAR)` in Kubernetes, `${VAR}` interpolation from the env file in Compose).
//!
//! The secret hole is a type parameter: catalog entries and connection outputs name a secret by
//! its [`SecretId`]; in a container field (command, args, env) the plan also records which env
//! var of the same container carries the secret ([`CarriedSecret`]), because Kubernetes can
//! only expand `$(VAR)` from the container's own environment.

use std::fmt;

use serde::Serialize;

use crate::conventions;

/// Stack-wide id of a generated secret: `DEVSTACK_<SERVICE>_<NAME>` in upper snake case. It is
/// the key in the Kubernetes credentials Secret and the variable in the Compose env file, so it
/// is always a valid environment variable name (the only constructor guarantees it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct SecretId(String);

impl SecretId {
    /// The id of secret `name` of service `service`.
    pub fn new(service: &str, name: &str) -> Self {
        SecretId(conventions::secret_id(service, name))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SecretId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<SecretId> for SecretId {
    fn as_ref(&self) -> &SecretId {
        self
    }
}

impl PartialEq<str> for SecretId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for SecretId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A secret used in a container field, with the env var of that container that carries it as
/// its whole value (Kubernetes writes `$(env)`; Compose interpolates `id` from the env file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CarriedSecret {
    /// The secret.
    pub id: SecretId,
    /// The env var (of the same container) whose value is exactly this secret.
    pub env: String,
}

impl AsRef<SecretId> for CarriedSecret {
    fn as_ref(&self) -> &SecretId {
        &self.id
    }
}

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Segment<S = SecretId> {
    /// Literal text.
    Lit(String),
    /// The value of a generated secret (see [`crate::plan::SecretDef`]).
    Secret(S),
    /// The host name under which a service is reachable (differs by mode: `postgres` in Compose,
    /// `postgres.<namespace>.svc` in Kubernetes, see [`conventions::k8s_host`]).
    Host(String),
}

/// A string made of literal text, secrets and host names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Template<S = SecretId>(pub Vec<Segment<S>>);

/// A template in a container field: every secret names its carrying env var.
pub type ContainerTemplate = Template<CarriedSecret>;

impl<S> Default for Template<S> {
    fn default() -> Self {
        Template(Vec::new())
    }
}

impl<S> Template<S> {
    /// A template of literal text only.
    pub fn lit(text: impl Into<String>) -> Self {
        Template(vec![Segment::Lit(text.into())])
    }

    /// Appends literal text.
    pub fn push_lit(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        if let Some(Segment::Lit(last)) = self.0.last_mut() {
            last.push_str(&text);
        } else {
            self.0.push(Segment::Lit(text));
        }
        self
    }

    /// Appends a secret reference.
    pub fn push_secret(mut self, secret: S) -> Self {
        self.0.push(Segment::Secret(secret));
        self
    }

    /// Appends a host name reference.
    pub fn push_host(mut self, service: impl Into<String>) -> Self {
        self.0.push(Segment::Host(service.into()));
        self
    }

    /// The secrets this template uses.
    pub fn secrets(&self) -> impl Iterator<Item = &S> {
        self.0.iter().filter_map(|s| match s {
            Segment::Secret(secret) => Some(secret),
            _ => None,
        })
    }

    /// The literal text if the template has no holes.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Lit(text) => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Renders the template, asking `fill` for every hole.
    pub fn render(&self, mut fill: impl FnMut(&Segment<S>) -> String) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Lit(text) => out.push_str(text),
                other => out.push_str(&fill(other)),
            }
        }
        out
    }

    /// The same template with every secret replaced by `f(secret)`; the first error wins.
    pub fn try_map_secrets<T, E>(
        &self,
        mut f: impl FnMut(&S) -> Result<T, E>,
    ) -> Result<Template<T>, E> {
        self.0
            .iter()
            .map(|segment| {
                Ok(match segment {
                    Segment::Lit(text) => Segment::Lit(text.clone()),
                    Segment::Host(host) => Segment::Host(host.clone()),
                    Segment::Secret(secret) => Segment::Secret(f(secret)?),
                })
            })
            .collect::<Result<_, E>>()
            .map(Template)
    }
}

impl<S> From<&str> for Template<S> {
    fn from(text: &str) -> Self {
        Template::lit(text)
    }
}

impl<S> From<String> for Template<S> {
    fn from(text: String) -> Self {
        Template::lit(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_ids_are_variable_names() {
        let id = SecretId::new("backtest-worker-1", "api-key");
        assert_eq!(id, "DEVSTACK_BACKTEST_WORKER_1_API_KEY");
        assert!(conventions::is_env_key(id.as_str()));
    }

    #[test]
    fn literals_merge_and_secrets_map() {
        let t: Template = Template::lit("a")
            .push_lit("b")
            .push_secret(SecretId::new("db", "password"))
            .push_host("db");
        assert_eq!(t.0.len(), 3);
        assert_eq!(t.as_literal(), None);
        let carried = t
            .try_map_secrets(|id| {
                Ok::<_, ()>(CarriedSecret {
                    id: id.clone(),
                    env: "PW".into(),
                })
            })
            .unwrap();
        assert_eq!(carried.secrets().next().map(|s| s.env.as_str()), Some("PW"));
        assert_eq!(
            t.render(|s| match s {
                Segment::Secret(id) => format!("<{id}>"),
                _ => "host".into(),
            }),
            "ab<DEVSTACK_DB_PASSWORD>host"
        );
    }
}
