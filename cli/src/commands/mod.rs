//! One module per command (`devstack <verb>`), as cargo lays out its own: this module holds
//! the command line's shape and runs a parsed [`Cli`] on one tokio runtime; each verb's module
//! does its work and prints through [`crate::output`].

pub mod build;
pub mod catalog;
pub mod crd;
pub mod dev;
pub mod dev_k8s;
pub mod down;
pub mod env;
pub mod env_template;
pub mod graph;
pub mod import;
pub mod logs;
pub mod parity;
pub mod render;
pub mod reset;
pub mod secrets;
pub mod status;
pub mod up;
pub mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use devstack_core::plan::{NodePortRange, PlanOptions, StackPlan};

use crate::load::parse_overrides;
use crate::output::{self, Format};

/// Describe a development stack once; run it in Kubernetes or Docker with the same services,
/// ports, credentials contract, health checks and budgets.
#[derive(Parser, Debug)]
#[command(name = "devstack", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 success, 1 failure, 2 invalid input (the message names the field).\n\
Examples:\n  devstack up stack.yaml && devstack env stack.yaml\n  devstack validate stack.yaml\n  devstack render compose stack.yaml -o .devstack/compose.yaml && docker compose -f .devstack/compose.yaml up -d --wait\n  devstack render k8s stack.yaml | kubectl apply -f -\n  devstack parity stack.yaml\n  devstack catalog -o json"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a stack file: exit 0 when valid, 2 with every problem listed when not.
    #[command(
        after_help = "Example:\n  devstack validate examples/soma-shared-infra.yaml --profile core"
    )]
    Validate(StackArgs),
    /// Render a stack for Kubernetes (a YAML stream) or Compose (a compose file + .env).
    #[command(subcommand)]
    Render(render::RenderCommand),
    /// Render both ways, read both back and compare service by service.
    #[command(
        after_help = "Prints a matrix: same / differs by design / MISMATCH. Exits 1 on any MISMATCH.\nExamples:\n  devstack parity examples/ktrdr.yaml\n  devstack parity stack.yaml --live                      # containers on the Docker engine\n  devstack parity stack.yaml --live --runtime kubernetes # objects in the cluster (KUBECONFIG)"
    )]
    Parity {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Compare what runs (read back through the runtime's API) with that runtime's
        /// rendering, instead of the two renderings: see --runtime.
        #[arg(long)]
        live: bool,
        /// With --live: `docker`, the containers on the Docker engine against the compose
        /// rendering; `kubernetes`, the stack's objects in the cluster (applied by the operator
        /// or by kubectl) against the Kubernetes rendering.
        #[arg(long, value_enum, default_value_t = LiveRuntime::Docker, requires = "live")]
        runtime: LiveRuntime,
        /// With --live --runtime kubernetes: the stack's namespace (default: the file's
        /// metadata.namespace, else `default`).
        #[arg(long, requires = "live")]
        namespace: Option<String>,
    },
    /// List the catalog's service types.
    #[command(
        after_help = "Examples:\n  devstack catalog\n  devstack catalog -o json | jq '.[].type'"
    )]
    Catalog {
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Start the stack on the local Docker engine (no compose file needed): creates what the
    /// compose rendering describes, in dependency order, and waits until it is healthy.
    #[command(
        after_help = "Writes .devstack/<stack>/compose.yaml and .env (mode 0600) like `render compose -o`, so\n`docker compose -p <stack>` sees the same containers. A second `up` changes nothing; a changed\nservice is recreated. Interrupted (Ctrl-C)? Run `up` again: it continues.\nExamples:\n  devstack up stack.yaml\n  devstack up stack.yaml --profile vector-alt --timeout 120"
    )]
    Up {
        #[command(flatten)]
        stack: StackArgs,
        /// Return once every container started; only dependencies are waited for.
        #[arg(long)]
        no_wait: bool,
        /// Give up (and remove what this `up` created) after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        timeout: u64,
        /// Fail when the engine cannot give a GPU service its GPUs, instead of running it on
        /// CPU with DEVSTACK_GPU=0.
        #[arg(long)]
        require_gpu: bool,
    },
    /// Stop the stack: removes its containers and networks, keeps volumes and credentials.
    #[command(after_help = "Example:\n  devstack down stack.yaml")]
    Down(StackArgs),
    /// Remove the stack's containers, networks and volumes (data!) and generate new credentials.
    #[command(
        after_help = "Asks on a terminal; without one it refuses unless --yes.\nExample:\n  devstack reset stack.yaml --yes && devstack up stack.yaml"
    )]
    Reset {
        #[command(flatten)]
        stack: StackArgs,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Per service: container state, health, host ports, image, uptime.
    #[command(
        after_help = "Examples:\n  devstack status stack.yaml\n  devstack status stack.yaml -o json"
    )]
    Status {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Connection settings for a program on the host (127.0.0.1 and the published ports).
    #[command(
        after_help = "Secrets are shown as <redacted> unless --show-secrets.\nExamples:\n  devstack env stack.yaml --service postgres\n  eval \"$(devstack env stack.yaml --format shell --show-secrets)\""
    )]
    Env {
        #[command(flatten)]
        stack: StackArgs,
        /// Only this service's settings.
        #[arg(long)]
        service: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EnvFormat::Dotenv)]
        format: EnvFormat,
        /// Print secret values instead of `<redacted>`.
        #[arg(long)]
        show_secrets: bool,
        /// Print a commented `.env.example` instead: every key the service (default: each of
        /// your own services) receives, with host addresses, secrets as placeholders.
        #[arg(long, conflicts_with_all = ["show_secrets", "format"])]
        template: bool,
    },
    /// App secrets (the spec's `secrets`): rotate them.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Print a service's container logs.
    #[command(after_help = "Example:\n  devstack logs stack.yaml postgres -f")]
    Logs {
        #[command(flatten)]
        stack: StackArgs,
        /// The service.
        service: String,
        /// Keep following the logs.
        #[arg(short = 'f', long)]
        follow: bool,
    },
    /// Build the images of the stack's `build` services (content-tagged, unchanged contexts
    /// are not rebuilt) and make them available to a cluster.
    #[command(
        after_help = "Examples:\n  devstack build stack.yaml\n  devstack build stack.yaml --load node   # the local harness node\n  devstack build stack.yaml --load kind --kind-cluster devstack\n  devstack build stack.yaml --load push   # to spec.imageRegistry"
    )]
    Build {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        build: build::BuildArgs,
    },
    /// Start (or adopt) the stack and keep it in step with your edits: synced files are live
    /// (Docker: bind mounts; Kubernetes: uploads through exec), `restart: true` restarts, a
    /// changed lock file rebuilds.
    #[command(
        after_help = "Examples:\n  devstack dev examples/ktrdr.yaml\n  devstack dev examples/ktrdr.yaml --runtime kubernetes --load node\nCtrl-C stops watching; the stack keeps running (devstack down stops it)."
    )]
    Dev {
        #[command(flatten)]
        stack: StackArgs,
        /// Where the stack runs: docker, or kubernetes (KUBECONFIG; apply, then sync by exec).
        #[arg(long, value_enum, default_value_t = dev::DevRuntime::Docker)]
        runtime: dev::DevRuntime,
        /// With --runtime kubernetes: how the built images reach the cluster (as apply).
        #[command(flatten)]
        build: build::BuildArgs,
        /// With --runtime kubernetes: the namespace (default: metadata.namespace, else default).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Build and load the images, then server-side apply the DevStack with the built tags
    /// (the operator runs it).
    #[command(
        after_help = "Example:\n  devstack apply stack.yaml --load node && kubectl wait --for=condition=Ready devstack/NAME"
    )]
    Apply {
        #[command(flatten)]
        stack: StackArgs,
        #[command(flatten)]
        build: build::BuildArgs,
        /// Namespace of the DevStack (default: the file's metadata.namespace, else `default`).
        #[arg(long)]
        namespace: Option<String>,
    },
    /// Turn a Compose project into a DevStack file, with a report of every key it could not carry.
    #[command(
        after_help = "Compose itself reads the project (`docker compose --profile '*' config --format json`: overlays,\n.env, env_file, every profile), found as $DEVSTACK_COMPOSE_BIN, `docker compose` or `docker-compose`.\nExit 2 when Compose rejects the project (its message names the file and line) or the output exists.\nExamples:\n  devstack import -f compose.yaml -o stack.yaml\n  devstack import -f compose.yaml -f compose.prod.yaml --profile dev -o stack.yaml --check\n  devstack import -f compose.yaml --output-format json | jq '.losses[] | .key'"
    )]
    Import(ImportCommand),
    /// Print the DevStack CustomResourceDefinition (identical to crds/devstack.dev_devstacks.yaml).
    #[command(after_help = "Example:\n  devstack crd | kubectl apply -f -")]
    Crd,
}

