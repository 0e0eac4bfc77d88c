//! The Docker driver: runs a stack on a Docker engine through its API (`bollard`), starting
//! from the very compose model the renderer produces
//! ([`devstack_render_compose::render::project`]), so the containers `devstack up` creates
//! and the ones `docker compose up` creates from the rendered file are the same by
//! construction: same names, labels and configuration hashes, so either tool manages what the
//! other started.
//!
//! The façade is [`Stack`]: a stack's plan rendered once, its files under
//! `.devstack/<stack>/` ([`state`], [`env_file`]) and the verbs `up`, `down`, `reset`,
//! `status`, `env` and `logs`, with typed outcomes.
//!
//! Modules: [`api`] (the engine calls, a trait bollard's client implements and tests mock),
//! [`engine`] (connection, API version), [`labels`] (Compose's names and labels),
//! [`resolve`] (interpolation as Compose does it), [`hash`] (Compose's config hashes),
//! [`create`] (a service as a container), [`up`](mod@up) (ordering, idempotence),
//! [`provision`] (images, networks, volumes; rollback), [`context`] and [`build`] (build
//! contexts, content tags, image builds), [`wait`] (readiness), [`ops`] (down,
//! volumes, status, logs), [`progress`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use devstack_core::StackPlan;

use devstack_render_compose::model::Project;
use devstack_render_compose::RenderError;

pub mod api;
pub mod build;
pub mod context;
pub mod create;
pub mod engine;
pub mod env_file;
pub mod files;
pub mod hash;
pub mod labels;
pub mod listen;
pub mod lock;
pub mod ops;
pub mod progress;
pub mod provision;
mod recreate;
pub mod resolve;
mod stack;
pub mod state;
pub mod targets;
pub mod up;
pub mod wait;

#[cfg(test)]
mod tests;

pub use api::DockerApi;
pub use engine::{Engine, Features};
pub use stack::{ResetSummary, Stack};
pub use up::{up, Change, GpuPolicy, Reached, ServiceOutcome, UpOptions, UpSummary};

/// One stack as the driver sees it: the rendered compose project, the `.env` values and where
/// the compose file lives (recorded in the containers' labels, as Compose does).
#[derive(Clone, Debug)]
pub struct StackContext {
    /// The compose project the renderer made of the plan.
    pub project: Project,
    /// Services that run (the plan's active profiles).
    pub active: BTreeSet<String>,
    /// The active services in the plan's start order ([`StackPlan::start_order`]).
    pub start_order: Vec<String>,
    /// Secret values (the `.env` file).
    pub secrets: BTreeMap<String, String>,
    /// Services whose spec says `gpuRequired: true`: no CPU fallback for them.
    pub gpu_required: BTreeSet<String>,
    /// Absolute directory of the compose file (`.devstack/<stack>`).
    pub working_dir: PathBuf,
    /// Absolute path of the compose file.
    pub config_file: PathBuf,
}

impl StackContext {
    /// The context of `plan` with its secrets, the compose file at `config_file` (absolute).
    pub fn new(
        plan: &StackPlan,
        secrets: BTreeMap<String, String>,
        config_file: PathBuf,
    ) -> Result<StackContext, DriverError> {
        let project = devstack_render_compose::render::project(plan);
        Ok(StackContext::of_project(
            plan,
            project,
            secrets,
            config_file,
        ))
    }

    /// The context of `plan` rendered as `project` (no second rendering).
    pub fn of_project(
        plan: &StackPlan,
        project: Project,
        secrets: BTreeMap<String, String>,
        config_file: PathBuf,
    ) -> StackContext {
        let working_dir = config_file
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/"));
        StackContext {
            project: files::absolute_sources(project, &working_dir),
            active: plan.active_services().map(|s| s.name.clone()).collect(),
            start_order: plan.start_order(),
            secrets,
            gpu_required: plan
                .active_services()
                .filter(|s| s.gpu_required)
                .map(|s| s.name.clone())
                .collect(),
            working_dir,
            config_file,
        }
    }

    /// The project name (the stack name).
    pub fn name(&self) -> &str {
        &self.project.name
    }
}

