//! `devstack import --check`: the original project and the imported stack's Compose rendering,
//! both as `docker compose config --format json` normalises them, compared service by service
//! on every aspect the import keeps. A difference the loss report explains is "by design" (with
//! the report's reason); any other difference is a mismatch. Rows and the table are
//! `devstack parity`'s ([`devstack_parity::Report`]).

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::health::CheckForm;
use devstack_parity::{Report, Row, Verdict};

use crate::health::{seconds, COMPOSE_DEFAULTS};
use crate::model::{Amounts, Project, Service};
use crate::Imported;
use serde_json::Value;

/// The aspects compared, in table order.
pub const ASPECTS: &[&str] = &[
    "image",
    "build",
    "command",
    "env",
    "ports",
    "health",
    "depends_on",
    "profiles",
    "replicas",
    "resources",
    "gpu",
    "volumes",
];

/// Compares `original` with `rendered` (the rendering of `imported.stack`).
pub fn compare(original: &Project, rendered: &Project, imported: &Imported) -> Report {
    let mut rows = Vec::new();
    for (compose_name, orig) in &original.services {
        let name = imported
            .names
            .get(compose_name)
            .cloned()
            .unwrap_or_else(|| compose_name.clone());
        let typed = imported
            .stack
            .spec
            .services
            .get(&name)
            .and_then(|s| s.type_.clone());
        let Some(out) = rendered.services.get(&name) else {
            rows.push(row(
                &name,
                "image",
                Verdict::Mismatch("the service is missing from the rendering".into()),
            ));
            continue;
        };
        let ctx = Ctx {
            compose_name,
            imported,
            typed: typed.as_deref(),
        };
        for aspect in ASPECTS {
            let verdict = ctx.aspect(aspect, orig, out);
            rows.push(row(&name, aspect, verdict));
        }
    }
    Report {
        stack: imported.stack.metadata.name.clone().unwrap_or_default(),
        rows,
    }
}

fn row(service: &str, aspect: &'static str, verdict: Verdict) -> Row {
    Row {
        service: service.to_string(),
        aspect,
        verdict,
    }
}

struct Ctx<'a> {
    compose_name: &'a str,
    imported: &'a Imported,
    typed: Option<&'a str>,
}

impl Ctx<'_> {
    fn aspect(&self, aspect: &str, orig: &Service, out: &Service) -> Verdict {
        let (a, b, key) = match aspect {
            "image" => (
                image(orig, &self.imported.stack.metadata.name),
                out.image.clone().unwrap_or_default(),
                "image",
            ),
            "command" => (
                format!("{:?} {:?}", orig.entrypoint, orig.command),
                format!("{:?} {:?}", out.entrypoint, out.command),
                "command",
            ),
            "env" => return self.env(orig, out),
            "ports" => (ports(orig), ports(out), "ports"),
            "health" => (health(orig), health(out), "healthcheck"),
            "depends_on" => (
                depends(orig, &self.imported.names),
                depends(out, &BTreeMap::new()),
                "depends_on",
            ),
            "profiles" => (
                format!("{:?}", orig.profiles),
                format!("{:?}", out.profiles),
                "profiles",
            ),
            "replicas" => (replicas(orig), replicas(out), "deploy.replicas"),
            "resources" => (resources(orig), resources(out), "deploy.resources"),
            "gpu" => (gpus(orig), gpus(out), "deploy.resources"),
            "build" => (build(orig), build(out), "build"),
            "volumes" => return self.volumes(orig, out),
            _ => return Verdict::Same,
        };
        if a == b {
            return Verdict::Same;
        }
        let diff = format!("{a} → {b}");
        if let Some(reason) = self.reason(key) {
            return Verdict::ByDesign(format!("{diff} ({reason})"));
        }
        if let Some(reason) = self.unset_default(aspect, orig) {
            return Verdict::ByDesign(format!("{diff} ({reason})"));
        }
        Verdict::Mismatch(diff)
    }

    /// The loss report's reason for a difference in `key`, if it has one.
    /// `key` may name several keys, `|` between them.
    fn reason(&self, key: &str) -> Option<String> {
        let found: Vec<String> = key
            .split('|')
            .flat_map(|k| self.imported.report.about(self.compose_name, k))
            .map(|l| l.detail.clone())
            .collect();
        (!found.is_empty()).then(|| found.join("; "))
    }

    /// Differences where the file said nothing and devstack decides (documented defaults).
    fn unset_default(&self, aspect: &str, orig: &Service) -> Option<String> {
        match (aspect, self.typed) {
            ("command", Some(t)) if orig.command.is_none() && orig.entrypoint.is_none() => {
                Some(format!("the catalog's {t} arguments"))
            }
            ("health", Some(t)) if orig.healthcheck.is_none() => {
                Some(format!("the catalog's {t} health check"))
            }
            ("resources", _) if !has_budget(orig) => {
                Some("the file set no budget: devstack's default budget".into())
            }
            ("volumes", Some(t)) => {
                Some(format!("the catalog's {t} data paths and writable paths"))
            }
            ("volumes", None) if orig.volumes.is_empty() => {
                Some("devstack's writable paths".into())
            }
            _ => None,
        }
    }

    fn env(&self, orig: &Service, out: &Service) -> Verdict {
        let mut explained = Vec::new();
        let mut unexplained = Vec::new();
        for (key, value) in &orig.environment {
            let now = out.environment.get(key).cloned().flatten();
            if now == *value {
                continue;
            }
            let diff = format!(
                "{key}: {} → {}",
                shown(key, value.as_deref()),
                shown(key, now.as_deref())
            );
            match self.reason(&format!("environment.{key}")) {
                Some(reason) => explained.push(format!("{diff} ({reason})")),
                None => unexplained.push(diff),
            }
        }
        verdict(&explained, &unexplained)
    }
}

