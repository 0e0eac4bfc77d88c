//! Reading a stack file and resolving it into a plan, with errors that say what to fix.

use std::collections::BTreeMap;
use std::path::Path;

use devstack_core::parse::{parse_devstack, ParseError};
use devstack_core::plan::{plan, PlanOptions, StackPlan};
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

/// Reads, parses and plans the stack in `path` (`-` reads standard input).
pub fn load_plan(path: &Path, options: &PlanOptions) -> Result<StackPlan, LoadError> {
    let shown = path.display().to_string();
    let text = if shown == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    plan_text(&text, &shown, options)
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
