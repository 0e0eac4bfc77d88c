//! The driver against an engine in memory ([`mock::MockDocker`]): the start order, the
//! rollback of a failed `up`, a taken host port. No Docker engine is needed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mock;

use std::path::PathBuf;
use std::time::Duration;

use devstack_core::test_support::{fake_secrets, plan_spec};
use devstack_core::StackPlan;
use mock::MockDocker;

use crate::progress::Progress;
use crate::up::{up, Change, UpOptions};
use crate::{DriverError, Engine, StackContext};

const STACK: &str = "services:
  db: {type: postgres, hostPorts: {postgres: 5433}}
  cache: {type: redis}
  api: {image: 'api:1', dependsOn: [db, cache]}
  web: {image: 'web:1', dependsOn: [api]}
  tool: {image: 'tool:1'}
";

fn context(plan: &StackPlan) -> StackContext {
    StackContext::new(
        plan,
        fake_secrets(plan),
        PathBuf::from("/work/.devstack/demo/compose.yaml"),
    )
    .unwrap()
}

fn options() -> UpOptions {
    UpOptions {
        wait: true,
        timeout: Duration::from_secs(5),
        gpu: crate::GpuPolicy::Auto,
    }
}

async fn run(
    docker: MockDocker,
    plan: &StackPlan,
) -> (Engine<MockDocker>, Result<crate::UpSummary, DriverError>) {
    let engine = Engine::with(docker, "mock");
    let progress = Progress::new(std::iter::empty::<&String>());
    let result = up(&engine, &context(plan), &options(), &progress).await;
    (engine, result)
}

fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no call {call:?} in {calls:#?}"))
}

#[tokio::test]
async fn services_start_after_their_dependencies() {
    let plan = plan_spec(STACK);
    let (engine, result) = run(MockDocker::default(), &plan).await;
    let summary = result.unwrap();
    assert_eq!(
        summary.services.keys().collect::<Vec<_>>(),
        ["api", "cache", "db", "tool", "web"]
    );
    assert!(summary
        .services
        .values()
        .all(|o| o.change == Change::Created));
    let calls = engine.docker.calls();
    let started = |service: &str| position(&calls, &format!("start demo-{service}-1"));
    assert!(started("db") < started("api"));
    assert!(started("cache") < started("api"));
    assert!(started("api") < started("web"));
    // Networks and volumes exist before any container.
    let first_container = position(&calls, "create demo-api-1")
        .min(position(&calls, "create demo-db-1"))
        .min(position(&calls, "create demo-cache-1"));
    assert!(calls
        .iter()
        .take(first_container)
        .any(|c| c.starts_with("create volume ")));
    assert_eq!(engine.docker.containers().len(), 5);
}

#[tokio::test]
async fn a_failed_start_removes_what_this_up_created() {
    let plan = plan_spec(STACK);
    let docker = MockDocker {
        failing_starts: ["demo-api-1".to_string()].into(),
        ..MockDocker::default()
    };
    let (engine, result) = run(docker, &plan).await;
    match result {
        Err(DriverError::Docker { action, .. }) => assert_eq!(action, "starting api"),
        other => panic!("expected the failed start of api, got {other:?}"),
    }
    let calls = engine.docker.calls();
    assert!(
        !calls.contains(&"create demo-web-1".to_string()),
        "web was created: {calls:#?}"
    );
    assert!(engine.docker.containers().is_empty(), "{calls:#?}");
    assert_eq!(
        engine.docker.networks_and_volumes(),
        (Vec::new(), Vec::new())
    );
}

