//! Mapping rules every service shares, catalog or custom: `depends_on`, `profiles`,
//! `deploy` (resources, GPUs, replicas), mounts, configs, secrets, build, and every key left
//! over (the loss report's advice table).

use std::collections::BTreeMap;

use devstack_core::quantity;
use devstack_core::types::{ResourceAmounts, ResourcesSpec, ServiceSpec};
use serde_json::Value;

use crate::loss::LossReport;
use crate::model::{Amounts, Deploy, Service};
use crate::names::Names;

/// `depends_on` → `dependsOn` (sorted, renamed). `service_healthy` is exact; the other
/// conditions become "healthy first" too, reported.
pub fn depends_on(
    name: &str,
    svc: &Service,
    names: &Names,
    report: &mut LossReport,
) -> Vec<String> {
    let mut out = Vec::new();
    for (dep, spec) in &svc.depends_on {
        let key = format!("depends_on.{dep}");
        match spec.condition.as_deref().unwrap_or("service_started") {
            "service_healthy" => {}
            "service_started" => report.changed(
                name,
                &key,
                "condition service_started: devstack starts a dependent once its dependency is healthy (or started, when it has no health check)",
                "nothing to do; give the dependency a healthcheck if it has none",
            ),
            "service_completed_successfully" => report.changed(
                name,
                &key,
                "condition service_completed_successfully: devstack has no one-shot jobs; the dependency runs as a service and is waited for healthy",
                "run the one-shot step inside the dependent's command, or keep it outside the stack",
            ),
            other => report.changed(name, &key, &format!("unknown condition {other:?}"), "use service_healthy"),
        }
        if spec.required == Some(false) {
            report.changed(
                name,
                &format!("{key}.required"),
                "required: false: the dependency is required",
                "remove the edge if the service can start without it",
            );
        }
        if spec.restart == Some(true) {
            report.dropped(
                name,
                &format!("{key}.restart"),
                "restart: true (restart the dependent with its dependency) has no DevStack meaning",
                "restart the dependent yourself (devstack up recreates changed services)",
            );
        }
        out.push(names.get(dep));
    }
    out.sort();
    out.dedup();
    out
}

/// `deploy` → `resources`, `gpu`, `replicas`; other deploy keys reported.
pub fn deploy(
    name: &str,
    deploy: &Deploy,
    spec: &mut ServiceSpec,
    stateless: bool,
    report: &mut LossReport,
) {
    if let Some(replicas) = deploy.replicas {
        if !stateless {
            report.dropped(
                name,
                "deploy.replicas",
                "a catalog service keeps data and runs once",
                "run separate services if you need several",
            );
        } else if (0..=i64::from(devstack_core::limits::MAX_REPLICAS)).contains(&replicas) {
            spec.replicas = (replicas != 1).then_some(replicas as i32);
        } else {
            report.dropped(
                name,
                "deploy.replicas",
                &format!(
                    "{replicas} is outside 0..{}",
                    devstack_core::limits::MAX_REPLICAS
                ),
                "choose fewer replicas",
            );
        }
    }
    if let Some(resources) = &deploy.resources {
        let requests = resources
            .reservations
            .as_ref()
            .and_then(|a| amounts(name, "deploy.resources.reservations", a, report));
        let limits = resources
            .limits
            .as_ref()
            .and_then(|a| amounts(name, "deploy.resources.limits", a, report));
        if requests.is_some() || limits.is_some() {
            let unset = unset_amounts(&requests, &limits);
            if !unset.is_empty() {
                report.changed(
                    name,
                    "deploy.resources",
                    &format!(
                        "the file sets no {}: devstack's default budget fills them",
                        unset.join(", ")
                    ),
                    "set every request and limit to pin the whole budget",
                );
            }
            spec.resources = Some(ResourcesSpec { requests, limits });
        }
        for (key, a) in [
            ("limits", &resources.limits),
            ("reservations", &resources.reservations),
        ] {
            if let Some(a) = a {
                spec.gpu = spec.gpu.or(gpus(
                    name,
                    &format!("deploy.resources.{key}.devices"),
                    a,
                    report,
                ));
            }
        }
    }
    for (key, value) in &deploy.other {
        if !is_empty(value) {
            report.dropped(
                name,
                &format!("deploy.{key}"),
                &format!("deploy.{key} has no DevStack meaning"),
                "devstack schedules one container per replica in both runtimes",
            );
        }
    }
}

