//! A fuzz target at scale (proptest, a fixed budget, a deterministic seed): generated and
//! mutated DevStack files go through parse → validate → both renderings, exactly as the CLI
//! runs them (`load::plan_text`, `exit::code`). Every case must hold:
//!
//! - nothing panics;
//! - invalid input is an error that exits 2 and names the field (or, for text that is not
//!   YAML, the line);
//! - a valid plan renders both ways, and every rendering reads back field for field under YAML
//!   1.1 rules (PyYAML: kubectl, Helm) and YAML 1.2 rules (ruamel.yaml), checked in one reader
//!   run at the end.
//!
//! Budget: `DEVSTACK_FUZZ_CASES` cases (default 3000, a fixed seed), the renderings of the first
//! 100 valid plans read back; the counts and times are printed
//! (`cargo test -p devstack-e2e --test fuzz -- --nocapture`; needs the YAML readers of
//! `e2e/docker.sh yaml-python`, found as the yaml_readers test finds them).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use devstack_cli::{exit, load};
use devstack_core::plan::PlanOptions;
use devstack_core::test_support::{fake_secrets, workspace};
use proptest::prelude::{prop_assert, prop_assert_eq};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::Value;

mod fuzz_support;
use fuzz_support::{manifest, mutate};

/// Where an error message may point: a field of the manifest, an option, or a line.
fn names_a_place(message: &str) -> bool {
    [
        "spec",
        "metadata",
        "apiVersion",
        "kind",
        "the DevStack",
        "--",
        "line ",
        "document",
    ]
    .iter()
    .any(|p| message.contains(p))
}

/// How many valid plans' renderings the YAML readers check (one reader run).
const READ_BACK_PLANS: usize = 100;

#[derive(Default)]
struct Tally {
    cases: usize,
    invalid: usize,
    valid: usize,
    stream: String,
    meant: Vec<Value>,
}

/// One case through the CLI's own path; returns the renderings of a valid plan.
fn run_case(text: &str, tally: &mut Tally) -> Result<(), TestCaseError> {
    tally.cases += 1;
    let plan = match load::plan_text(text, "fuzz.yaml", &PlanOptions::default()) {
        Ok(plan) => plan,
        Err(error) => {
            tally.invalid += 1;
            if let load::LoadError::Invalid { errors, .. } = &error {
                for e in &errors.0 {
                    prop_assert!(!e.path.is_empty() && !e.message.is_empty(), "{e:?}");
                    prop_assert!(names_a_place(&e.path), "{e:?}");
                }
            }
            let error = anyhow::Error::new(error);
            let message = format!("{error:#}");
            prop_assert_eq!(exit::code(&error), exit::INVALID_INPUT, "{}", message);
            prop_assert!(names_a_place(&message), "no field or line in: {}", message);
            return Ok(());
        }
    };
    tally.valid += 1;
    let objects = devstack_render_k8s::render(&plan, Some(&fake_secrets(&plan)));
    let objects = objects.map_err(|e| TestCaseError::fail(format!("k8s render: {e}\n{text}")))?;
    let compose = devstack_render_compose::render(&plan)
        .map_err(|e| TestCaseError::fail(format!("compose render: {e}\n{text}")))?;
    // Keep the reader's input bounded: the first valid plans are read back.
    if tally.valid <= READ_BACK_PLANS {
        tally
            .stream
            .push_str(&devstack_render_k8s::to_yaml_stream(&objects).unwrap());
        tally
            .meant
            .extend(objects.iter().map(|o| serde_json::to_value(o).unwrap()));
        tally.stream.push_str("---\n");
        tally.stream.push_str(&compose);
        let project = devstack_render_compose::render::project(&plan);
        tally.meant.push(serde_json::to_value(&project).unwrap());
    }
    Ok(())
}

fn python() -> String {
    match std::env::var("DEVSTACK_YAML_PYTHON") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => {
            let out = Command::new(workspace().join("e2e/docker.sh"))
                .arg("yaml-python")
                .output()
                .expect("run e2e/docker.sh yaml-python");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    }
}

/// Every document of `text` as the YAML 1.1 and 1.2 readers see it.
fn read_back(text: &str) -> Value {
    let mut child = Command::new(python())
        .arg(workspace().join("e2e/yaml_readers.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the YAML readers");
    let mut input = child.stdin.take().unwrap();
    let owned = text.to_string();
    let writer = std::thread::spawn(move || input.write_all(owned.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "the YAML readers rejected the renderings: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn parse_validate_and_render_hold_for_generated_and_mutated_stacks() {
    let cases: u32 = std::env::var("DEVSTACK_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let tally = std::cell::RefCell::new(Tally::default());
    let started = std::time::Instant::now();
    let result = runner.run(&manifest(), |(text, mutation)| {
        let text = mutate(&text, &mutation);
        run_case(&text, &mut tally.borrow_mut())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let tally = tally.into_inner();
    let ran = started.elapsed().as_secs_f64();
    let read = read_back(&tally.stream);
    for rules in ["yaml11", "yaml12"] {
        let docs = read[rules].as_array().unwrap();
        assert_eq!(docs.len(), tally.meant.len(), "{rules}: document count");
        for (got, want) in docs.iter().zip(&tally.meant) {
            assert_eq!(got, want, "{rules}: a rendering reads back differently");
        }
    }
    eprintln!(
        "fuzz: {} executions in {:.1}s, read back in {:.1}s ({} invalid, exit 2 with a field or line; {} valid, rendered both ways; {} documents of the first {} valid plans read back under YAML 1.1 and 1.2)",
        tally.cases,
        ran,
        started.elapsed().as_secs_f64() - ran,
        tally.invalid,
        tally.valid,
        tally.meant.len(),
        tally.valid.min(READ_BACK_PLANS)
    );
    assert!(
        tally.valid > 0 && tally.invalid > 0,
        "the generator must reach both outcomes"
    );
}
