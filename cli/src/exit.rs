//! Exit codes: 0 success, 1 failure, 2 invalid input. Invalid input is decided in one place,
//! [`is_invalid_input`], for every cause in an error's chain: whatever the command, a problem
//! the user fixes by changing their input exits 2.

use std::error::Error;

use devstack_core::parse::ParseError;
use devstack_core::ValidationErrors;

use devstack_docker::env_file::SecretsError;
use devstack_docker::state::StateError;
use devstack_docker::DriverError;
use devstack_render_compose::RenderError;

use crate::commands::import::ImportCliError;
use crate::load::LoadError;

/// Exit code of a failure the environment caused (I/O, a renderer, the engine).
pub const FAILURE: u8 = 1;
/// Exit code of invalid input (the message names the field, line or option).
pub const INVALID_INPUT: u8 = 2;

/// Whether `cause` is a problem with the user's input: a stack that does not parse or
/// validate, a malformed option, a malformed line or unusable value in a secrets file.
pub fn is_invalid_input(cause: &(dyn Error + 'static)) -> bool {
    if let Some(e) = cause.downcast_ref::<LoadError>() {
        !matches!(e, LoadError::Read { .. })
    } else if let Some(e) = cause.downcast_ref::<SecretsError>() {
        secrets_input(e)
    } else if let Some(e) = cause.downcast_ref::<RenderError>() {
        render_input(e)
    } else if let Some(e) = cause.downcast_ref::<StateError>() {
        state_input(e)
    } else if let Some(e) = cause.downcast_ref::<devstack_docker::build::BuildError>() {
        // A build context the spec names wrongly; a failing Dockerfile step is not input.
        matches!(e, devstack_docker::build::BuildError::Context { .. })
    } else if let Some(e) = cause.downcast_ref::<DriverError>() {
        match e {
            DriverError::State(e) => state_input(e),
            DriverError::UnknownService { .. } => true,
            _ => false,
        }
    } else if let Some(e) = cause.downcast_ref::<ImportCliError>() {
        !matches!(e, ImportCliError::NoCompose)
    } else {
        cause.is::<ParseError>()
            || cause.is::<ValidationErrors>()
            || cause.is::<devstack_import::ImportError>()
    }
}

// The driver's errors wrap these transparently (their source is skipped in the chain), so
// they are looked into here.
fn state_input(e: &StateError) -> bool {
    match e {
        StateError::Secrets(e) => secrets_input(e),
        StateError::Render(e) => render_input(e),
        StateError::Write { .. } => false,
    }
}

fn secrets_input(e: &SecretsError) -> bool {
    match e {
        SecretsError::Malformed { .. } => true,
        SecretsError::Render(e) => render_input(e),
        SecretsError::Io { .. } | SecretsError::Symlink { .. } | SecretsError::Locked { .. } => {
            false
        }
    }
}

/// Secret values come from the user's .env file.
fn render_input(e: &RenderError) -> bool {
    matches!(
        e,
        RenderError::MissingSecret { .. } | RenderError::UnsafeSecretValue { .. }
    )
}

/// The exit code for `error`: [`INVALID_INPUT`] when any cause in its chain is invalid input,
/// [`FAILURE`] otherwise.
pub fn code(error: &anyhow::Error) -> u8 {
    if error.chain().any(is_invalid_input) {
        INVALID_INPUT
    } else {
        FAILURE
    }
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[test]
    fn input_errors_exit_2_wherever_they_are_in_the_chain() {
        let usage = anyhow::Error::new(LoadError::Usage("bad option".into()));
        assert_eq!(code(&usage), INVALID_INPUT);
        let wrapped = Err::<(), _>(SecretsError::Malformed {
            path: ".env".into(),
            line: 3,
        })
        .context("rendering")
        .unwrap_err();
        assert_eq!(code(&wrapped), INVALID_INPUT);
        let invalid = anyhow::Error::new(ValidationErrors::default()).context("planning");
        assert_eq!(code(&invalid), INVALID_INPUT);
        let in_driver = anyhow::Error::new(DriverError::State(StateError::Secrets(
            SecretsError::Malformed {
                path: ".env".into(),
                line: 1,
            },
        )));
        assert_eq!(code(&in_driver), INVALID_INPUT);
    }

    #[test]
    fn environment_errors_exit_1() {
        let read = anyhow::Error::new(LoadError::Read {
            path: "x.yaml".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        assert_eq!(code(&read), FAILURE);
        assert_eq!(code(&anyhow::anyhow!("engine down")), FAILURE);
    }
}
