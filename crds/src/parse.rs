//! Reading a `DevStack` from YAML text: errors name the field and the line.

use crate::types::DevStack;

/// A manifest that could not be read as a `DevStack`.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not YAML, or YAML of the wrong shape.
    #[error("{0}")]
    Yaml(String),
    /// A different kind of object.
    #[error("{field}: expected {expected:?}, found {found:?}")]
    WrongKind {
        /// `apiVersion` or `kind`.
        field: &'static str,
        /// What a DevStack has.
        expected: &'static str,
        /// What the file has.
        found: String,
    },
    /// The file has no document, or more than one.
    #[error("{0}")]
    Documents(String),
}

/// Parses one `DevStack` manifest.
pub fn parse_devstack(text: &str) -> Result<DevStack, ParseError> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = serde_yaml::Value::deserialize(document)
            .map_err(|e| ParseError::Yaml(e.to_string()))?;
        if !value.is_null() {
            docs.push((index, value));
        }
    }
    let (index, value) = match docs.len() {
        0 => {
            return Err(ParseError::Documents(
                "the file holds no YAML document; expected one DevStack".into(),
            ))
        }
        1 => docs.remove(0),
        n => {
            return Err(ParseError::Documents(format!(
                "the file holds {n} YAML documents; expected exactly one DevStack"
            )))
        }
    };
    let api_version = value
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if api_version != "devstack.dev/v1alpha1" {
        return Err(ParseError::WrongKind {
            field: "apiVersion",
            expected: "devstack.dev/v1alpha1",
            found: api_version.to_string(),
        });
    }
    let kind = value
        .get("kind")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    if kind != "DevStack" {
        return Err(ParseError::WrongKind {
            field: "kind",
            expected: "DevStack",
            found: kind.to_string(),
        });
    }
    // Deserialize the text again (not the Value) so errors carry the field path and the line.
    let document = serde_yaml::Deserializer::from_str(text)
        .nth(index)
        .ok_or_else(|| {
            ParseError::Documents("the YAML document disappeared on the second read".into())
        })?;
    serde_path_to_error::deserialize(document).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        if path.is_empty() || path == "." {
            ParseError::Yaml(inner)
        } else {
            ParseError::Yaml(format!("{path}: {inner}"))
        }
    })
}
