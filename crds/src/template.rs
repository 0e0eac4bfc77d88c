//! Values that are known only partly at plan time: a literal with holes for a generated
//! secret or a service's host name. Each renderer fills the holes its own way (a Secret
//! reference or `$(VAR)` in Kubernetes, `${VAR}` interpolation from the env file in Compose).

use serde::Serialize;

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Segment {
    /// Literal text.
    Lit(String),
    /// The value of a generated secret, by its stack-wide id (see [`crate::plan::SecretDef`]).
    Secret(String),
    /// The host name under which a service is reachable (differs by mode: `postgres` in Compose,
    /// `postgres.<namespace>.svc` in Kubernetes).
    Host(String),
}

/// A string made of literal text, secrets and host names.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Template(pub Vec<Segment>);

impl Template {
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
    pub fn push_secret(mut self, id: impl Into<String>) -> Self {
        self.0.push(Segment::Secret(id.into()));
        self
    }

    /// Appends a host name reference.
    pub fn push_host(mut self, service: impl Into<String>) -> Self {
        self.0.push(Segment::Host(service.into()));
        self
    }

    /// Ids of the secrets this template uses.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|s| match s {
            Segment::Secret(id) => Some(id.as_str()),
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
    pub fn render(&self, mut fill: impl FnMut(&Segment) -> String) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Lit(text) => out.push_str(text),
                other => out.push_str(&fill(other)),
            }
        }
        out
    }
}

impl From<&str> for Template {
    fn from(text: &str) -> Self {
        Template::lit(text)
    }
}

impl From<String> for Template {
    fn from(text: String) -> Self {
        Template::lit(text)
    }
}