#[tokio::test]
async fn a_taken_host_port_names_the_service_and_the_port() {
    let plan = plan_spec(STACK);
    let docker = MockDocker {
        taken_ports: [("demo-db-1".to_string(), 5433)].into(),
        ..MockDocker::default()
    };
    let (engine, result) = run(docker, &plan).await;
    match result {
        Err(DriverError::PortTaken { service, port }) => {
            assert_eq!((service.as_str(), port), ("db", 5433));
        }
        other => panic!("expected PortTaken, got {other:?}"),
    }
    let calls = engine.docker.calls();
    assert!(!calls
        .iter()
        .any(|c| c == "start demo-api-1" || c == "start demo-web-1"));
    assert!(engine.docker.containers().is_empty(), "{calls:#?}");
    assert_eq!(
        engine.docker.networks_and_volumes(),
        (Vec::new(), Vec::new())
    );
}

/// A running container on `docker` whose readiness is left to the driver's own probe.
async fn probed(docker: &MockDocker) {
    use crate::api::DockerApi;
    use bollard::query_parameters::CreateContainerOptionsBuilder;
    let options = CreateContainerOptionsBuilder::new()
        .name("demo-api-1")
        .build();
    docker
        .create_container(
            Some(options),
            bollard::models::ContainerCreateBody::default(),
        )
        .await
        .unwrap();
    docker.start_container("demo-api-1", None).await.unwrap();
}

#[tokio::test]
async fn a_hung_probe_ends_at_the_deadline() {
    let docker = MockDocker {
        exec: mock::ExecBehaviour::Hang,
        ..MockDocker::default()
    };
    probed(&docker).await;
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_millis(800);
    let argv = ["true".to_string()];
    let err = crate::wait::wait_ready(&docker, "api", "demo-api-1", Some(&argv), deadline)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("did not finish"), "{err}");
}

#[tokio::test]
async fn a_chatty_probe_keeps_a_bounded_output() {
    let docker = MockDocker {
        exec: mock::ExecBehaviour::Flood,
        ..MockDocker::default()
    };
    probed(&docker).await;
    let deadline = std::time::Instant::now() + Duration::from_millis(600);
    let argv = ["true".to_string()];
    let err = crate::wait::wait_ready(&docker, "api", "demo-api-1", Some(&argv), deadline)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("output cut at 64 KiB"),
        "{}",
        &err[..200.min(err.len())]
    );
    assert!(
        err.len() < crate::wait::PROBE_OUTPUT_MAX + 8 * 1024,
        "{} bytes",
        err.len()
    );
}

#[tokio::test]
async fn the_facade_writes_the_files_then_runs_every_verb() {
    let root = tempfile::tempdir().unwrap();
    let plan = plan_spec(STACK);
    let stack = crate::Stack::open(&plan, root.path()).unwrap();
    let engine = Engine::with(MockDocker::default(), "mock");
    let progress = Progress::new(stack.active());
    let summary = stack.up(&engine, &options(), &progress).await.unwrap();
    assert_eq!(summary.services.len(), 5);
    let compose = std::fs::read_to_string(&stack.files().compose).unwrap();
    assert_eq!(compose, devstack_render_compose::render(&plan).unwrap());
    let env = stack.env().unwrap();
    assert_eq!(env.len(), plan.secrets.len());
    let rows = stack.status(&engine).await.unwrap();
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().all(|r| r.state == "running"), "{rows:?}");
    let again = stack.up(&engine, &options(), &progress).await.unwrap();
    assert!(again
        .services
        .values()
        .all(|o| o.change == Change::Unchanged));
    let reset = stack.reset(&engine).await.unwrap();
    assert_eq!(reset.down.containers.len(), 5);
    assert!(!reset.volumes.is_empty());
    assert!(engine.docker.containers().is_empty());
    assert!(stack.env().unwrap().iter().all(|(k, v)| env[k] != *v));
    assert!(matches!(
        stack.logs(&engine, "nope", false, &mut Vec::new()).await,
        Err(DriverError::UnknownService { .. })
    ));
}

