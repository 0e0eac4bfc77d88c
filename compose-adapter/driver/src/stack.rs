//! The façade: one stack on the Docker side. [`Stack::open`] renders the plan once and finds
//! its files (`.devstack/<stack>/compose.yaml` and `.env`); each verb then talks to the engine
//! and returns a typed outcome. The command line only prints them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use devstack_core::plan::StackPlan;
use devstack_render_compose::model::Project;

use crate::api::DockerApi;
use crate::lock::StackLock;
use crate::ops::{self, DownSummary, StatusRow};
use crate::progress::Progress;
use crate::state::{StateFiles, Written};
use crate::up::{UpOptions, UpSummary};
use crate::{DriverError, Engine, Features, StackContext};

/// One stack on the Docker side (see the module docs).
#[derive(Debug)]
pub struct Stack<'p> {
    plan: &'p StackPlan,
    project: Project,
    yaml: String,
    files: StateFiles,
}

/// What [`Stack::reset`] removed.
#[derive(Clone, Debug, Default)]
pub struct ResetSummary {
    /// Containers and networks.
    pub down: DownSummary,
    /// Volume names.
    pub volumes: Vec<String>,
}

impl<'p> Stack<'p> {
    /// The stack of `plan` with its files under `root` (the stack file's directory; absolute, as
    /// the compose file's path is recorded in the containers' labels).
    pub fn open(plan: &'p StackPlan, root: &Path) -> Result<Stack<'p>, DriverError> {
        Stack::open_for(plan, root, Features::default())
    }

    /// The stack of `plan` rendered for an engine offering `features` (what `up`, `status`,
    /// `down`, … of one engine must all use: the containers' config hashes depend on it).
    pub fn open_for(
        plan: &'p StackPlan,
        root: &Path,
        features: Features,
    ) -> Result<Stack<'p>, DriverError> {
        let mut project = devstack_render_compose::render::project(plan);
        if features.start_interval {
            devstack_render_compose::health::with_start_interval(&mut project);
        }
        let yaml = devstack_render_compose::to_text(&project)?;
        Ok(Stack {
            plan,
            project,
            yaml,
            files: StateFiles::of(plan, root),
        })
    }

    /// The stack (project) name.
    pub fn name(&self) -> &str {
        &self.plan.name
    }

    /// Where its files are.
    pub fn files(&self) -> &StateFiles {
        &self.files
    }

    /// Its active services, by name (what `up` shows progress for).
    pub fn active(&self) -> impl Iterator<Item = &String> {
        self.plan.active_services().map(|s| &s.name)
    }

    /// Writes the compose file and `.env` (what `render compose -o` writes), so `docker
    /// compose` can take over at any time; `up` writes them again under its lock.
    pub fn write_files(&self) -> Result<Written, DriverError> {
        let held = self.files.lock()?;
        Ok(self
            .files
            .write(&held, self.plan, &self.project, &self.yaml)?)
    }

    /// Writes the files under the lock `held` and returns the driver's view of them.
    fn context(&self, held: &StackLock) -> Result<StackContext, DriverError> {
        let written = self
            .files
            .write(held, self.plan, &self.project, &self.yaml)?;
        Ok(StackContext::of_project(
            self.plan,
            self.project.clone(),
            written.secrets.values,
            self.files.compose.clone(),
        ))
    }

    /// `up`: writes the files, then creates and starts what the compose rendering describes,
    /// in the plan's start order (see [`crate::up::up`]), holding the stack's lock from the
    /// `.env` read to the end (see [`crate::lock`]).
    pub async fn up<D: DockerApi>(
        &self,
        engine: &Engine<D>,
        options: &UpOptions,
        progress: &Progress,
    ) -> Result<UpSummary, DriverError> {
        let held = self.files.lock()?;
        let ctx = self.context(&held)?;
        let result = crate::up::up(engine, &ctx, options, progress).await;
        drop(held);
        result
    }

    /// `down`: containers and networks go, volumes and credentials stay (under the lock).
    pub async fn down<D: DockerApi>(&self, engine: &Engine<D>) -> Result<DownSummary, DriverError> {
        let _held = self.files.lock()?;
        ops::down(&engine.docker, self.name()).await
    }

    /// `reset`: down, remove the volumes, regenerate the credentials, all under the lock.
    pub async fn reset<D: DockerApi>(
        &self,
        engine: &Engine<D>,
    ) -> Result<ResetSummary, DriverError> {
        let held = self.files.lock()?;
        let down = ops::down(&engine.docker, self.name()).await?;
        let volumes = ops::remove_volumes(&engine.docker, self.name()).await?;
        self.files.regenerate_secrets(&held, self.plan)?;
        Ok(ResetSummary { down, volumes })
    }

    /// `secrets rotate`: new values for the app secrets `target` selects (all without it) in
    /// the `.env`, under the lock; the ids replaced. The containers that read them are
    /// recreated by the next [`Stack::up`] (their configuration hash holds the values).
    pub fn rotate(&self, target: Option<&str>) -> Result<Vec<String>, DriverError> {
        let held = self.files.lock()?;
        Ok(self.files.rotate_secrets(&held, self.plan, target)?)
    }

    /// `status`: a row per container, and a `missing` row per active service without one.
    pub async fn status<D: DockerApi>(
        &self,
        engine: &Engine<D>,
    ) -> Result<Vec<StatusRow>, DriverError> {
        let expected: Vec<String> = self
            .plan
            .active_services()
            .map(|s| s.name.clone())
            .collect();
        ops::status(&engine.docker, self.name(), &expected).await
    }

    /// The `.env` values of the stack, generating them on first use like `up`; the compose
    /// file is not rewritten (that is `up`'s and `render compose`'s job).
    pub fn env(&self) -> Result<BTreeMap<String, String>, DriverError> {
        Ok(self.files.secrets(self.plan)?.values)
    }

    /// The `.env` values as they are, generating nothing (`parity --live`).
    pub fn env_as_is(&self) -> Result<BTreeMap<String, String>, DriverError> {
        Ok(crate::env_file::read_env_file(&self.files.env)
            .map_err(crate::state::StateError::from)?)
    }

    /// `logs`: the logs of `service`'s containers to `out` (followed when `follow`); `false`
    /// when it has no container.
    pub async fn logs<D: DockerApi>(
        &self,
        engine: &Engine<D>,
        service: &str,
        follow: bool,
        out: &mut (dyn Write + Send),
    ) -> Result<bool, DriverError> {
        if !self.plan.services.contains_key(service) {
            let known: Vec<&str> = self.plan.services.keys().map(String::as_str).collect();
            return Err(DriverError::UnknownService {
                stack: self.plan.name.clone(),
                service: service.to_string(),
                known: known.join(", "),
            });
        }
        ops::logs(&engine.docker, self.name(), service, follow, out).await
    }
}
