//! YAML in and out, in one place. Everything devstack prints is written here, so that it reads
//! back the same under YAML 1.1 rules (kubectl, Helm, kustomize and PyYAML, where `yes`, `off`,
//! `y`, `~`, `1:20`, `0777` or `2001-12-14` are not strings) and YAML 1.2 rules (Compose). The
//! writer is serde-saphyr with its default 1.1-safe quoting: a string that any reader could take
//! for a bool, null, number, timestamp or merge key is quoted.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_saphyr::SerializerOptions;

/// YAML that could not be written or read. (The causes are boxed: serde-saphyr's errors carry
/// source snippets and would make every `Result` that holds one large.)
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The value could not be written as YAML.
    #[error("cannot write YAML")]
    Write(#[source] Box<serde_saphyr::SerializeError>),
    /// The text is not YAML of the expected shape.
    #[error("cannot read the YAML")]
    Read(#[source] ReadError),
}

/// The YAML reader's complaint, worded for users: where and what, without the reader's advice
/// on its own settings ("set DuplicateKeyPolicy in Options").
#[derive(Debug)]
pub struct ReadError(Box<serde_saphyr::Error>);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let options = serde_saphyr::render_options! {
            formatter: &serde_saphyr::UserMessageFormatter,
            snippets: serde_saphyr::SnippetMode::Off,
        };
        f.write_str(&self.0.render_with_options(options))
    }
}

impl std::error::Error for ReadError {}

impl From<serde_saphyr::Error> for ReadError {
    fn from(e: serde_saphyr::Error) -> Self {
        ReadError(Box::new(e))
    }
}

impl From<serde_saphyr::SerializeError> for YamlError {
    fn from(e: serde_saphyr::SerializeError) -> Self {
        YamlError::Write(Box::new(e))
    }
}

impl From<serde_saphyr::Error> for YamlError {
    fn from(e: serde_saphyr::Error) -> Self {
        YamlError::Read(ReadError::from(e))
    }
}

fn options() -> SerializerOptions {
    // Multi-line strings become `|` blocks; long single-line strings stay on one line (a folded
    // `>` block is harder to read and to grep in a rendered manifest).
    serde_saphyr::ser_options! {
        folded_wrap_chars: usize::MAX,
    }
}

/// One YAML document (no leading `---`).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, YamlError> {
    Ok(serde_saphyr::to_string_with_options(value, options())?)
}

/// A stream of documents, each introduced by `---` on a line of its own (what `kubectl apply -f -`
/// reads).
pub fn to_stream<T: Serialize>(documents: &[T]) -> Result<String, YamlError> {
    let mut out = String::new();
    for document in documents {
        out.push_str("---\n");
        out.push_str(&to_string(document)?);
    }
    Ok(out)
}

/// Reader options: errors say `line L column C: what`, once, without a source excerpt (the CLI
/// prints the file name in front; an excerpt would repeat the message).
pub fn read_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        with_snippet: false,
    }
}

/// Reads one YAML document into `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    Ok(serde_saphyr::from_str_with_options(text, read_options())?)
}

/// Reads every document of a stream as JSON values (empty documents included, as `null`).
pub fn documents(text: &str) -> Result<Vec<serde_json::Value>, YamlError> {
    Ok(serde_saphyr::from_multiple_with_options(
        text,
        read_options(),
    )?)
}
