//! Reading a stack file and resolving it into a plan, with errors that say what to fix.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use devstack_core::limits::{MAX_FILES_BYTES, MAX_INPUT_BYTES};
use devstack_core::parse::{parse_devstack, ParseError};
use devstack_core::plan::{file_sources, plan, FileSources, PlanOptions, StackPlan};
use devstack_core::ValidationErrors;

/// Why a stack could not be planned. Messages leave the cause to the error chain (printed
/// once, after a `: `).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read (exit 1).
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a DevStack (exit 2).
    #[error("{path}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        source: ParseError,
    },
    /// The DevStack is invalid (exit 2).
    #[error("{path}: invalid DevStack:\n{errors}")]
    Invalid {
        /// The file.
        path: String,
        /// Every problem.
        errors: ValidationErrors,
    },
    /// A command-line option is malformed (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The file is larger than any stack (exit 2).
    #[error(
        "{path}: larger than {limit} bytes, the most a stack file may hold; is it the right file?"
    )]
    TooLarge {
        /// The file.
        path: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The file is not UTF-8 text (exit 2).
    #[error(
        "{path}: not UTF-8 text (byte {offset} is not part of a UTF-8 character); save it as UTF-8"
    )]
    NotText {
        /// The file.
        path: String,
        /// Offset of the first invalid byte.
        offset: usize,
    },
}

/// Parses `--image-override type=image` values.
pub fn parse_overrides(values: &[String]) -> Result<BTreeMap<String, String>, LoadError> {
    values
        .iter()
        .map(|v| match v.split_once('=') {
            Some((t, i)) if !t.is_empty() && !i.is_empty() => Ok((t.to_string(), i.to_string())),
            _ => Err(LoadError::Usage(format!(
                "--image-override {v:?}: expected TYPE=IMAGE, for example postgres=registry.local/postgres:18.1"
            ))),
        })
        .collect()
}

/// Checks a `--namespace` value: a DNS label of at most 63 characters.
pub fn check_namespace(namespace: String) -> Result<String, LoadError> {
    if devstack_core::conventions::is_dns_label(&namespace, 63) {
        Ok(namespace)
    } else {
        Err(LoadError::Usage(format!(
            "--namespace {namespace:?}: not a namespace name (a DNS label of at most 63 characters: lowercase letters, digits, '-')"
        )))
    }
}

/// Reads, parses and plans the stack in `path` (`-` reads standard input), with the `source`
/// files of its `files` read relative to the stack file's directory.
pub fn load_plan(path: &Path, options: &PlanOptions) -> Result<StackPlan, LoadError> {
    let shown = path.display().to_string();
    let text = read_text(path)?;
    let stack = parse_devstack(&text).map_err(|source| LoadError::Parse {
        path: shown.clone(),
        source,
    })?;
    let base = match path.parent() {
        Some(dir) if shown != "-" && !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let options = PlanOptions {
        file_sources: Some(read_sources(&stack, &base)),
        ..options.clone()
    };
    plan(&stack, &options).map_err(|errors| LoadError::Invalid {
        path: shown,
        errors,
    })
}

/// The bytes of every `source` of the stack's files, relative to `base` (the stack file's
/// directory), each at most one ConfigMap's worth; a file that cannot be read keeps why, and
/// planning reports it on the field.
fn read_sources(stack: &devstack_core::DevStack, base: &Path) -> FileSources {
    file_sources(stack)
        .into_iter()
        .map(|source| {
            let read = std::fs::File::open(base.join(&source)).and_then(|file| {
                let mut bytes = Vec::new();
                file.take(MAX_FILES_BYTES as u64 + 1)
                    .read_to_end(&mut bytes)?;
                Ok(bytes)
            });
            (source, read.map_err(|e| e.to_string()))
        })
        .collect()
}

/// The text of the stack file `path` (`-`: standard input): at most
/// [`MAX_INPUT_BYTES`] bytes of UTF-8.
pub fn read_text(path: &Path) -> Result<String, LoadError> {
    let shown = path.display().to_string();
    let read_error = |source| LoadError::Read {
        path: shown.clone(),
        source,
    };
    let reader: Box<dyn Read> = if shown == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(read_error)?)
    };
    let mut bytes = Vec::new();
    // One byte more than the limit tells a file at the limit from a larger one.
    reader
        .take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(LoadError::TooLarge {
            path: shown,
            limit: MAX_INPUT_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|e| LoadError::NotText {
        path: shown.clone(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Parses and plans stack text; `shown` names it in errors.
pub fn plan_text(text: &str, shown: &str, options: &PlanOptions) -> Result<StackPlan, LoadError> {
    let stack = parse_devstack(text).map_err(|source| LoadError::Parse {
        path: shown.to_string(),
        source,
    })?;
    plan(&stack, options).map_err(|errors| LoadError::Invalid {
        path: shown.to_string(),
        errors,
    })
}
