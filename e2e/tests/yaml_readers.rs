//! Everything devstack prints as YAML reads back as exactly what was meant, under YAML 1.1 rules
//! (PyYAML: the rules of kubectl, Helm and kustomize, where `yes`, `off`, `~`, `1:20`, `0777`
//! or `2001-12-14` are not strings) and YAML 1.2 rules (ruamel.yaml). "What was meant" is the
//! typed value serialized to JSON: a reader that turns a string into a bool, a number, a null or
//! a date makes the documents differ.
//!
//! The readers come from PyPI (`e2e/docker.sh yaml-python` installs them; scripts/test.sh
//! exports DEVSTACK_YAML_PYTHON). Without them the tests fail, never skip.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use devstack_core::plan::{plan, PlanOptions, StackPlan};
use devstack_core::test_support::{examples, fake_secrets, plan_example, workspace};
use devstack_core::types::DevStack;
use proptest::prelude::*;
use serde_json::{json, Value};

fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| match std::env::var("DEVSTACK_YAML_PYTHON") {
        Ok(p) if !p.trim().is_empty() => p,
        _ => {
            let out = Command::new(workspace().join("e2e/docker.sh"))
                .arg("yaml-python")
                .output()
                .expect("run e2e/docker.sh yaml-python");
            assert!(
                out.status.success(),
                "e2e/docker.sh yaml-python: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        }
    })
}

/// What the YAML 1.1 and the YAML 1.2 reader make of `text`, document by document.
fn read_with_both(text: &str) -> (Vec<Value>, Vec<Value>) {
    let mut child = Command::new(python())
        .arg(workspace().join("e2e/yaml_readers.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the YAML readers");
    // Written from a thread so that a reader printing early can never stall on a full pipe.
    let mut input = child.stdin.take().unwrap();
    let owned = text.to_string();
    let writer = std::thread::spawn(move || input.write_all(owned.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "the YAML readers rejected the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut both: Value = serde_json::from_slice(&out.stdout).unwrap();
    let docs = |key: &str, both: &mut Value| match both[key].take() {
        Value::Array(docs) => docs,
        other => panic!("{key}: {other}"),
    };
    (docs("yaml11", &mut both), docs("yaml12", &mut both))
}

fn assert_reads_back(what: &str, text: &str, meant: &[Value]) {
    let (yaml11, yaml12) = read_with_both(text);
    for (rules, read) in [("YAML 1.1", yaml11), ("YAML 1.2", yaml12)] {
        assert_eq!(read.len(), meant.len(), "{what}: {rules}: document count");
        for (got, want) in read.iter().zip(meant) {
            if got != want {
                panic!(
                    "{what}: a {rules} reader reads something else than was meant\n read: {got}\nmeant: {want}\ntext:\n{text}"
                );
            }
        }
    }
}

/// Both renderings of `plan` as one YAML stream, and the typed values they were written from.
/// One stream per plan keeps it to one reader process.
fn renderings(plan: &StackPlan, extra_labels: &[(String, String)]) -> (String, Vec<Value>) {
    let mut objects = devstack_render_k8s::render(plan, Some(&fake_secrets(plan))).unwrap();
    for object in &mut objects {
        let labels = object
            .metadata_mut()
            .labels
            .get_or_insert_with(Default::default);
        labels.extend(extra_labels.iter().cloned());
    }
    let mut text = devstack_render_k8s::to_yaml_stream(&objects).unwrap();
    let mut meant: Vec<Value> = objects
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    text.push_str("---\n");
    text.push_str(&devstack_render_compose::render(plan).unwrap());
    let project = devstack_render_compose::render::project(plan);
    meant.push(serde_json::to_value(&project).unwrap());
    (text, meant)
}

#[test]
fn every_example_reads_back_under_both_yaml_versions() {
    let mut names = Vec::new();
    let mut stream = String::new();
    let mut meant = Vec::new();
    for (name, text) in examples() {
        let plan = plan_example(&name, &text).unwrap_or_else(|e| panic!("{e}"));
        let (text, values) = renderings(&plan, &[]);
        stream.push_str(&text);
        meant.extend(values);
        names.push(name);
    }
    assert_reads_back(
        &format!("render k8s + render compose of {names:?}"),
        &stream,
        &meant,
    );
}

#[test]
fn the_crd_reads_back_under_both_yaml_versions() {
    use kube::CustomResourceExt;
    let text = devstack_core::crdgen::crd_yaml().unwrap();
    assert_reads_back(
        "devstack crd",
        &text,
        &[serde_json::to_value(DevStack::crd()).unwrap()],
    );
}

/// Strings that YAML 1.1 or 1.2 readers resolve to something other than a string when they
/// are written plain.
const AMBIGUOUS: &[&str] = &[
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "NO",
    "on",
    "On",
    "ON",
    "off",
    "Off",
    "OFF",
    "y",
    "Y",
    "n",
    "N",
    "true",
    "True",
    "FALSE",
    "~",
    "null",
    "Null",
    "NULL",
    "",
    " ",
    "1",
    "-1",
    "+1",
    "0777",
    "0o17",
    "0x1F",
    "0b101",
    "1_000",
    "1:20",
    "190:20:30",
    "1:20.5",
    "1.5",
    "1e3",
    ".5",
    "1.",
    ".inf",
    "-.Inf",
    ".NaN",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10",
    "<<",
    "=",
    "- a",
    "a: b",
    "#x",
    "x #y",
    "'q'",
    "\"q\"",
    "[a]",
    "{a: b}",
    "&a",
    "*a",
    "!t",
    "%x",
    "@x",
    "`x",
    "|",
    ">",
    "---",
    "...",
    "a\nb",
    "trailing\n",
    "\ttab",
    "\u{85}",
    "\u{2028}",
    "\u{feff}bom",
    "\\",
    "$(X)",
    "$$",
    "${X}",
];

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(AMBIGUOUS).prop_map(str::to_string),
        2 => "[ -~]{0,12}",
        1 => any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn stack_with(env: &[String], args: &[String]) -> StackPlan {
    let env: serde_json::Map<String, Value> = env
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("VALUE_{i}"), Value::String(v.clone())))
        .collect();
    let stack: DevStack = serde_json::from_value(json!({
        "apiVersion": "devstack.dev/v1alpha1",
        "kind": "DevStack",
        "metadata": {"name": "strings", "namespace": "strings"},
        "spec": {"services": {
            "db": {"type": "postgres"},
            "app": {
                "image": "example.org/app:1",
                "args": args,
                "env": env,
                "dependsOn": ["db"],
            },
        }},
    }))
    .unwrap();
    plan(&stack, &PlanOptions::default()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_read_back_under_both_yaml_versions(
        env in prop::collection::vec(tricky_string(), 1..5),
        args in prop::collection::vec(tricky_string(), 0..5),
        labels in prop::collection::vec(tricky_string(), 0..4),
    ) {
        let plan = stack_with(&env, &args);
        let labels: Vec<(String, String)> = labels
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("test.devstack.dev/l{i}"), v))
            .collect();
        let (text, meant) = renderings(&plan, &labels);
        assert_reads_back("render k8s + render compose of a generated stack", &text, &meant);
    }
}