/// A value as the table may show it: credentials never.
fn shown(key: &str, value: Option<&str>) -> String {
    match value {
        None => "unset".into(),
        Some(v) if v.starts_with("@@secret:") => "a generated secret".into(),
        Some(_) if crate::env::looks_secret(key) => "<redacted>".into(),
        Some(v) => format!("{v:?}"),
    }
}

fn image(svc: &Service, stack: &Option<String>) -> String {
    svc.image
        .clone()
        .unwrap_or_else(|| format!("(built for {})", stack.as_deref().unwrap_or("")))
}

fn ports(svc: &Service) -> String {
    let set: BTreeSet<String> = svc
        .ports
        .iter()
        .map(|p| match &p.published {
            Some(h) if !h.is_empty() => format!(
                "{}:{h}:{}/{}",
                p.host_ip.as_deref().unwrap_or("0.0.0.0"),
                p.target,
                p.protocol.as_deref().unwrap_or("tcp")
            ),
            _ => format!("{}/{}", p.target, p.protocol.as_deref().unwrap_or("tcp")),
        })
        .collect();
    format!("{set:?}")
}

fn health(svc: &Service) -> String {
    let Some(h) = &svc.healthcheck else {
        return "none".into();
    };
    if h.disable == Some(true) {
        return "none".into();
    }
    let form = match h.test.first().map(String::as_str) {
        Some("CMD-SHELL") => {
            CheckForm::from_compose_test(&h.test).unwrap_or(CheckForm::Exec(vec![
                "sh".into(),
                "-c".into(),
                h.test[1..].join(" "),
            ]))
        }
        Some("CMD") => {
            CheckForm::from_compose_test(&h.test).unwrap_or(CheckForm::Exec(h.test[1..].to_vec()))
        }
        _ => return "none".into(),
    };
    let t = |v: &Option<String>, d: u32| v.as_deref().and_then(seconds).unwrap_or(d);
    let [di, dt, dr, ds] = COMPOSE_DEFAULTS;
    format!(
        "{form} every {}s timeout {}s retries {} start {}s",
        t(&h.interval, di),
        t(&h.timeout, dt),
        h.retries.unwrap_or(u64::from(dr)),
        t(&h.start_period, ds)
    )
}

fn depends(svc: &Service, names: &BTreeMap<String, String>) -> String {
    let set: BTreeSet<String> = svc
        .depends_on
        .iter()
        .map(|(k, d)| {
            format!(
                "{}:{}",
                names.get(k).unwrap_or(k),
                d.condition.as_deref().unwrap_or("service_started")
            )
        })
        .collect();
    format!("{set:?}")
}

fn replicas(svc: &Service) -> String {
    svc.deploy
        .as_ref()
        .and_then(|d| d.replicas)
        .unwrap_or(1)
        .to_string()
}

fn amount(a: &Option<Amounts>) -> String {
    let Some(a) = a else { return "-".into() };
    let cpu = a
        .cpus
        .as_ref()
        .map(|v| v.to_string().trim_matches('"').to_string());
    let cpu = cpu
        .and_then(|c| devstack_core::quantity::cpu_millis(&c).ok())
        .map_or("-".into(), |m| format!("{m}m"));
    let mem = a
        .memory
        .as_ref()
        .map_or("-".into(), |v| v.to_string().trim_matches('"').to_string());
    format!("cpu {cpu} memory {mem}")
}

