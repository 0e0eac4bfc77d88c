//! `devstack`: one spec, two renderings (Kubernetes and Compose), parity checked.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use devstack_cli::load::{check_namespace, load_plan, parse_overrides};
use devstack_cli::{catalog_list, docker_cmd, exit, host_env, parity, secrets, state};
use devstack_crds::plan::{NodePortRange, PlanOptions, StackPlan};

/// Describe a development stack once; run it in Kubernetes or Docker with the same services,
/// ports, credentials contract, health checks and budgets.
#[derive(Parser, Debug)]
#[command(name = "devstack", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 success, 1 failure, 2 invalid input (the message names the field).\n\
Examples:\n  devstack up stack.yaml && devstack env stack.yaml\n  devstack validate stack.yaml\n  devstack render compose stack.yaml -o .devstack/compose.yaml && docker compose -f .devstack/compose.yaml up -d --wait\n  devstack render k8s stack.yaml | kubectl apply -f -\n  devstack parity stack.yaml\n  devstack catalog -o json"
)]
struct Cli {
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
    Render(RenderCommand),
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
    },
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
    /// Print the DevStack CustomResourceDefinition (identical to crds/devstack.dev_devstacks.yaml).
    #[command(after_help = "Example:\n  devstack crd | kubectl apply -f -")]
    Crd,
}

#[derive(Subcommand, Debug)]
enum RenderCommand {
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
    },
}