/// Why the driver failed. Each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// No engine answered.
    #[error("cannot reach the Docker engine at {host}: {reason}\n  fix: start Docker (e.g. `sudo systemctl start docker`), or point DOCKER_HOST at a running engine (e.g. unix:///var/run/docker.sock)")]
    EngineUnreachable {
        /// The address tried.
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// The plan could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The stack's files under `.devstack/<stack>/` could not be read or written.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// A network or volume of the stack's name exists but is not this stack's (no devstack
    /// stack label for it): devstack neither reuses nor deletes it.
    #[error("{kind} {name} exists but was not made by devstack for stack {stack:?} (no label devstack.dev/stack={stack}); devstack leaves it alone: remove or rename it, or rename the stack")]
    Foreign {
        /// `network` or `volume`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The stack.
        stack: String,
    },
    /// A command named a service the stack does not have.
    #[error("stack {stack:?} has no service {service:?} (services: {known})")]
    UnknownService {
        /// The stack.
        stack: String,
        /// The service asked for.
        service: String,
        /// The stack's services, comma-separated.
        known: String,
    },
    /// A secret referenced by the compose model has no value.
    #[error("service {service:?}: no value for secret {id} in the .env file; run `devstack up` (or `devstack render compose -o`) again to generate it")]
    MissingSecret {
        /// The service.
        service: String,
        /// The secret id.
        id: String,
    },
    /// An interpolation the renderer never writes.
    #[error("service {service:?}: cannot interpolate {text:?}")]
    Interpolation {
        /// The service.
        service: String,
        /// The text.
        text: String,
    },
    /// An image that is neither present nor pullable.
    #[error("service {service:?}: image {image} is neither present on the engine nor pullable ({reason})\n  fix: pull or build it, or run another image for the service type with --image-override TYPE=IMAGE")]
    ImageUnavailable {
        /// The service.
        service: String,
        /// The image.
        image: String,
        /// The engine's answer.
        reason: String,
    },
    /// A host port is taken.
    #[error("service {service:?}: host port 127.0.0.1:{port} is already in use\n  fix: stop whatever listens there (`ss -ltnp 'sport = :{port}'`), or publish the service on another port with spec.services.{service}.hostPorts; nothing of this `devstack up` was left running")]
    PortTaken {
        /// The service.
        service: String,
        /// The host port.
        port: u16,
    },
    /// A service did not become healthy.
    #[error("service {service:?} did not become healthy: {reason}\n  last health check output:\n{health}\n  last log lines:\n{logs}")]
    Unhealthy {
        /// The service.
        service: String,
        /// Why (timeout, exit, unhealthy).
        reason: String,
        /// The last health check output, indented.
        health: String,
        /// The last log lines, indented.
        logs: String,
    },
    /// A service was not started because a dependency failed.
    #[error("service {service:?} not started: its dependency {dependency:?} failed")]
    DependencyFailed {
        /// The service.
        service: String,
        /// The failed dependency.
        dependency: String,
    },
    /// A service needs GPUs the engine cannot give.
    #[error("service {service:?} requires {count} GPU(s) but the engine has neither an NVIDIA runtime nor CDI GPU devices\n  fix: install the NVIDIA container toolkit, or allow the CPU fallback (drop --require-gpu; set gpuRequired: false)")]
    GpuRequired {
        /// The service.
        service: String,
        /// GPUs asked for.
        count: u32,
    },
    /// Another engine call failed.
    #[error("{action}: {source}")]
    Docker {
        /// What the driver was doing.
        action: String,
        /// The engine's error.
        source: bollard::errors::Error,
    },
    /// Several services failed.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<DriverError>),
}

impl DriverError {
    /// A failed engine call while doing `action`.
    pub fn docker(action: impl Into<String>, source: bollard::errors::Error) -> DriverError {
        DriverError::Docker {
            action: action.into(),
            source,
        }
    }
}

/// Whether `error` is the engine's 404.
pub(crate) fn is_not_found(error: &bollard::errors::Error) -> bool {
    matches!(
        error,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
