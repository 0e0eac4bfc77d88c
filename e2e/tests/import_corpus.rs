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

fn import(case: &Case, out: &Path) -> Output {
    let mut command = Command::new(bin::devstack());
    command
        .current_dir(corpus())
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
    let dir = tempfile::tempdir().unwrap();
    let (mut clean, mut lossy, mut failed) = (Vec::new(), 0, Vec::new());
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    let cases = cases();
    for (i, case) in cases.iter().enumerate() {
        let out = dir.path().join(format!("stack-{i}.yaml"));
        let result = import(case, &out);
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
    println!("corpus: {} projects", cases.len());
    println!("  clean (nothing lost): {} {:?}", clean.len(), clean);
    println!("  with losses: {lossy}; top reasons:");
    for (reason, count) in top.iter().take(15) {
        println!("    {count:>4}  {reason}");
    }
    println!(
        "  failed with a named reason: {} {:?}",
        failed.len(),
        failed
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
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
    let result = import(&case, &out);
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
    let refused = import(&case, &out);
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