/// `devstack import`'s options.
#[derive(Args, Debug)]
struct ImportCommand {
    /// A Compose file (repeatable, merged in order like `docker compose -f`); default: Compose's
    /// own (compose.yaml in the working directory).
    #[arg(short = 'f', long = "file", value_name = "COMPOSE_FILE")]
    files: Vec<PathBuf>,
    /// A profile to activate (repeatable): written as spec.profiles. Every service is imported
    /// with its own profiles, active or not.
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Write the stack here (atomically; refused when it exists, unless --force); default:
    /// standard output, with the report on standard error.
    #[arg(short = 'o', long = "output", value_name = "STACK_FILE")]
    output: Option<PathBuf>,
    /// How to print the loss report.
    #[arg(long = "output-format", value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Render the imported stack as Compose and compare it with the original on every kept
    /// aspect; exit 1 on a difference the loss report does not explain.
    #[arg(long)]
    check: bool,
    /// Replace an existing stack file.
    #[arg(long)]
    force: bool,
    /// Stack name (metadata.name); default: the Compose project name.
    #[arg(long)]
    name: Option<String>,
}

#[derive(Subcommand, Debug)]
enum SecretsCommand {
    /// New values for the stack's app secrets (all, or SERVICE.NAME) in its `.env`; running
    /// containers that read them are recreated. Catalog credentials are never rotated: they
    /// protect data created with them (`devstack reset` replaces data and credentials).
    #[command(
        after_help = "Values are never printed (devstack env --show-secrets shows them).\nExamples:\n  devstack secrets rotate stack.yaml backend.JWT_SECRET\n  devstack secrets rotate stack.yaml\nIn Kubernetes: kubectl annotate devstack/NAME devstack.dev/rotate=\"$(date +%s):backend.JWT_SECRET\" --overwrite"
    )]
    Rotate {
        #[command(flatten)]
        stack: StackArgs,
        /// The secret, as SERVICE.NAME (every app secret without it).
        target: Option<String>,
    },
}

