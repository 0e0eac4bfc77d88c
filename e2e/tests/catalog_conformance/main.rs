//! The catalog conformance suite: every catalog type that has a local image (`e2e/docker.sh
//! images`) runs with the catalog's defaults — only the image overridden — in both runtimes:
//!
//! - Docker: `devstack up` (the CLI binary) on the engine of `e2e/docker.sh`;
//! - the real node: the `devstack-operator` binary reconciling a `kubectl apply`d DevStack on
//!   the kubelet node of `e2e/cluster.sh`.
//!
//! In each, for service `svc` of the type and a dependent `client` (the same image, sleeping):
//! the runtime's own health verdict and the catalog's health command pass; the client does one
//! real operation (write, read back) with the connection values devstack handed it (`SVC_URL`,
//! …, from `.env` / the `<stack>-connections` Secret); a wrong password is refused; the data
//! survives a restart of the service's container / pod; the service runs as the catalog's UID
//! and, where the catalog says so, on a read-only root.
//!
//! Every check runs and is recorded (`CARGO_TARGET_TMPDIR/catalog-conformance/`, the input of
//! `e2e/catalog-table.sh`, which writes the table in docs/catalog.md); a test fails when any of
//! its checks failed. Needs both engines and the images; without them it fails, never skips.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod ai;
mod docker;
mod kinds;
mod more;
mod node;
mod report;
mod telemetry;

use std::time::{Duration, Instant};

use devstack_e2e::kubectl::ExecResult;

use kinds::{Kind, Read};
use report::Report;

/// The service under test and its dependent.
const SERVICE: &str = "svc";
const CLIENT: &str = "client";

/// What the suite needs from a runtime.
pub trait Runtime {
    /// `docker` or `node`.
    fn name(&self) -> &'static str;
    /// `sh -c script` in the (first) container of `service`.
    fn exec(&self, service: &str, script: &str) -> ExecResult;
    /// The runtime's own health verdict on `service` (Docker health status, pod Ready).
    fn healthy(&self, service: &str) -> Result<(), String>;
    /// Restarts the container (Docker) / re-creates the pod (node) of `service` and waits until
    /// it is healthy again.
    fn restart(&self, service: &str) -> Result<(), String>;
    /// What devstack hands a dependent for `key` (`SVC_PASSWORD`): `devstack env
    /// --show-secrets` / the `<stack>-connections` Secret.
    fn handed_value(&self, key: &str) -> Result<String, String>;
    /// The log (stdout and stderr) of the (first) container of `service`.
    fn logs(&self, service: &str) -> Result<String, String>;
}

/// What `devstack catalog -o json` says about a type (the suite's expectations).
#[derive(Debug)]
pub struct CatalogFacts {
    pub uid: u64,
    pub read_only_root: bool,
    pub health: Option<Vec<String>>,
    /// The catalog's HTTP probe that only the kubelet runs (`port`, `path`): images without
    /// a shell.
    pub http_probe: Option<(u16, String)>,
    pub stateful: bool,
    /// The service's CPU request (the node schedules by it).
    pub request_cpu_millis: u64,
    pub image: String,
}

/// The stack: the type with catalog defaults and a dependent in the same image. `host_port`
/// publishes the service's port (Docker: `devstack env` prints the settings of published
/// services only); it changes nothing inside the containers.
pub fn services_yaml(kind: &Kind, image: &str, host_port: Option<u16>) -> String {
    let published = host_port
        .map(|p| format!(", hostPorts: {{{}: {p}}}", kind.port_name))
        .unwrap_or_default();
    format!(
        "    {SERVICE}: {{type: {}{published}}}\n    {CLIENT}: {{image: {image}, command: [sleep, infinity], dependsOn: [{SERVICE}]}}\n",
        kind.type_name
    )
}

