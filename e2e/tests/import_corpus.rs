//! `devstack import` over the corpus (`compose-adapter/import/tests/corpus/cases.txt`): public
//! Compose projects (Docker's awesome-compose, Kompose's fixtures) and one project per seed
//! team. Each case imports with `--check` and its expectation holds: `ok` (exit 0, the stack
//! validates, no unexplained difference) or `fail: <reason>` (exit 2 with Compose's own
//! message). Prints the corpus summary `docs/import.md` quotes.
//!
//! Needs a Compose v2 binary: `$DEVSTACK_COMPOSE_BIN`, else `e2e/docker.sh compose-bin`. Fails,
//! never skips, without one.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use devstack_e2e::{bin, workspace_root};
use serde_json::Value;

fn compose_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("DEVSTACK_COMPOSE_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let out = Command::new(workspace_root().join("e2e/docker.sh"))
        .arg("compose-bin")
        .output()
        .expect("e2e/docker.sh compose-bin");
    assert!(
        out.status.success(),
        "e2e/docker.sh compose-bin failed; set DEVSTACK_COMPOSE_BIN"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(text.lines().last().expect("a path").trim())
}

fn corpus() -> PathBuf {
    workspace_root().join("compose-adapter/import/tests/corpus")
}

struct Case {
    name: String,
    files: Vec<String>,
    profiles: Vec<String>,
    expect: Option<String>,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus().join("cases.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let f: Vec<&str> = line.split('|').map(str::trim).collect();
            let list = |s: &str| {
                s.split(',')
                    .filter(|x| !x.is_empty())
                    .map(String::from)
                    .collect()
            };
            Case {
                name: f[0].to_string(),
                files: list(f[1]),
                profiles: list(f[2]),
                expect: f[3].strip_prefix("fail: ").map(String::from),
            }
        })
        .collect()
}

fn import(root: &Path, case: &Case, out: &Path) -> Output {
    let mut command = Command::new(bin::devstack());
    command
        .current_dir(root)
        .env("DEVSTACK_COMPOSE_BIN", compose_bin());
    command.arg("import");
    for file in &case.files {
        command.args(["-f", file]);
    }
    for profile in &case.profiles {
        command.args(["--profile", profile]);
    }
    command
        .arg("-o")
        .arg(out)
        .args(["--check", "--output-format", "json"]);
    command.output().unwrap()
}

/// A loss's reason class for the summary: its kind and the key's first part.
fn reason(loss: &Value) -> String {
    let key = loss["key"].as_str().unwrap_or("");
    let root = key.split('.').next().unwrap_or(key);
    let kind = loss["kind"].as_str().unwrap_or("?");
    format!("{root} ({kind})")
}

