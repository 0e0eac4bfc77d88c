//! Reading a `DevStack` from YAML text: errors name the field and the line.

use crate::types::DevStack;

use crate::yaml::YamlError;

/// What is wrong with a field's value (the reader's own error, kept as the source).
pub type FieldCause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A manifest that could not be read as a `DevStack`. Each variant's message leaves its cause
/// to the error chain (`devstack_core::error::chain` prints it).
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The text is not YAML.
    #[error(transparent)]
    Yaml(#[from] YamlError),
    /// A field has the wrong shape; the message names it (`spec.services.db.hostPorts.pg`).
    #[error("{path}")]
    Field {
        /// Path of the field (`the DevStack` for the document itself).
        path: String,
        /// What is wrong, with the line where the reader knows it.
        #[source]
        source: FieldCause,
    },
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
    let all = crate::yaml::documents(text)?;
    let document_count = all.len();
    let mut docs: Vec<serde_json::Value> = all.into_iter().filter(|v| !v.is_null()).collect();
    let value = match docs.len() {
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
    if document_count == 1 {
        // Deserialize the text itself (not the value) so that errors carry the line as well as
        // the field path.
        // The field error is kept aside: after it the reader stops mid-document and its own
        // complaint about the rest of the text would hide the real cause.
        let mut field_error = None;
        let read = serde_saphyr::with_deserializer_from_str_with_options(
            text,
            crate::yaml::read_options(),
            |de| match serde_path_to_error::deserialize::<_, DevStack>(de) {
                Ok(stack) => Ok(Some(stack)),
                Err(e) => {
                    field_error = Some(field(e.path().to_string(), e.into_inner()));
                    Ok(None)
                }
            },
        );
        match (field_error, read) {
            (Some(error), _) => Err(error),
            (None, Ok(Some(stack))) => Ok(stack),
            // The closure only returns None after recording the field error.
            (None, Ok(None)) => Err(ParseError::Documents(
                "the DevStack could not be read".into(),
            )),
            (None, Err(e)) => Err(YamlError::from(e).into()),
        }
    } else {
        // Empty documents around the one DevStack: the value keeps the path, not the line.
        serde_path_to_error::deserialize(value)
            .map_err(|e| field(e.path().to_string(), e.into_inner()))
    }
}

fn field(path: String, cause: impl std::error::Error + Send + Sync + 'static) -> ParseError {
    let path = if path.is_empty() || path == "." {
        "the DevStack".to_string()
    } else {
        path
    };
    ParseError::Field {
        path,
        source: Box::new(cause),
    }
}