/// Issue 21: right after `up` said "healthy" (its own probe), the engine may still say
/// `starting` for up to the health interval; `status` runs the same check once and says so.
#[tokio::test]
async fn status_never_contradicts_up_while_the_engine_says_starting() {
    let root = tempfile::tempdir().unwrap();
    let plan = plan_spec(STACK);
    let stack = crate::Stack::open(&plan, root.path()).unwrap();
    let docker = MockDocker {
        exec: mock::ExecBehaviour::EngineStarting,
        ..MockDocker::default()
    };
    let engine = Engine::with(docker, "mock");
    let progress = Progress::new(stack.active());
    stack.up(&engine, &options(), &progress).await.unwrap();
    let rows = stack.status(&engine).await.unwrap();
    let checked: Vec<&str> = rows
        .iter()
        .filter(|r| r.health != "-")
        .map(|r| r.health.as_str())
        .collect();
    assert!(!checked.is_empty(), "{rows:?}");
    assert!(
        checked
            .iter()
            .all(|h| *h == "healthy (verified by devstack; engine: starting)"),
        "{rows:?}"
    );
}

/// Point 5 of issue 16: an `up` and a `reset` of one stack run at once (two shells). Every
/// container left must run on the passwords of the final `.env`, never on ones the reset
/// replaced while the `up` was still creating containers.
#[test]
fn concurrent_up_and_reset_never_leave_a_container_on_lost_passwords() {
    let root = tempfile::tempdir().unwrap();
    // One network: a container joins no network after its creation.
    let plan = plan_spec(&format!("isolation: open\n{STACK}"));
    let engine = Engine::with(
        MockDocker {
            create_delay: Duration::from_millis(15),
            ..MockDocker::default()
        },
        "mock",
    );
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let up_once = || {
        let stack = crate::Stack::open(&plan, root.path()).unwrap();
        let progress = Progress::new(std::iter::empty::<&String>());
        runtime().block_on(stack.up(&engine, &options(), &progress))
    };
    up_once().unwrap();
    for round in 0..6 {
        // Each round starts from a stack that is down: the `up` creates every container.
        let stack = crate::Stack::open(&plan, root.path()).unwrap();
        runtime().block_on(stack.down(&engine)).unwrap();
        let env = root.path().join(".devstack/demo/.env");
        let before = crate::env_file::read_env_file(&env).unwrap();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let _ = up_once();
            });
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(5 + 7 * round));
                let stack = crate::Stack::open(&plan, root.path()).unwrap();
                runtime().block_on(stack.reset(&engine)).unwrap();
            });
        });
        let after = crate::env_file::read_env_file(&env).unwrap();
        let lost: Vec<&String> = before
            .values()
            .filter(|v| !after.values().any(|a| a == *v))
            .collect();
        for (name, vars) in engine.docker.container_env() {
            for var in &vars {
                assert!(
                    !lost.iter().any(|v| var.contains(v.as_str())),
                    "round {round}: {name} runs on a password not in the final .env ({})",
                    var.split('=').next().unwrap_or_default()
                );
            }
        }
    }
}

