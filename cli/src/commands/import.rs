//! `devstack import`: a Compose project → a DevStack file and a loss report.
//!
//! Compose itself loads the project (`docker compose [-f …] --profile '*' config --format
//! json`: overlays merged, `.env` / `env_file` interpolated, every profile's services), so the
//! import reads exactly what `docker compose up` would run; the `--profile`s given become the
//! stack's `spec.profiles` (the selection), and every service keeps its own `profiles`. The mapping is `devstack-import`'s (pure);
//! this module finds the Compose binary, runs it, writes the stack file atomically (never over
//! an existing file without `--force`), prints the loss report, and with `--check` renders the
//! imported stack, lets Compose normalise the rendering too, and prints the differences.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use devstack_core::plan::{plan, PlanOptions};
use devstack_import::{ImportOptions, Imported};
use serde::Serialize;

use crate::output::{self, Format};

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportCliError {
    /// No Compose binary (exit 1).
    #[error("no Docker Compose found: set DEVSTACK_COMPOSE_BIN to a Compose v2 binary, or install `docker compose` or `docker-compose`")]
    NoCompose,
    /// Compose rejected the project; its own message names the file and line (exit 2).
    #[error("Compose cannot read the project {files}:\n{message}")]
    Compose {
        /// The files given (`compose.yaml` when none).
        files: String,
        /// Compose's message.
        message: String,
    },
    /// The output file exists (exit 2).
    #[error("{0} exists; pass --force to replace it")]
    Exists(String),
    /// A compose file does not exist (exit 2).
    #[error("{0}: no such compose file")]
    NoFile(String),
}

/// The command line of `devstack import`.
#[derive(Debug, Clone)]
pub struct ImportArgs {
    /// Compose files (`-f`), in overlay order; none: Compose's own default file.
    pub files: Vec<PathBuf>,
    /// Profiles (`--profile`).
    pub profiles: Vec<String>,
    /// The stack file to write; standard output when unset.
    pub output: Option<PathBuf>,
    /// How to print the report.
    pub format: Format,
    /// Also render the stack and compare with the original.
    pub check: bool,
    /// Replace an existing output file.
    pub force: bool,
    /// Stack name.
    pub name: Option<String>,
}

/// The `-o json` document.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    stack_file: Option<String>,
    stack: Option<&'a str>,
    isolation: &'a str,
    services: &'a std::collections::BTreeMap<String, String>,
    losses: &'a [devstack_import::Loss],
    #[serde(skip_serializing_if = "Option::is_none")]
    check: Option<&'a devstack_parity::Report>,
}

/// Runs the import; exit 1 when `--check` finds an unexplained difference.
pub fn run(args: &ImportArgs) -> Result<ExitCode> {
    for file in &args.files {
        if !file.is_file() {
            return Err(ImportCliError::NoFile(file.display().to_string()).into());
        }
    }
    let bin = compose_bin()?;
    let json = bin.config(&args.files, None)?;
    let raw_files = args
        .files
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    let base = base_dir(args.output.as_deref())?;
    let options = ImportOptions {
        name: args.name.clone(),
        profiles: args.profiles.clone(),
        raw_files,
        base_dir: Some(base.display().to_string()),
        regular_files: regular_files(&json)?,
        existing: bind_sources(&json, |m| m.is_ok())?,
        directories: bind_sources(&json, |m| m.is_ok_and(|m| m.is_dir()))?,
    };
    let imported = devstack_import::import(&json, &options)?;
    let yaml = stack_yaml(&imported)?;
    let plan_options = PlanOptions {
        file_sources: Some(crate::load::read_sources(&imported.stack, &base)),
        base_dir: Some(base.clone()),
        ..PlanOptions::default()
    };
    let stack_plan = plan(&imported.stack, &plan_options).map_err(|errors| {
        anyhow::anyhow!("the imported stack does not validate (an import bug, please report it with the compose file):\n{errors}")
    })?;
    if let Some(path) = &args.output {
        write_stack(path, &yaml, args.force)?;
    }
    let check = if args.check {
        Some(round_trip(&bin, &json, &imported, &stack_plan)?)
    } else {
        None
    };
    print(args, &imported, &yaml, check.as_ref())?;
    if let Some(report) = &check {
        if report.mismatches() > 0 {
            eprintln!("error: {} unexplained differences", report.mismatches());
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print(
    args: &ImportArgs,
    imported: &Imported,
    yaml: &str,
    check: Option<&devstack_parity::Report>,
) -> Result<()> {
    match args.format {
        Format::Json => output::print_json(&JsonReport {
            stack_file: args.output.as_ref().map(|p| p.display().to_string()),
            stack: args.output.is_none().then_some(yaml),
            isolation: &imported.isolation_reason,
            services: &imported.names,
            losses: &imported.report.losses,
            check,
        }),
        Format::Table => {
            let report = format!(
                "{}\nisolation: {}\n",
                imported.report.table(),
                imported.isolation_reason
            );
            match &args.output {
                // The stack is the output; the report goes beside it on standard error.
                None => {
                    output::print(yaml)?;
                    eprint!("{report}");
                }
                Some(path) => {
                    output::print(&format!("wrote {}\n\n{report}", path.display()))?;
                }
            }
            if let Some(check) = check {
                let table = check.table().replacen("kubernetes vs compose", "the compose file vs the imported stack's compose rendering (both as `docker compose config` reads them)", 1);
                match &args.output {
                    None => eprint!("\n{table}"),
                    Some(_) => output::print(&format!("\n{table}"))?,
                }
            }
            Ok(())
        }
    }
}

/// The directory the stack file goes to (its sources are relative to it), absolute.
fn base_dir(output: Option<&Path>) -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let dir = match output.and_then(Path::parent) {
        Some(d) if !d.as_os_str().is_empty() => cwd.join(d),
        _ => cwd,
    };
    dir.canonicalize()
        .with_context(|| format!("the output directory {}", dir.display()))
}

/// The bind sources and config files of the project that are regular files of at most the
/// size a stack's files may have.
fn regular_files(json: &str) -> Result<std::collections::BTreeSet<String>> {
    let project = devstack_import::model::parse(json)?;
    Ok(devstack_import::files::candidates(&project)
        .into_iter()
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| {
                m.is_file() && m.len() <= devstack_core::limits::MAX_FILES_BYTES as u64
            })
        })
        .collect())
}

