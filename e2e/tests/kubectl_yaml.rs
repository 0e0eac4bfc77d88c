//! `devstack render k8s | kubectl apply -f -` works: the real kubectl (whose YAML reader follows
//! YAML 1.1 rules) sends every example, and a stack holding every catalog type, to the real API
//! server (`apply --dry-run=server` accepts it), and reads back exactly the typed objects the
//! renderer built (`create --dry-run=client -o json`).
//!
//! Needs the local control plane (`e2e/cluster.sh up`, KUBECONFIG); without it the test fails,
//! never skips.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use devstack_cli::devloop::plan_file;
use devstack_core::catalog::ENTRIES;
use devstack_core::plan::PlanOptions;
use devstack_core::test_support::{examples, manifest, workspace};
use devstack_docker::env_file::read_env_file;
use devstack_e2e::TestNamespace;
use serde_json::Value;

fn kubectl_path() -> String {
    let out = Command::new(workspace().join("e2e/cluster.sh"))
        .arg("kubectl")
        .output()
        .expect("run e2e/cluster.sh kubectl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn run_with_stdin(program: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    // Written from a thread: kubectl prints while it reads, and a full stdout pipe would stall
    // both sides.
    let mut input = child.stdin.take().unwrap();
    let text = stdin.to_string();
    let writer = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}

/// The stack file `text` moved into namespace `namespace` (so the rendered objects land in the
/// test's throwaway namespace).
fn in_namespace(text: &str, namespace: &str) -> String {
    let mut docs = devstack_core::yaml::documents(text).unwrap();
    docs.retain(|d| !d.is_null());
    let mut stack = docs.remove(0);
    stack["metadata"]["namespace"] = Value::String(namespace.into());
    devstack_core::yaml::to_string(&stack).unwrap()
}

/// `devstack render k8s` of `stack_text` goes through kubectl unchanged.
async fn check(name: &str, stack_text: &str, kubectl: &str) {
    let ns = TestNamespace::new("yaml").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stack_file = dir.path().join(format!("{name}.yaml"));
    // The examples' own services build from examples/apps/, relative to the stack file.
    std::os::unix::fs::symlink(workspace().join("examples/apps"), dir.path().join("apps")).unwrap();
    let stack_text = in_namespace(stack_text, ns.name());
    std::fs::write(&stack_file, &stack_text).unwrap();
    let env_file = dir.path().join(".env");

    let rendered = Command::new(devstack_e2e::bin::devstack())
        .args(["render", "k8s", "--include-secrets", "--env-file"])
        .arg(&env_file)
        .arg(&stack_file)
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{name}: render k8s: {}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let yaml = String::from_utf8(rendered.stdout).unwrap();

    let applied = run_with_stdin(kubectl, &["apply", "--dry-run=server", "-f", "-"], &yaml);
    assert!(
        applied.status.success(),
        "{name}: kubectl apply --dry-run=server refused the rendering: {}",
        String::from_utf8_lossy(&applied.stderr)
    );

    let created = run_with_stdin(
        kubectl,
        &[
            "create",
            "--dry-run=client",
            "--validate=false",
            "-o",
            "json",
            "-f",
            "-",
        ],
        &yaml,
    );
    assert!(
        created.status.success(),
        "{name}: kubectl create --dry-run=client: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let read: Vec<Value> = serde_json::Deserializer::from_slice(&created.stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap();

    // Planned as the CLI plans it: build services tagged with their contexts' content.
    let plan = plan_file(&stack_file, dir.path(), PlanOptions::default()).unwrap();
    let secrets = read_env_file(&env_file).unwrap();
    let objects = devstack_render_k8s::render(&plan, Some(&secrets)).unwrap();
    assert_eq!(read.len(), objects.len(), "{name}: object count");
    for (got, object) in read.iter().zip(&objects) {
        let meant = serde_json::to_value(object).unwrap();
        assert!(
            *got == meant,
            "{name}: kubectl read {} {} as something else than was rendered\nkubectl: {got}\nmeant:   {meant}",
            object.kind(),
            object.name()
        );
    }
    ns.cleanup().await.unwrap();
}

/// One service of every catalog type, each named after its type.
fn every_catalog_type() -> String {
    let mut services = String::from("services:\n");
    for entry in ENTRIES {
        services.push_str(&format!("  {0}: {{type: {0}}}\n", entry.type_name));
    }
    manifest("catalog", &services)
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_applies_and_reads_back_every_rendering() {
    let kubectl = kubectl_path();
    let mut stacks = examples();
    stacks.push(("every-catalog-type".into(), every_catalog_type()));
    // One after the other: the examples publish the same node ports.
    for (name, text) in &stacks {
        check(name, text, &kubectl).await;
    }
}