#[test]
fn every_corpus_case_imports_or_fails_with_its_reason() {
    // As committed: only the compose files, so builds and binds of sources that are not here
    // are dropped and reported.
    let mut problems = run_corpus(&corpus(), None, "as committed (compose files only)");
    // With the sources: a copy of the corpus where every build context (with a stub
    // Dockerfile) and every bind source inside the project exists, as in a checkout of the
    // project; the stack file is written next to the first compose file (relative paths).
    let copy = tempfile::tempdir().unwrap();
    copy_dir(&corpus(), copy.path());
    for case in cases().iter().filter(|c| c.expect.is_none()) {
        create_sources(copy.path(), case);
    }
    problems.extend(run_corpus(
        copy.path(),
        Some("devstack-import.yaml"),
        "with the projects' sources present",
    ));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Imports every case under `root` (the stack to a temporary directory, or `next_to` the
/// first compose file), checks it and prints the summary; returns the problems.
fn run_corpus(root: &Path, next_to: Option<&str>, label: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (mut clean, mut lossy, mut failed) = (Vec::new(), 0, Vec::new());
    let mut carried: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let cases = cases();
    for (i, case) in cases.iter().enumerate() {
        let out = match next_to {
            Some(name) => root
                .join(&case.files[0])
                .with_file_name(format!("{i}-{name}")),
            None => dir.path().join(format!("stack-{i}.yaml")),
        };
        let result = import(root, case, &out);
        let stderr = String::from_utf8_lossy(&result.stderr);
        match &case.expect {
            Some(why) => {
                if result.status.code() != Some(2) || !stderr.contains(why.as_str()) {
                    problems.push(format!(
                        "{}: expected exit 2 with {why:?}, got {:?}: {stderr}",
                        case.name,
                        result.status.code()
                    ));
                }
                failed.push(format!("{} ({why})", case.name));
                continue;
            }
            None if !result.status.success() => {
                problems.push(format!(
                    "{}: exit {:?}: {stderr}",
                    case.name,
                    result.status.code()
                ));
                continue;
            }
            None => {}
        }
        let report: Value = serde_json::from_slice(&result.stdout).unwrap();
        let rows = report["check"]["rows"].as_array().unwrap();
        let mismatches: Vec<&Value> = rows
            .iter()
            .filter(|r| r["verdict"]["status"] == "mismatch")
            .collect();
        if !mismatches.is_empty() {
            problems.push(format!(
                "{}: unexplained differences {mismatches:?}",
                case.name
            ));
        }
        let validate = Command::new(bin::devstack())
            .arg("validate")
            .arg(&out)
            .output()
            .unwrap();
        if !validate.status.success() {
            problems.push(format!(
                "{}: the stack does not validate: {}",
                case.name,
                String::from_utf8_lossy(&validate.stderr)
            ));
        }
        if let Ok(text) = std::fs::read_to_string(&out) {
            count_carried(&devstack_core_yaml(&text), &mut carried);
        }
        let losses = report["losses"].as_array().unwrap();
        if losses.is_empty() {
            clean.push(case.name.clone());
        } else {
            lossy += 1;
        }
        for loss in losses {
            *reasons.entry(reason(loss)).or_default() += 1;
        }
    }
    let mut top: Vec<(&String, &usize)> = reasons.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    println!("corpus, {label}: {} projects", cases.len());
    println!("  clean (nothing lost): {} {:?}", clean.len(), clean);
    println!("  carried: {carried:?}");
    println!("  with losses: {lossy}; top reasons:");
    for (reason, count) in top.iter().take(15) {
        println!("    {count:>4}  {reason}");
    }
    println!(
        "  failed with a named reason: {} {:?}",
        failed.len(),
        failed
    );
    problems
}

/// Counts the services with `build`, and the `mounts`, `sync` entries and image-service
/// storage paths of an imported stack.
fn count_carried(stack: &Value, carried: &mut BTreeMap<&'static str, usize>) {
    for svc in stack["spec"]["services"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, s)| s)
    {
        let len = |k: &str| svc[k].as_array().map_or(0, Vec::len);
        *carried.entry("build").or_default() += usize::from(svc.get("build").is_some());
        *carried.entry("mounts").or_default() += len("mounts");
        *carried.entry("sync").or_default() += len("sync");
        let storage = &svc["storage"];
        let paths = usize::from(storage.get("path").is_some())
            + storage["volumes"].as_array().map_or(0, Vec::len);
        *carried.entry("storage paths").or_default() += paths;
    }
}

/// Copies the directory `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Creates, under `root`, the build contexts (a stub Dockerfile in each) and the bind sources
/// of `case` that are missing: a source whose name has an extension as a file, else a
/// directory. Paths outside `root` (the home directory, `/var/run`) are left alone.
fn create_sources(root: &Path, case: &Case) {
    let mut command = Command::new(compose_bin());
    command.current_dir(root);
    for file in &case.files {
        command.args(["-f", file]);
    }
    let out = command
        .args(["--profile", "*", "config", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let project: Value = serde_json::from_slice(&out.stdout).unwrap();
    let services = project["services"].as_object().cloned().unwrap_or_default();
    for svc in services.values() {
        if let Some(context) = svc["build"]["context"].as_str().map(PathBuf::from) {
            if context.starts_with(root) {
                std::fs::create_dir_all(&context).unwrap();
                let dockerfile = svc["build"]["dockerfile"].as_str().unwrap_or("Dockerfile");
                let dockerfile = context.join(dockerfile);
                if dockerfile.starts_with(root) && !dockerfile.exists() {
                    std::fs::create_dir_all(dockerfile.parent().unwrap()).unwrap();
                    std::fs::write(&dockerfile, "FROM scratch\n").unwrap();
                }
            }
        }
        for mount in svc["volumes"].as_array().into_iter().flatten() {
            let Some(source) = mount["source"].as_str().map(PathBuf::from) else {
                continue;
            };
            if mount["type"] != "bind" || !source.starts_with(root) || source.exists() {
                continue;
            }
            let name = source.file_name().unwrap().to_string_lossy().to_string();
            if name.trim_start_matches('.').contains('.') {
                std::fs::create_dir_all(source.parent().unwrap()).unwrap();
                std::fs::write(&source, "stub\n").unwrap();
            } else {
                std::fs::create_dir_all(&source).unwrap();
            }
        }
    }
}

fn imported(files: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stack.yaml");
    let case = Case {
        name: "overlay".into(),
        files: files.iter().map(|f| f.to_string()).collect(),
        profiles: Vec::new(),
        expect: None,
    };
    let result = import(&corpus(), &case, &out);
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let text = std::fs::read_to_string(&out).unwrap();
    devstack_core_yaml(&text)
}

fn devstack_core_yaml(text: &str) -> Value {
    let stack = devstack_core::parse::parse_devstack(text).unwrap();
    serde_json::to_value(stack).unwrap()
}

#[test]
fn overlays_merge_the_way_compose_merges_them() {
    let merged = imported(&[
        "kompose/multiple-files/first.yaml",
        "kompose/multiple-files/second.yaml",
    ]);
    let services = &merged["spec"]["services"];
    assert_eq!(services["foo"]["replicas"], 3);
    assert_eq!(services["bar"]["image"], "bar");
    assert_eq!(
        services["bar"]["replicas"], 99,
        "the second file's deploy.replicas wins"
    );

    let ktrdr = imported(&[
        "seeds/ktrdr/docker-compose.yml",
        "seeds/ktrdr/docker-compose.dev.yml",
    ]);
    let services = &ktrdr["spec"]["services"];
    assert!(
        services.get("training-worker").is_some(),
        "the overlay adds a service"
    );
    let args: Vec<&str> = services["backtest-worker"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        !args.contains(&"--reload"),
        "the overlay's command replaces the base's: {args:?}"
    );
    assert_eq!(
        services["backtest-worker"]["env"]["WORKER_PORT"], "5003",
        "environments merge"
    );
    assert_eq!(
        services["backtest-worker"]["env"]["USE_REMOTE_BACKTEST_SERVICE"],
        "true"
    );
}

#[test]
fn an_existing_stack_file_is_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("stack.yaml");
    std::fs::write(&out, "mine\n").unwrap();
    let case = Case {
        name: "force".into(),
        files: vec!["seeds/semantik/docker-compose.yml".into()],
        profiles: Vec::new(),
        expect: None,
    };
    let refused = import(&corpus(), &case, &out);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine\n");
}

#[test]
fn an_invalid_compose_file_gets_composes_error_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("compose.yaml");
    std::fs::write(&bad, "services:\n  a:\n    image: [not, a, string]\n").unwrap();
    let out = Command::new(bin::devstack())
        .env("DEVSTACK_COMPOSE_BIN", compose_bin())
        .args(["import", "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("services.a.image"), "{stderr}");
    assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
}
