//! `devstack`: one spec, two renderings (Kubernetes and Compose), parity checked.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use devstack_cli::load::{load_plan, parse_overrides};
use devstack_cli::{catalog_list, exit, parity, secrets};
use devstack_crds::plan::{PlanOptions, StackPlan};

/// Describe a development stack once; run it in Kubernetes or Docker with the same services,
/// ports, credentials contract, health checks and budgets.
#[derive(Parser, Debug)]
#[command(name = "devstack", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 success, 1 failure, 2 invalid input (the message names the field).\n\
Examples:\n  devstack validate stack.yaml\n  devstack render compose stack.yaml -o .devstack/compose.yaml && docker compose -f .devstack/compose.yaml up -d --wait\n  devstack render k8s stack.yaml | kubectl apply -f -\n  devstack parity stack.yaml\n  devstack catalog -o json"
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
        after_help = "Prints a matrix: same / differs by design / MISMATCH. Exits 1 on any MISMATCH.\nExample:\n  devstack parity examples/ktrdr.yaml"
    )]
    Parity {
        #[command(flatten)]
        stack: StackArgs,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
        format: Format,
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
        }) => {
            let plan = stack.plan()?;
            let values = if include_secrets {
                Some(secret_values(&plan, env_file.as_deref())?)
            } else {
                eprintln!("note: Secrets {} and {} are not printed (the operator generates them); pass --include-secrets to render them", plan.credentials_secret_name(), plan.connections_secret_name());
                None
            };
            let objects = devstack_operator::render(&plan, values.as_ref())?;
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
        Command::Parity { stack, format } => {
            let plan = stack.plan()?;
            let report = parity::check(&plan)?;
            match format {
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
        Command::Crd => out.write_all(devstack_crds::crdgen::crd_yaml()?.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
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
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let env_path = dir.join(".env");
    let existing = secrets::read_env_file(&env_path)?;
    let values = secrets::ensure_secrets(plan, &existing);
    let reused = values
        .iter()
        .filter(|(k, v)| existing.get(*k) == Some(v))
        .count();
    let env = secrets::merge_foreign_keys(&devstack_compose::env_file(plan, &values)?, &existing);
    secrets::write_private(&env_path, &env)?;
    std::fs::write(path, yaml).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "wrote {} and {} (mode 0600; {} secrets: {} reused, {} generated)",
        path.display(),
        env_path.display(),
        values.len(),
        reused,
        values.len() - reused
    );
    Ok(())
}
