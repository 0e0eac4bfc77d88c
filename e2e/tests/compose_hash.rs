//! The driver creates every service of every example exactly as Docker Compose would from the
//! rendered file: its Compose config hash (over image, command, env with the secrets filled
//! in, ports, health check, resources, user, capabilities, read-only root, tmpfs, volumes,
//! networks, labels) equals what `docker compose config --hash` prints — with GPUs and with
//! the CPU override alike. Needs the Compose binary (no engine).

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use devstack_cli::devloop::plan_file;
use devstack_core::plan::PlanOptions;
use devstack_docker::hash::service_hash;
use devstack_docker::resolve::resolve_service;
use devstack_docker::up::gpu_choice;
use devstack_docker::StackContext;

fn compose_hashes(files: &[&Path]) -> BTreeMap<String, String> {
    let mut command = Command::new(support::compose_bin());
    for file in files {
        command.arg("-f").arg(file);
    }
    let out = command.args(["config", "--hash", "*"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(s, h)| (s.to_string(), h.to_string()))
        .collect()
}

#[test]
fn driver_hashes_equal_compose_hashes_for_every_example() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("compose.yaml");
        let render = Command::new(devstack_e2e::bin::devstack())
            .args(["render", "compose"])
            .arg(&path)
            .arg("-o")
            .arg(&file)
            .output()
            .unwrap();
        assert!(render.status.success(), "{render:?}");
        // As the CLI plans it: build images tagged by their contexts' content, paths
        // resolved against the stack file's directory.
        let base = path.parent().unwrap().canonicalize().unwrap();
        let plan = plan_file(&path, &base, PlanOptions::default()).unwrap();
        let secrets = devstack_docker::env_file::read_env_file(&dir.path().join(".env")).unwrap();
        let ctx = StackContext::new(&plan, secrets, file.clone()).unwrap();
        let cpu_file = dir
            .path()
            .join(devstack_render_compose::gpu::CPU_OVERRIDE_FILE);
        let with_gpu = compose_hashes(&[&file]);
        let on_cpu = cpu_file
            .exists()
            .then(|| compose_hashes(&[&file, &cpu_file]));
        assert_eq!(
            with_gpu.keys().collect::<Vec<_>>(),
            ctx.active.iter().collect::<Vec<_>>(),
            "{}",
            path.display()
        );
        for name in &ctx.active {
            let resolved =
                resolve_service(name, &ctx.project.services[name], &ctx.secrets).unwrap();
            let gpu = devstack_render_compose::gpu::gpu_count(&resolved) > 0;
            assert_eq!(
                service_hash(&resolved).unwrap(),
                with_gpu[name],
                "{}: service {name}",
                path.display()
            );
            if gpu {
                let on_cpu = on_cpu.as_ref().expect("a GPU service has a CPU override");
                assert_eq!(
                    service_hash(&gpu_choice(resolved, false)).unwrap(),
                    on_cpu[name],
                    "{}: service {name} on CPU",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} services checked");
}