/// Whether the file sets any CPU or memory amount for `svc`.
fn has_budget(svc: &Service) -> bool {
    let r = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.clone())
        .unwrap_or_default();
    [r.limits, r.reservations]
        .iter()
        .flatten()
        .any(|a| a.cpus.is_some() || a.memory.is_some())
}

fn resources(svc: &Service) -> String {
    let r = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.clone())
        .unwrap_or_default();
    format!(
        "limits {} reservations {}",
        amount(&r.limits),
        amount(&r.reservations)
    )
}

fn gpus(svc: &Service) -> String {
    let r = svc
        .deploy
        .as_ref()
        .and_then(|d| d.resources.clone())
        .unwrap_or_default();
    let count: i64 = [r.limits, r.reservations]
        .iter()
        .flatten()
        .flat_map(|a| a.devices.iter())
        .filter(|d| d.capabilities.iter().any(|c| c == "gpu"))
        .map(|d| d.count.as_ref().and_then(|c| c.as_i64()).unwrap_or(1))
        .sum();
    count.to_string()
}

/// The build as both sides print it: context, Dockerfile inside it, target, arguments.
fn build(svc: &Service) -> String {
    let Some(b) = &svc.build else {
        return "none".into();
    };
    let text = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let context = text("context");
    let dockerfile = text("dockerfile");
    let dockerfile = dockerfile
        .strip_prefix(&format!("{context}/"))
        .unwrap_or(&dockerfile);
    let dockerfile = if dockerfile.is_empty() {
        "Dockerfile"
    } else {
        dockerfile
    };
    let args: BTreeMap<String, String> = b
        .get("args")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), String::from),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{context} -f {dockerfile} target {:?} args {args:?}",
        text("target")
    )
}

impl Ctx<'_> {
    /// Mounts target by target: each difference explained by a loss about `volumes.<target>`
    /// (or the config mounted there), or by the catalog's data paths; otherwise a mismatch.
    fn volumes(&self, orig: &Service, out: &Service) -> Verdict {
        let (a, configs) = (mounts(orig), config_targets(orig));
        let b = mounts(out);
        let targets: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        let mut explained = Vec::new();
        let mut unexplained = Vec::new();
        for target in targets {
            let (x, y) = (a.get(target), b.get(target));
            if x == y {
                continue;
            }
            let none = String::from("none");
            let diff = format!("{target}: {} → {}", x.unwrap_or(&none), y.unwrap_or(&none));
            let reason = self
                .reason(&format!("volumes.{target}"))
                .or_else(|| {
                    configs
                        .get(target)
                        .and_then(|c| self.reason(&format!("configs.{c}")))
                })
                .or_else(|| self.unset_default("volumes", orig));
            match reason {
                Some(r) => explained.push(format!("{diff} ({r})")),
                None => unexplained.push(diff),
            }
        }
        verdict(&explained, &unexplained)
    }
}

/// Container path → the config mounted there.
fn config_targets(svc: &Service) -> BTreeMap<String, String> {
    svc.configs
        .iter()
        .filter_map(|c| {
            let source = c.get("source").and_then(Value::as_str)?;
            let target = c
                .get("target")
                .and_then(Value::as_str)
                .map_or_else(|| format!("/{source}"), String::from);
            Some((target, source.to_string()))
        })
        .collect()
}

/// Container path → what is mounted there: a named volume (its name is the runtime's), a
/// file (a config, or devstack's copy of a file), a bind of a host path, read-only or not.
fn mounts(svc: &Service) -> BTreeMap<String, String> {
    let files_dir = format!("/{}/", devstack_core::conventions::FILES_DIR);
    let mut out: BTreeMap<String, String> = config_targets(svc)
        .into_keys()
        .map(|t| (t, "file".to_string()))
        .collect();
    for m in &svc.volumes {
        let ro = if m.read_only == Some(true) { " ro" } else { "" };
        let source = m.source.as_deref().unwrap_or("");
        let what = match m.kind.as_str() {
            "bind" if source.contains(&files_dir) => "file".to_string(),
            "bind" => format!("bind {source}{ro}"),
            kind => format!("{kind}{ro}"),
        };
        out.insert(m.target.clone(), what);
    }
    out
}

/// MISMATCH when a difference is unexplained, by design when every one is explained.
fn verdict(explained: &[String], unexplained: &[String]) -> Verdict {
    if !unexplained.is_empty() {
        Verdict::Mismatch(unexplained.join("; "))
    } else if !explained.is_empty() {
        Verdict::ByDesign(explained.join("; "))
    } else {
        Verdict::Same
    }
}
