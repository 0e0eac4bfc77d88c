//! `devstack render k8s | compose`: the two renderings of a stack.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use devstack_core::plan::StackPlan;
use devstack_docker::env_file::{self, EnvSync};
use devstack_docker::state::StateFiles;

use super::StackArgs;
use crate::output;

/// `render k8s`: the Kubernetes objects as a YAML stream; the Secrets only with
/// `include_secrets` (values from `env_file`, created or extended as needed, else fresh).
pub fn k8s(
    stack: &StackArgs,
    include_secrets: bool,
    env_file: Option<&Path>,
    gpu_fallback: bool,
) -> Result<()> {
    let plan = stack.plan()?;
    let values = if include_secrets {
        Some(secret_values(&plan, env_file)?)
    } else {
        eprintln!("note: Secrets {} and {} are not printed (the operator generates them); pass --include-secrets to render them", plan.credentials_secret_name(), plan.connections_secret_name());
        None
    };
    let options = devstack_render_k8s::RenderOptions { gpu_fallback };
    let objects = devstack_render_k8s::render_with(&plan, values.as_ref(), options)?;
    output::print(&devstack_render_k8s::to_yaml_stream(&objects)?)
}

/// Secret values from `env_file` (created or extended as needed), or fresh ones.
fn secret_values(plan: &StackPlan, env_file: Option<&Path>) -> Result<BTreeMap<String, String>> {
    match env_file {
        None => Ok(env_file::ensure_secrets(plan, &BTreeMap::new())),
        Some(path) => Ok(env_file::sync(plan, path, EnvSync::Ensure)?.values),
    }
}

/// `render compose`: the compose file to standard output, or to `output` with the `.env`
/// beside it.
pub fn compose(stack: &StackArgs, output: Option<&Path>) -> Result<()> {
    let plan = stack.plan()?;
    let project = devstack_render_compose::render::project(&plan);
    let yaml = devstack_render_compose::to_text(&project)?;
    let Some(path) = output else {
        return output::print(&yaml);
    };
    let files = StateFiles::beside(path);
    let held = files.lock()?;
    let written = files.write(&held, &plan, &project, &yaml)?;
    drop(held);
    let total = written.secrets.values.len();
    eprintln!(
        "wrote {} and {} (mode 0600; {} secrets: {} reused, {} generated)",
        path.display(),
        files.env.display(),
        total,
        written.secrets.reused,
        total - written.secrets.reused
    );
    if let Some(cpu) = written.cpu_override {
        eprintln!(
            "wrote {}: without GPUs on the engine, add `-f {}` to run the GPU services on CPU (DEVSTACK_GPU=0)",
            cpu.display(),
            cpu.display()
        );
    }
    Ok(())
}