/// The stack file and how to plan it (every command that reads a stack).
#[derive(Args, Debug)]
pub struct StackArgs {
    /// The DevStack file (`-` reads standard input).
    pub file: PathBuf,
    /// Active profile (repeatable); replaces spec.profiles.
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Use IMAGE for catalog TYPE (air-gapped mirrors, locally built images).
    #[arg(long = "image-override", value_name = "TYPE=IMAGE")]
    pub image_overrides: Vec<String>,
    /// The cluster's node port range (the API server's --service-node-port-range): host ports
    /// become node ports inside it.
    #[arg(
        long = "node-port-range",
        value_name = "FIRST-LAST",
        default_value = "30000-32767"
    )]
    pub node_ports: NodePortRange,
}

/// `devstack env --format`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvFormat {
    /// `KEY=value` lines.
    Dotenv,
    /// `export KEY='value'` lines.
    Shell,
    /// A JSON object.
    Json,
}

/// `devstack parity --runtime`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveRuntime {
    /// The containers on the Docker engine.
    Docker,
    /// The objects in the cluster.
    Kubernetes,
}

impl StackArgs {
    /// The plan of the stack file with the profiles and image overrides given.
    pub fn plan(&self) -> Result<StackPlan> {
        let options = PlanOptions {
            profiles: (!self.profiles.is_empty()).then(|| self.profiles.clone()),
            image_overrides: parse_overrides(&self.image_overrides)?,
            node_ports: self.node_ports,
            ..PlanOptions::default()
        };
        // `build`, `mounts` and `sync` paths are relative to the stack file (a file that
        // cannot be read is reported as such by the loader, not by the directory lookup).
        let base = self.state_root().or_else(|_| std::env::current_dir())?;
        Ok(crate::devloop::plan_file(&self.file, &base, options)?)
    }