fn unset_amounts(
    requests: &Option<ResourceAmounts>,
    limits: &Option<ResourceAmounts>,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (what, a) in [("reservation", requests), ("limit", limits)] {
        let a = a.clone().unwrap_or_default();
        if a.cpu.is_none() {
            out.push(if what == "limit" {
                "cpu limit"
            } else {
                "cpu reservation"
            });
        }
        if a.memory.is_none() {
            out.push(if what == "limit" {
                "memory limit"
            } else {
                "memory reservation"
            });
        }
    }
    out
}

fn amounts(name: &str, key: &str, a: &Amounts, report: &mut LossReport) -> Option<ResourceAmounts> {
    let cpu = a.cpus.as_ref().and_then(|v| {
        let text = number_text(v)?;
        let millis = quantity::cpu_millis(&text).ok();
        if millis.is_none() {
            report.dropped(
                name,
                &format!("{key}.cpus"),
                &format!("{text:?} is not a CPU count"),
                "write cpus as a number",
            );
        }
        Some(quantity::format_cpu(millis?))
    });
    let memory = a.memory.as_ref().and_then(|v| {
        let bytes: u64 = number_text(v)?.parse().ok()?;
        Some(quantity::format_bytes(bytes))
    });
    for (k, value) in &a.other {
        if !is_empty(value) {
            report.dropped(
                name,
                &format!("{key}.{k}"),
                &format!("{k} has no DevStack meaning"),
                "only cpu and memory budgets carry over",
            );
        }
    }
    (cpu.is_some() || memory.is_some()).then_some(ResourceAmounts { cpu, memory })
}

fn gpus(name: &str, key: &str, a: &Amounts, report: &mut LossReport) -> Option<i32> {
    let mut total: Option<i32> = None;
    for device in &a.devices {
        if !device.capabilities.iter().any(|c| c == "gpu") {
            report.dropped(
                name,
                key,
                &format!(
                    "a device reservation with capabilities {:?}",
                    device.capabilities
                ),
                "only GPUs carry over",
            );
            continue;
        }
        let count = match &device.count {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(1) as i32,
            Some(Value::String(s)) if s == "all" => {
                report.changed(
                    name,
                    key,
                    "count: all: becomes gpu: 1 (a stack asks for a number)",
                    "set gpu to the number the service needs",
                );
                1
            }
            _ if !device.device_ids.is_empty() => {
                report.changed(
                    name,
                    key,
                    "device_ids: becomes a count of GPUs; which GPU is the runtime's choice",
                    "none: device ids do not carry over",
                );
                device.device_ids.len() as i32
            }
            _ => 1,
        };
        total = Some(total.unwrap_or(0) + count);
    }
    total.map(|t| t.clamp(0, devstack_core::limits::MAX_GPU))
}

fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Whether a leftover value says nothing (`null`, `{}`, `[]`, `""`).
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.values().all(is_empty),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A catalog service's `secrets`: the catalog generates its credentials.
pub fn catalog_secrets(name: &str, svc: &Service, typed: bool, report: &mut LossReport) {
    // An image service's secrets become app secrets (crate::credentials).
    if !typed {
        return;
    }
    for secret in &svc.secrets {
        let source = secret.get("source").and_then(Value::as_str).unwrap_or("?");
        report.changed(
            name,
            &format!("secrets.{source}"),
            &format!("secret {source}: the catalog generates this service's credentials"),
            "dependents get them as <NAME>_PASSWORD / _URL",
        );
    }
}