/// The bind sources of the project whose metadata (following symlinks) passes `keep`.
fn bind_sources(
    json: &str,
    keep: impl Fn(std::io::Result<std::fs::Metadata>) -> bool,
) -> Result<std::collections::BTreeSet<String>> {
    let project = devstack_import::model::parse(json)?;
    Ok(devstack_import::files::candidates(&project)
        .into_iter()
        .filter(|p| keep(std::fs::metadata(p)))
        .collect())
}

/// The stack as YAML, with a comment saying where it came from.
fn stack_yaml(imported: &Imported) -> Result<String> {
    let body = devstack_core::yaml::to_string(&imported.stack)?;
    Ok(format!(
        "# Imported by `devstack import` from a Compose project; see the loss report it printed.\n{body}"
    ))
}

/// Writes `yaml` to `path` atomically (mode 0600: an import can keep literal credentials),
/// never over an existing file unless `force`.
fn write_stack(path: &Path, yaml: &str, force: bool) -> Result<()> {
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(ImportCliError::Exists(path.display().to_string()).into());
    }
    devstack_docker::env_file::write_private(path, yaml)
        .with_context(|| format!("writing {}", path.display()))
}

/// `--check`: render the stack as Compose (secrets as markers), let Compose normalise it, and
/// compare it with the original.
fn round_trip(
    bin: &ComposeBin,
    json: &str,
    imported: &Imported,
    stack_plan: &devstack_core::StackPlan,
) -> Result<devstack_parity::Report> {
    let markers = devstack_parity::secret_markers(stack_plan);
    let yaml = devstack_render_compose::render(stack_plan)?;
    let env = devstack_render_compose::env_file(stack_plan, &markers)?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, yaml).context("writing the rendering")?;
    std::fs::write(dir.path().join(".env"), env).context("writing the rendering's .env")?;
    let rendered = bin.config(&[file], Some(dir.path()))?;
    let original = devstack_import::model::parse(json)?;
    let rendered = devstack_import::model::parse(&rendered)?;
    Ok(devstack_import::check::compare(
        &original, &rendered, imported,
    ))
}

/// A Compose binary: `docker compose` or `docker-compose`.
pub struct ComposeBin {
    program: PathBuf,
    prefix: Vec<String>,
}

/// `DEVSTACK_COMPOSE_BIN`, else `docker compose`, else `docker-compose`.
pub fn compose_bin() -> Result<ComposeBin, ImportCliError> {
    if let Some(bin) = std::env::var_os("DEVSTACK_COMPOSE_BIN").filter(|b| !b.is_empty()) {
        return Ok(ComposeBin {
            program: bin.into(),
            prefix: Vec::new(),
        });
    }
    let works = |program: &str, prefix: &[&str]| {
        Command::new(program)
            .args(prefix)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("docker", &["compose"]) {
        return Ok(ComposeBin {
            program: "docker".into(),
            prefix: vec!["compose".into()],
        });
    }
    if works("docker-compose", &[]) {
        return Ok(ComposeBin {
            program: "docker-compose".into(),
            prefix: Vec::new(),
        });
    }
    Err(ImportCliError::NoCompose)
}

impl ComposeBin {
    /// `config --format json` of `files` with every profile enabled (`--profile '*'`, a global
    /// flag, before `config`): a stack keeps every service with its profiles, and the profiles
    /// given to the import become `spec.profiles`, the selection.
    pub fn config(&self, files: &[PathBuf], dir: Option<&Path>) -> Result<String> {
        let mut command = Command::new(&self.program);
        command.args(&self.prefix);
        for file in files {
            command.arg("-f").arg(file);
        }
        command.args(["--profile", "*"]);
        if let Some(dir) = dir {
            command.arg("--project-directory").arg(dir);
        }
        command.args(["config", "--format", "json"]);
        let out = command
            .output()
            .with_context(|| format!("running {}", self.program.display()))?;
        // Some Compose builds exit 0 after an error: no document on stdout is an error too.
        if !out.status.success() || out.stdout.iter().all(u8::is_ascii_whitespace) {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let files = if files.is_empty() {
                "(Compose's default file)".to_string()
            } else {
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" + ")
            };
            return Err(ImportCliError::Compose {
                files,
                message: stderr,
            }
            .into());
        }
        String::from_utf8(out.stdout).context("Compose printed something that is not UTF-8")
    }
}