#[derive(Args, Debug)]
struct StackArgs {
    /// The DevStack file (`-` reads standard input).
    file: PathBuf,
    /// Active profile (repeatable); replaces spec.profiles.
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    /// Use IMAGE for catalog TYPE (air-gapped mirrors, locally built images).
    #[arg(long = "image-override", value_name = "TYPE=IMAGE")]
    image_overrides: Vec<String>,
    /// The cluster's node port range (the API server's --service-node-port-range): host ports
    /// become node ports inside it.
    #[arg(
        long = "node-port-range",
        value_name = "FIRST-LAST",
        env = "DEVSTACK_NODE_PORT_RANGE",
        default_value = "30000-32767"
    )]
    node_ports: NodePortRange,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum EnvFormat {
    Dotenv,
    Shell,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LiveRuntime {
    Docker,
    Kubernetes,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

impl StackArgs {
    fn plan(&self) -> Result<StackPlan> {
        let options = PlanOptions {
            profiles: (!self.profiles.is_empty()).then(|| self.profiles.clone()),
            image_overrides: parse_overrides(&self.image_overrides)?,
            node_ports: self.node_ports,
        };
        Ok(load_plan(&self.file, &options)?)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(exit::INVALID_INPUT)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::code(&error))
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Validate(args) => {
            let plan = args.plan()?;
            let active: Vec<&str> = plan.active_services().map(|s| s.name.as_str()).collect();
            writeln!(
                out,
                "{}: valid: stack {:?}, {} services, {} active ({})",
                args.file.display(),
                plan.name,
                plan.services.len(),
                active.len(),
                active.join(", ")
            )?;
        }
        Command::Render(RenderCommand::K8s {
            stack,
            include_secrets,
            env_file,
            gpu_fallback,
        }) => {
            let plan = stack.plan()?;
            let values = if include_secrets {
                Some(secret_values(&plan, env_file.as_deref())?)
            } else {
                eprintln!("note: Secrets {} and {} are not printed (the operator generates them); pass --include-secrets to render them", plan.credentials_secret_name(), plan.connections_secret_name());
                None
            };
            let options = devstack_operator::RenderOptions { gpu_fallback };
            let objects = devstack_operator::render_with(&plan, values.as_ref(), options)?;
            out.write_all(devstack_operator::to_yaml_stream(&objects)?.as_bytes())?;
        }
        Command::Render(RenderCommand::Compose { stack, output }) => {
            let plan = stack.plan()?;
            let yaml = devstack_compose::render(&plan)?;
            match output {
                None => out.write_all(yaml.as_bytes())?,
                Some(path) => write_compose(&plan, &yaml, &path)?,
            }
        }
        Command::Parity {
            stack,
            format,
            live,
            runtime,
            namespace,
        } => {
            let mut plan = stack.plan()?;
            if let Some(namespace) = namespace {
                plan.namespace = Some(check_namespace(namespace)?);
            }
            let (report, heading) = match (live, runtime) {
                (false, _) => (parity::check(&plan)?, None),
                (true, LiveRuntime::Docker) => (
                    docker_cmd::live_parity(&plan)?,
                    Some("compose rendering vs running containers"),
                ),
                (true, LiveRuntime::Kubernetes) => (
                    cluster_parity(&plan)?,
                    Some("kubernetes rendering vs objects in the cluster"),
                ),
            };
            match format {
                Format::Table if heading.is_some() => out.write_all(
                    report
                        .table()
                        .replacen("kubernetes vs compose", heading.unwrap_or_default(), 1)
                        .as_bytes(),
                )?,
                Format::Table => out.write_all(report.table().as_bytes())?,
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
            }
            if report.mismatches() > 0 {
                eprintln!("error: {} parity mismatches", report.mismatches());
                return Ok(ExitCode::from(1));
            }
        }
        Command::Catalog { format } => match format {
            Format::Table => out.write_all(catalog_list::table().as_bytes())?,
            Format::Json => writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&catalog_list::rows())?
            )?,
        },
        Command::Up {
            stack,
            no_wait,
            timeout,
            require_gpu,
        } => {
            let plan = stack.plan()?;
            let args = docker_cmd::UpArgs {
                wait: !no_wait,
                timeout: std::time::Duration::from_secs(timeout),
                require_gpu,
                file: stack.file.display().to_string(),
            };
            return Ok(ExitCode::from(docker_cmd::up(&plan, &args)?));
        }
        Command::Down(stack) => docker_cmd::down(&stack.plan()?)?,
        Command::Reset { stack, yes } => docker_cmd::reset(&stack.plan()?, yes)?,
        Command::Status { stack, format } => {
            let rows = docker_cmd::status_rows(&stack.plan()?)?;
            match format {
                Format::Table => out.write_all(docker_cmd::status_table(&rows).as_bytes())?,
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?,
            }
        }
        Command::Env {
            stack,
            service,
            format,
            show_secrets,
        } => {
            let plan = stack.plan()?;
            let secrets = docker_cmd::secrets(&plan)?;
            let settings = host_env::settings(&plan, &secrets, service.as_deref(), show_secrets);
            let format = match format {
                EnvFormat::Dotenv => "dotenv",
                EnvFormat::Shell => "shell",
                EnvFormat::Json => "json",
            };
            out.write_all(host_env::format(&settings, format).as_bytes())?;
        }
        Command::Logs {
            stack,
            service,
            follow,
        } => docker_cmd::logs(&stack.plan()?, &service, follow)?,
        Command::Crd => out.write_all(devstack_crds::crdgen::crd_yaml()?.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `devstack parity --live --runtime kubernetes`: the stack's objects in the cluster of the
/// current kubeconfig (or the in-cluster config) against the Kubernetes rendering.
fn cluster_parity(plan: &StackPlan) -> Result<parity::Report> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = kube::Client::try_default().await.map_err(|e| {
            anyhow::anyhow!("cannot reach a Kubernetes cluster ({e}); set KUBECONFIG")
        })?;
        Ok(parity::cluster::check(&client, plan).await?)
    })
}

/// Secret values from `env_file` (created or extended as needed), or fresh ones.
fn secret_values(plan: &StackPlan, env_file: Option<&Path>) -> Result<BTreeMap<String, String>> {
    let Some(path) = env_file else {
        return Ok(secrets::ensure_secrets(plan, &BTreeMap::new()));
    };
    let existing = secrets::read_env_file(path)?;
    let values = secrets::ensure_secrets(plan, &existing);
    if values.iter().any(|(k, v)| existing.get(k) != Some(v)) {
        let generated = devstack_compose::env_file(plan, &values)?;
        secrets::write_private(path, &secrets::merge_foreign_keys(&generated, &existing))?;
    }
    Ok(values)
}

fn write_compose(plan: &StackPlan, yaml: &str, path: &Path) -> Result<()> {
    let written = state::write_compose(plan, yaml, path)?;
    let total = written.secrets.len();
    eprintln!(
        "wrote {} and {} (mode 0600; {} secrets: {} reused, {} generated)",
        path.display(),
        written.env_path.display(),
        total,
        written.reused,
        total - written.reused
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
