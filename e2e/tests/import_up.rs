//! The seed teams' Compose files, imported, run with `devstack up` on the project's private
//! Docker engine where their images are local: backend-stores' `core` profile (pgvector +
//! redis) and SomaStack's `test` profile (postgres + redis). Two edits before `up`, both
//! because of the machine, not the import: host ports move to free ones (the seeds publish
//! 5432/6379, which other stacks here may hold), and a catalog service's `version` goes (the
//! local images are the catalog's majors, postgres 18; SomaStack pins postgres 16, whose
//! data layout the PG 18 image does not have).
//!
//! Needs the engine (`e2e/docker.sh up`) and a Compose binary; fails, never skips, without.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::process::Command;

use devstack_e2e::{free_host_port_besides, workspace_root};
use serde_json::Value;
use support::{compose_bin, ok, Stack};

/// A free host port apart from the stack's others (`taken`), which it joins.
fn host_port(taken: &mut Vec<u16>) -> u16 {
    let port = free_host_port_besides(taken);
    taken.push(port);
    port
}

/// Imports a seed file with `profiles` as stack `name`; the stack YAML, host ports made free.
fn import_seed(file: &str, profiles: &[&str], name: &str) -> String {
    let corpus = workspace_root().join("compose-adapter/import/tests/corpus");
    let mut command = Command::new(devstack_e2e::bin::devstack());
    command
        .current_dir(&corpus)
        .env("DEVSTACK_COMPOSE_BIN", compose_bin())
        .args(["import", "-f", file, "--name", name]);
    for profile in profiles {
        command.args(["--profile", profile]);
    }
    let yaml = ok(&command.output().unwrap(), "devstack import");
    let mut stack: Value =
        serde_json::to_value(devstack_core::parse::parse_devstack(&yaml).unwrap()).unwrap();
    let mut taken = Vec::new();
    for service in stack["spec"]["services"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        service.as_object_mut().unwrap().remove("version");
        // File sources are relative to where the import ran; the stack runs elsewhere.
        if let Some(files) = service.get_mut("files").and_then(Value::as_object_mut) {
            for file in files.values_mut().filter(|f| f.get("source").is_some()) {
                let source = corpus.join(file["source"].as_str().unwrap());
                file["source"] = Value::from(source.display().to_string());
            }
        }
        if let Some(ports) = service.get_mut("hostPorts").and_then(Value::as_object_mut) {
            for port in ports.values_mut() {
                *port = Value::from(host_port(&mut taken));
            }
        }
        if let Some(ports) = service.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports.iter_mut().filter(|p| p.get("hostPort").is_some()) {
                port["hostPort"] = Value::from(host_port(&mut taken));
            }
        }
    }
    stack.as_object_mut().unwrap().remove("status");
    devstack_core::yaml::to_string(&stack).unwrap()
}

fn runs(file: &str, profiles: &[&str], prefix: &str, expect: &[&str]) {
    let name = format!("{prefix}{}", std::process::id());
    let stack = Stack::new(&name, &import_seed(file, profiles, &name));
    ok(
        &stack.devstack(&["up", "--timeout", "240"]),
        "devstack up of the imported stack",
    );
    let status = ok(
        &stack.devstack_with(&["status"], &["-o", "json"], &[]),
        "devstack status",
    );
    for service in expect {
        assert!(
            status.contains(service),
            "{service} missing from status: {status}"
        );
    }
    ok(&stack.devstack(&["down"]), "devstack down");
}

#[test]
fn backend_stores_core_profile_runs_after_import() {
    runs(
        "seeds/backend-stores/docker-compose.backend-stores.yml",
        &["core"],
        "impbs",
        &["postgres", "redis"],
    );
}

#[test]
fn soma_test_profile_runs_after_import() {
    runs(
        "seeds/soma/docker-compose.yml",
        &["test"],
        "impsoma",
        &["postgres", "redis"],
    );
}