/// Point 6 of issue 16: `reset` deletes only volumes carrying this stack's devstack label; an
/// unrelated `docker compose` project's volume of the same project name stays, and `up`
/// refuses to reuse it.
#[tokio::test]
async fn reset_and_up_leave_another_compose_projects_volume_alone() {
    let root = tempfile::tempdir().unwrap();
    let plan = plan_spec(STACK);
    let stack = crate::Stack::open(&plan, root.path()).unwrap();
    let engine = Engine::with(MockDocker::default(), "mock");
    let progress = Progress::new(stack.active());
    stack.up(&engine, &options(), &progress).await.unwrap();
    let theirs = [
        (crate::labels::PROJECT, "demo"),
        (crate::labels::VOLUME, "x"),
    ];
    engine.docker.add_volume("demo_x", &theirs);
    let reset = stack.reset(&engine).await.unwrap();
    assert!(!reset.volumes.is_empty());
    assert!(!reset.volumes.contains(&"demo_x".to_string()), "{reset:?}");
    assert_eq!(engine.docker.networks_and_volumes().1, ["demo_x"]);

    // A same-named volume without devstack's label is not taken over either.
    let volume = &reset.volumes[0];
    engine
        .docker
        .add_volume(volume, &[(crate::labels::PROJECT, "demo")]);
    let err = stack.up(&engine, &options(), &progress).await.unwrap_err();
    assert!(matches!(err, DriverError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains(volume.as_str()), "{err}");
}

/// `STACK` with `api` on image `api:<tag>`.
fn api_on(tag: &str) -> StackPlan {
    plan_spec(&STACK.replace("image: 'api:1'", &format!("image: 'api:{tag}'")))
}

/// Point 8 of issue 16: a changed service's old container is stopped gracefully and set aside,
/// never force-removed before its successor is ready; when the successor fails, the old one
/// is back under its name and running; when it is ready, the old one goes.
#[tokio::test]
async fn a_recreated_service_keeps_its_old_container_until_the_new_one_is_ready() {
    let docker = MockDocker {
        failing_images: ["api:2".to_string()].into(),
        ..MockDocker::default()
    };
    let (engine, result) = run(docker, &api_on("1")).await;
    result.unwrap();
    let (old_id, _, _) = engine.docker.container("demo-api-1").unwrap();
    let progress = Progress::new(std::iter::empty::<&String>());
    let failed = up(&engine, &context(&api_on("2")), &options(), &progress).await;
    assert!(failed.is_err(), "{failed:?}");
    let (id, image, running) = engine.docker.container("demo-api-1").unwrap();
    assert_eq!(
        (id.as_str(), image.as_str(), running),
        (old_id.as_str(), "api:1", true)
    );
    assert_eq!(
        engine.docker.containers().len(),
        5,
        "{:?}",
        engine.docker.calls()
    );
    let calls = engine.docker.calls();
    let stop = position(&calls, &format!("stop {old_id}"));
    assert!(stop < position(&calls, &format!("rename {old_id} {old_id}_demo-api-1")));
    assert!(
        !calls.contains(&"remove demo-api-1".to_string()) || {
            // Only the failed successor was removed, after the old one was stopped.
            calls.iter().filter(|c| *c == "remove demo-api-1").count() == 1
        }
    );

    let summary = up(&engine, &context(&api_on("3")), &options(), &progress)
        .await
        .unwrap();
    assert_eq!(summary.services["api"].change, Change::Recreated);
    let (new_id, image, running) = engine.docker.container("demo-api-1").unwrap();
    assert_eq!((image.as_str(), running), ("api:3", true));
    assert_ne!(new_id, old_id);
    assert!(
        engine.docker.container(&old_id).is_none(),
        "the old one stays"
    );
    let calls = engine.docker.calls();
    let last = |call: &str| calls.iter().rposition(|c| c == call).unwrap();
    assert!(last(&format!("stop {old_id}")) < last("create demo-api-1"));
    assert!(last("start demo-api-1") < last(&format!("remove {old_id}_demo-api-1")));
}

/// Issue 21 (K4: a no-op `up` in few Engine API calls): a second `up` of an unchanged stack
/// finds its networks and volumes in one list each and takes a running container without a
/// health check as ready from the container list; only the checked services are inspected.
#[tokio::test]
async fn an_unchanged_stack_is_not_inspected_object_by_object() {
    let plan = plan_spec(STACK);
    let (engine, first) = run(MockDocker::default(), &plan).await;
    first.unwrap();
    let before = engine.docker.calls().len();
    let progress = Progress::new(std::iter::empty::<&String>());
    let summary = up(&engine, &context(&plan), &options(), &progress)
        .await
        .unwrap();
    assert!(summary
        .services
        .values()
        .all(|s| s.change == Change::Unchanged));
    let calls = engine.docker.calls()[before..].to_vec();
    let mut inspected: Vec<&String> = calls.iter().filter(|c| c.starts_with("inspect")).collect();
    inspected.sort();
    assert_eq!(
        inspected,
        ["inspect demo-cache-1", "inspect demo-db-1"],
        "{calls:#?}"
    );
}