    /// Where the stack's state (`.devstack/<stack>/`) lives: the directory of the stack file
    /// (absolute), whatever the working directory, so `devstack up` from the project root and
    /// `devstack env ../stack.yaml` from a subdirectory share one `.env`. A stack read from
    /// standard input (`-`) has no file: the working directory then.
    pub fn state_root(&self) -> Result<std::path::PathBuf> {
        let cwd = std::env::current_dir()?;
        if self.file.as_os_str() == "-" {
            return Ok(cwd);
        }
        let dir = match self.file.parent() {
            Some(d) if !d.as_os_str().is_empty() => cwd.join(d),
            _ => cwd,
        };
        Ok(dir.canonicalize()?)
    }
}

/// Runs `cli` on the one async runtime of the process; the exit code on success.
pub fn run(cli: Cli) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(dispatch(cli.command))
}

/// `devstack up`: plans the stack and converges it on the Docker engine.
async fn run_up(
    stack: &StackArgs,
    wait: bool,
    timeout_seconds: u64,
    require_gpu: bool,
) -> Result<ExitCode> {
    let args = up::UpArgs {
        wait,
        timeout: std::time::Duration::from_secs(timeout_seconds),
        require_gpu,
        file: stack.file.display().to_string(),
    };
    Ok(ExitCode::from(
        up::run(&stack.plan()?, &stack.state_root()?, &args).await?,
    ))
}

/// `devstack dev`: the dev loop on the Docker engine or, with `--runtime kubernetes`, a cluster.
async fn run_dev(
    stack: &StackArgs,
    runtime: dev::DevRuntime,
    build: &build::BuildArgs,
    namespace: Option<String>,
) -> Result<()> {
    match runtime {
        dev::DevRuntime::Docker => {
            dev::refuse_cluster_options(build, namespace.as_deref())?;
            dev::run(stack).await
        }
        dev::DevRuntime::Kubernetes => dev_k8s::run(stack, build, namespace).await,
    }
}

impl From<ImportCommand> for import::ImportArgs {
    fn from(args: ImportCommand) -> Self {
        Self {
            files: args.files,
            profiles: args.profiles,
            output: args.output,
            format: args.format,
            check: args.check,
            force: args.force,
            name: args.name,
        }
    }
}

async fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Validate(args) => validate::run(&args)?,
        Command::Render(command) => render::run(command)?,
        Command::Parity {
            stack,
            format,
            live,
            runtime,
            namespace,
        } => {
            let runtime = live.then_some(runtime);
            return parity::run(&stack, format, runtime, namespace).await;
        }
        Command::Catalog { format } => catalog::run(format)?,
        Command::Up {
            stack,
            no_wait,
            timeout,
            require_gpu,
        } => return run_up(&stack, !no_wait, timeout, require_gpu).await,
        Command::Down(stack) => down::run(&stack.plan()?, &stack.state_root()?).await?,
        Command::Reset { stack, yes } => {
            reset::run(&stack.plan()?, &stack.state_root()?, yes).await?
        }
        Command::Status { stack, format } => {
            status::run(&stack.plan()?, &stack.state_root()?, format).await?
        }
        Command::Env {
            stack,
            service,
            template: true,
            ..
        } => {
            let plan = stack.plan()?;
            output::print(&env_template::template(&plan, service.as_deref()))?
        }
        Command::Secrets(SecretsCommand::Rotate { stack, target }) => {
            secrets::rotate(&stack.plan()?, &stack.state_root()?, target.as_deref()).await?
        }
        Command::Env {
            stack,
            service,
            format,
            show_secrets,
            template: false,
        } => env::run(
            &stack.plan()?,
            &stack.state_root()?,
            service.as_deref(),
            format,
            show_secrets,
        )?,
        Command::Logs {
            stack,
            service,
            follow,
        } => logs::run(&stack.plan()?, &stack.state_root()?, &service, follow).await?,
        Command::Import(args) => return import::run(&args.into()),
        Command::Crd => crd::run()?,
        Command::Dev {
            stack,
            runtime,
            build,
            namespace,
        } => run_dev(&stack, runtime, &build, namespace).await?,
        Command::Build { stack, build } => build::build(&stack.plan()?, &build).await?,
        Command::Apply {
            stack,
            build,
            namespace,
        } => {
            build::apply_file(&stack, &build, namespace.as_deref()).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