/// What to do instead, for the keys no DevStack field carries.
fn advice(key: &str) -> (&'static str, &'static str) {
    match key {
        "privileged" => ("a privileged container has every capability and device", "devstack drops ALL capabilities; find the capability the service needs and ask for a catalog type, or run it outside the stack"),
        "network_mode" => ("the service does not join the stack's network", "reach other services by name through dependsOn; publish ports with hostPorts/ports"),
        "cap_add" | "cap_drop" => ("capabilities are the catalog's: devstack drops ALL and adds back only what a catalog type needs", "use a catalog type, or run the service outside the stack"),
        "extra_hosts" => ("no /etc/hosts entries", "use a service name (dependsOn), or a DNS name the cluster resolves"),
        "logging" => ("the log driver is the runtime's", "read logs with devstack logs or kubectl logs"),
        "restart" => ("devstack restarts failed containers itself (Kubernetes always; Docker unless-stopped)", "nothing to do"),
        "container_name" => ("container names are devstack's (<stack>-<service>-1)", "address the service by its name"),
        "hostname" | "domainname" => ("the host name is the service name", "use the service name"),
        "user" => ("a custom container runs as its image's user", "set USER in the image"),
        "working_dir" => ("the working directory is the image's", "set WORKDIR in the image, or cd in command"),
        "labels" => ("container labels are devstack's", "none"),
        "tmpfs" => ("no tmpfs mounts on a custom service", "write to a path the image makes writable"),
        "read_only" => ("read-only roots are the catalog's decision", "none"),
        "stop_grace_period" | "stop_signal" => ("stop handling is the runtime's default", "handle SIGTERM in the program"),
        "init" | "tty" | "stdin_open" | "pid" | "ipc" | "shm_size" | "ulimits" | "sysctls" | "devices" | "security_opt" | "dns" | "dns_search" | "mac_address" | "platform" | "pull_policy" | "runtime" | "userns_mode" | "cgroup" | "oom_score_adj" | "mem_limit" | "cpus" | "mem_reservation" | "cpu_shares" => ("a container runtime setting with no DevStack field", "bake it into the image or drop it; budgets go in resources"),
        "env_file" => ("env files were read by Compose; their values are in env", "none"),
        "expose" => ("expose is Compose's documentation of ports", "none"),
        _ => ("a Compose key with no DevStack meaning", "none in devstack today; say what you need it for in an issue"),
    }
}

/// Whether `key: value` is what devstack does to every container anyway: `cap_drop: [ALL]`
/// and `security_opt: [no-new-privileges:true]`.
fn is_default(key: &str, value: &Value) -> bool {
    let Some(items) = value.as_array() else {
        return false;
    };
    let all = |allowed: &[&str]| {
        items
            .iter()
            .all(|v| v.as_str().is_some_and(|s| allowed.contains(&s)))
    };
    match key {
        "cap_drop" => all(&["ALL"]),
        "security_opt" => all(&["no-new-privileges:true", "no-new-privileges"]),
        _ => false,
    }
}

/// Reports every key of `other` (the keys the model does not read).
pub fn leftovers(
    name: &str,
    other: &BTreeMap<String, Value>,
    typed: bool,
    report: &mut LossReport,
) {
    for (key, value) in other {
        if is_empty(value) || key == "command" || key == "entrypoint" || is_default(key, value) {
            continue;
        }
        if key.starts_with("x-") {
            report.dropped(
                name,
                key,
                "extension key: Compose-only data",
                "move what it shares into the stack (anchors are already expanded)",
            );
            continue;
        }
        let (detail, instead) = match key.as_str() {
            "user" | "read_only" | "tmpfs" if typed => (
                "the catalog decides the user, read-only root and writable paths of this type",
                "nothing to do",
            ),
            _ => advice(key),
        };
        let shown = match value {
            Value::String(s) => format!("{key}: {s}: {detail}"),
            Value::Bool(b) => format!("{key}: {b}: {detail}"),
            _ => format!("{key}: {detail}"),
        };
        report.dropped(name, key, &shown, instead);
    }
}
