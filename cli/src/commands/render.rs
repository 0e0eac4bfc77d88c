//! `devstack render k8s | compose | graph | kind`: the two renderings of a stack, its graph,
//! and the Kind cluster config it needs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use devstack_core::plan::StackPlan;
use devstack_docker::env_file::{self, EnvSync};
use devstack_docker::state::StateFiles;
use devstack_docker::Features;

use super::{graph, StackArgs};
use crate::output;

#[derive(Subcommand, Debug)]
pub enum RenderCommand {
    /// Kubernetes objects as a YAML stream. Secrets are left out unless --include-secrets.
    #[command(
        after_help = "Examples:\n  devstack render k8s stack.yaml > stack.k8s.yaml\n  devstack render k8s stack.yaml --include-secrets --env-file .devstack/.env | kubectl apply -f -"
    )]
    K8s {
        #[command(flatten)]
        stack: StackArgs,
        /// Also render the credentials and connections Secrets (their values are printed).
        #[arg(long)]
        include_secrets: bool,
        /// Secrets file to take values from (and to create/extend); default: generate fresh
        /// values and print them only inside the Secrets.
        #[arg(long, requires = "include_secrets")]
        env_file: Option<PathBuf>,
        /// Render for a cluster where no node offers nvidia.com/gpu, as the operator does:
        /// services whose GPUs are not required (`gpuRequired`) run on CPU, with
        /// DEVSTACK_GPU=cpu and no GPU limit.
        #[arg(long)]
        gpu_fallback: bool,
    },
    /// A compose file. With -o, also writes the secrets file `.env` beside it (mode 0600),
    /// generating secrets on the first render and reusing them afterwards.
    #[command(
        after_help = "Examples:\n  devstack render compose stack.yaml\n  devstack render compose stack.yaml -o .devstack/compose.yaml\n  docker compose -f .devstack/compose.yaml up -d --wait"
    )]
    Compose {
        #[command(flatten)]
        stack: StackArgs,
        /// Write the compose file here (and `.env` beside it) instead of printing it.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// For Docker Engine 25 or later: health checks also get `start_interval: 1s`, so a
        /// starting service is checked every second until healthy, as the Kubernetes startup
        /// probe does (`devstack up` does this by itself on such an engine). Older engines
        /// refuse the key.
        #[arg(long)]
        start_interval: bool,
    },
    /// The reachability graph (dependsOn and scrape edges) as Graphviz DOT.
    #[command(after_help = "Example:\n  devstack render graph stack.yaml | dot -Tsvg > graph.svg")]
    Graph(StackArgs),
    /// A Kind cluster config with host-port and host-mount parity: the node port range, one
    /// extraPortMappings entry per host port, one extraMounts entry per `mounts` source.
    #[command(
        after_help = "Examples:\n  devstack render kind stack.yaml > kind.yaml && kind create cluster --config kind.yaml\n  devstack render kind examples/minimal.yaml --with examples/soma-shared-infra.yaml"
    )]
    Kind {
        #[command(flatten)]
        stack: StackArgs,
        /// Another stack file the cluster runs too (repeatable; same profiles, image
        /// overrides and node port range).
        #[arg(long = "with", value_name = "FILE")]
        with: Vec<PathBuf>,
    },
}

/// Runs one `render` subcommand.
pub fn run(command: RenderCommand) -> Result<()> {
    match command {
        RenderCommand::K8s {
            stack,
            include_secrets,
            env_file,
            gpu_fallback,
        } => k8s(&stack, include_secrets, env_file.as_deref(), gpu_fallback),
        RenderCommand::Compose {
            stack,
            output,
            start_interval,
        } => compose(&stack, output.as_deref(), Features { start_interval }),
        RenderCommand::Graph(stack) => graph::run(&stack),
        RenderCommand::Kind { stack, with } => kind(&stack, &with),
    }
}

/// `render kind`: the Kind config for `stack` and the stacks `with` it.
fn kind(stack: &StackArgs, with: &[PathBuf]) -> Result<()> {
    let mut plans = vec![stack.plan()?];
    for file in with {
        let other = StackArgs {
            file: file.clone(),
            profiles: stack.profiles.clone(),
            image_overrides: stack.image_overrides.clone(),
            node_ports: stack.node_ports,
        };
        plans.push(other.plan()?);
    }
    let plans: Vec<&StackPlan> = plans.iter().collect();
    output::print(&devstack_render_k8s::kind::kind_config(
        &plans,
        stack.node_ports,
    )?)
}

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
pub fn compose(stack: &StackArgs, output: Option<&Path>, features: Features) -> Result<()> {
    let plan = stack.plan()?;
    let mut project = devstack_render_compose::render::project(&plan);
    if features.start_interval {
        devstack_render_compose::health::with_start_interval(&mut project);
    }
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
