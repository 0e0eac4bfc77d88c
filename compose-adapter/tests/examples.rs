//! Golden files: the rendering of every `examples/*.yaml` is checked in under
//! `tests/golden/<example>.compose.yaml`. Run with `DEVSTACK_UPDATE_GOLDEN=1` to rewrite them
//! after an intended change, then review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may panic

mod common;

use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn every_example_matches_its_golden_file() {
    let update = std::env::var_os("DEVSTACK_UPDATE_GOLDEN").is_some();
    let examples = common::examples();
    assert!(!examples.is_empty(), "no examples/*.yaml found");
    let mut failures = Vec::new();
    for (name, yaml) in &examples {
        let plan = match common::plan_example(name, yaml) {
            Ok(plan) => plan,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let rendered = match devstack_compose::render(&plan) {
            Ok(text) => text,
            Err(e) => {
                failures.push(format!("{name}: render: {e}"));
                continue;
            }
        };
        let path = golden_dir().join(format!("{name}.compose.yaml"));
        if update {
            std::fs::write(&path, &rendered).expect("write golden file");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == rendered => {}
            Ok(expected) => failures.push(format!(
                "{name}: rendering differs from {} (DEVSTACK_UPDATE_GOLDEN=1 rewrites it)\n{}",
                path.display(),
                first_difference(&expected, &rendered)
            )),
            Err(_) => failures.push(format!(
                "{name}: no golden file {} (DEVSTACK_UPDATE_GOLDEN=1 writes it)",
                path.display()
            )),
        }
    }
    for entry in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let stem = file.trim_end_matches(".compose.yaml");
        if !examples.iter().any(|(name, _)| name == stem) {
            failures.push(format!("stale golden file {file}: no examples/{stem}.yaml"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn first_difference(expected: &str, actual: &str) -> String {
    let mut expected_lines = expected.lines();
    let mut actual_lines = actual.lines();
    let mut line = 1;
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (None, None) => return "only trailing whitespace differs".to_string(),
            (e, a) if e != a => {
                return format!(
                    "line {line}:\n  golden: {}\n  now:    {}",
                    e.unwrap_or("<end>"),
                    a.unwrap_or("<end>")
                )
            }
            _ => line += 1,
        }
    }
}