/// Runs `script` until it succeeds or `timeout` passes; the last result.
fn exec_until(rt: &dyn Runtime, service: &str, script: &str, timeout: Duration) -> ExecResult {
    let deadline = Instant::now() + timeout;
    loop {
        let r = rt.exec(service, script);
        if r.ok || Instant::now() >= deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Quotes `s` for `sh -c`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The checks, in order, against a stack that is up; every one is recorded. Checks that do
/// not apply to the type are not run: the runtime's health verdict in Docker when the catalog
/// has no in-container check (Compose cannot run an HTTP probe), the handed password and a
/// wrong one for types without credentials, data after the restart for stateless ones.
pub fn run_checks(rt: &dyn Runtime, kind: &Kind, facts: &CatalogFacts, report: &mut Report) {
    if facts.health.is_some() || rt.name() != "docker" {
        report.check("health (runtime)", rt.healthy(SERVICE));
    }
    if facts.health.is_some() {
        report.check("health (catalog command)", catalog_health(rt, facts));
    } else {
        report.check(
            "health (catalog HTTP probe, from the dependent)",
            http_probe(rt, facts),
        );
    }
    if let Some(key) = kind.handed_key {
        report.check("connection values handed to the dependent", handed(rt, key));
    }
    let write = exec_until(rt, CLIENT, kind.write, Duration::from_secs(30));
    report.check("client write", expect_ok(&write, kind.write_expect));
    report.check("client read back", read_back(rt, kind, Duration::ZERO));
    if let Some(auth) = &kind.auth {
        let wrong = rt.exec(CLIENT, auth.wrong_password);
        report.check("wrong password refused", (auth.refused)(&wrong));
    }
    report.check(
        "catalog uid",
        expect_out(&rt.exec(SERVICE, "id -u"), &facts.uid.to_string()),
    );
    if facts.read_only_root {
        report.check("read-only root", read_only_root(rt));
    }
    report.check("restart", rt.restart(SERVICE));
    if facts.stateful {
        report.check(
            "data survives the restart",
            read_back(rt, kind, Duration::from_secs(60)),
        );
    }
}

/// The mount, not the permission: a non-root user cannot write `/` on a writable root either.
/// Writing must fail too.
fn read_only_root(rt: &dyn Runtime) -> Result<(), String> {
    let probe = rt.exec(
        SERVICE,
        "awk '$2 == \"/\" {print $4}' /proc/mounts | tr , '\\n' | grep -qx ro && \
         ! touch /.devstack-conformance-probe 2>/dev/null",
    );
    if probe.ok {
        Ok(())
    } else {
        Err(format!(
            "the root filesystem is not mounted read-only: {probe}"
        ))
    }
}

/// The read-back: a script in the dependent (retried for `retry`), or the service's log.
fn read_back(rt: &dyn Runtime, kind: &Kind, retry: Duration) -> Result<(), String> {
    match kind.read {
        Read::Client(script) => expect_ok(&exec_until(rt, CLIENT, script, retry), kind.read_expect),
        Read::ServiceLog => {
            let deadline = Instant::now() + retry.max(Duration::from_secs(10));
            loop {
                let log = rt.logs(SERVICE)?;
                if log.contains(kind.read_expect) {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    let tail: Vec<&str> = log.lines().rev().take(20).collect();
                    return Err(format!(
                        "want {:?} in the log of {SERVICE}; its tail:\n{}",
                        kind.read_expect,
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    ));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

/// The kubelet's HTTP probe, run from the dependent (`wget`) against the handed host.
fn http_probe(rt: &dyn Runtime, facts: &CatalogFacts) -> Result<(), String> {
    let (port, path) = facts
        .http_probe
        .as_ref()
        .ok_or("the catalog has no health check")?;
    let script = format!("wget -qO /dev/null \"http://$SVC_HOST:{port}{path}\"");
    let r = exec_until(rt, CLIENT, &script, Duration::from_secs(30));
    if r.ok {
        Ok(())
    } else {
        Err(format!("{script}: {r}"))
    }
}

fn catalog_health(rt: &dyn Runtime, facts: &CatalogFacts) -> Result<(), String> {
    let argv = facts
        .health
        .as_ref()
        .ok_or("the catalog has no in-container health command")?;
    let script = argv
        .iter()
        .map(|a| sh_quote(a))
        .collect::<Vec<_>>()
        .join(" ");
    let r = rt.exec(SERVICE, &script);
    if r.ok {
        Ok(())
    } else {
        Err(format!("{script}: {r}"))
    }
}

fn handed(rt: &dyn Runtime, key: &str) -> Result<(), String> {
    let expected = rt.handed_value(key)?;
    let seen = rt.exec(CLIENT, &format!("printenv {key}"));
    if expected.trim().is_empty() {
        return Err(format!("devstack handed an empty {key}"));
    }
    if seen.ok && seen.out() == expected.trim() {
        Ok(())
    } else {
        // The values may be secrets: say only that they differ.
        Err(format!(
            "{key} in the dependent differs from what devstack hands out (exec ok: {})",
            seen.ok
        ))
    }
}

fn expect_ok(r: &ExecResult, want: &str) -> Result<(), String> {
    if r.ok && r.out().contains(want) {
        Ok(())
    } else {
        Err(format!("want {want:?}: {r}"))
    }
}

fn expect_out(r: &ExecResult, want: &str) -> Result<(), String> {
    if r.ok && r.out() == want {
        Ok(())
    } else {
        Err(format!("want {want:?}: {r}"))
    }
}

/// One type in one runtime; `Err` names the failed checks. A type without a local image fails.
fn conformance(type_name: &str, runtime: &str) -> Result<(), String> {
    let kind = kinds::kind(type_name).ok_or(format!("no client checks for {type_name}"))?;
    let image = devstack_e2e::local_image(type_name).map_err(|e| format!("{e:#}"))?;
    let client_image = match kind.client_type {
        Some(t) => devstack_e2e::local_image(t).map_err(|e| format!("{e:#}"))?,
        None => image.clone(),
    };
    let facts = report::catalog_facts(type_name);
    let mut report = Report::new(type_name, runtime, &facts.image, &image);
    match runtime {
        "docker" => match docker::DockerStack::up(kind, &client_image) {
            Ok(stack) => {
                report.check("up (devstack up, healthy)", Ok(()));
                run_checks(&stack, kind, &facts, &mut report);
            }
            Err(e) => report.check("up (devstack up, healthy)", Err(e)),
        },
        _ => match node::NodeStack::up(kind, &client_image) {
            Ok(stack) => {
                report.check("up (operator, Ready)", Ok(()));
                run_checks(&stack, kind, &facts, &mut report);
            }
            Err(e) => report.check("up (operator, Ready)", Err(e)),
        },
    }
    report.finish()
}

/// The types to check: `DEVSTACK_CONFORMANCE_TYPES` (space separated), else the images
/// `e2e/docker.sh` builds (`image-set`: `DEVSTACK_IMAGES` or its default set) that the suite has
/// client checks for.
fn types() -> Vec<String> {
    if let Ok(v) = std::env::var("DEVSTACK_CONFORMANCE_TYPES") {
        if !v.trim().is_empty() {
            return v.split_whitespace().map(str::to_string).collect();
        }
    }
    let root = devstack_e2e::workspace_root();
    let out = std::process::Command::new("bash")
        .arg(root.join("e2e/docker.sh"))
        .arg("image-set")
        .output()
        .expect("run e2e/docker.sh image-set");
    assert!(out.status.success(), "e2e/docker.sh image-set failed");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|t| kinds::kind(t).is_some())
        .map(str::to_string)
        .collect()
}

/// The CPU the suite's pods may request at once on the real node (millicores): the kubelet
/// node's allocatable is the machine's 2 cores and no pod of its own requests any; 100m spare.
/// All 13 types at once (4000m) left pods Pending ("Insufficient cpu"), so the DevStacks never
/// became Ready. `DEVSTACK_CONFORMANCE_NODE_MILLICPU` overrides.
const NODE_CPU_BUDGET_MILLIS: u64 = 1900;
/// What the dependent (an image service without resources) requests.
const CLIENT_CPU_MILLIS: u64 = 100;

/// The types in waves that run one after the other: in Docker one wave; on the real node as
/// many types per wave as their CPU requests (service + dependent) fit the budget, so no pod
/// waits for the scheduler (each wave takes about as long as its slowest type).
fn waves(types: &[String], runtime: &str) -> Vec<Vec<String>> {
    if runtime == "docker" {
        return vec![types.to_vec()];
    }
    let budget = std::env::var("DEVSTACK_CONFORMANCE_NODE_MILLICPU")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(NODE_CPU_BUDGET_MILLIS);
    let mut waves: Vec<(u64, Vec<String>)> = Vec::new();
    for t in types {
        let cpu = report::catalog_facts(t).request_cpu_millis + CLIENT_CPU_MILLIS;
        match waves.iter_mut().find(|(used, _)| used + cpu <= budget) {
            Some((used, wave)) => {
                *used += cpu;
                wave.push(t.clone());
            }
            None => waves.push((cpu, vec![t.clone()])),
        }
    }
    waves.into_iter().map(|(_, w)| w).collect()
}

/// Every type in `runtime`, wave by wave (each type mostly waits on containers: a wave takes
/// about as long as its slowest type); fails naming every type that failed.
fn all_types(runtime: &str) {
    let types = types();
    let mut failures: Vec<String> = Vec::new();
    for wave in waves(&types, runtime) {
        eprintln!("[{runtime}] wave: {}", wave.join(" "));
        failures.extend(std::thread::scope(|scope| {
            let handles: Vec<_> = wave
                .iter()
                .map(|t| (t, scope.spawn(move || conformance(t, runtime))))
                .collect();
            handles
                .into_iter()
                .filter_map(|(t, h)| match h.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(format!("{t}: {e}")),
                    Err(_) => Some(format!("{t}: panicked (see above)")),
                })
                .collect::<Vec<_>>()
        }));
    }
    assert!(
        failures.is_empty(),
        "catalog conformance in {runtime}: {} of {} types failed:\n{}",
        failures.len(),
        types.len(),
        failures.join("\n")
    );
}

#[test]
fn catalog_in_docker() {
    all_types("docker");
}

#[test]
fn catalog_on_the_real_node() {
    all_types("node");
}
