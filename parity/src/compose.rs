//! Reading the Compose rendering back into the normalized form.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::health::CheckForm;
use devstack_core::conventions::{compose, LABEL_SIZE};
use devstack_render_compose::spelling;
use serde_json::Value;

use super::{cpu, pair, secret_marker, start_grace, NormService, Normalized, ParityError};

fn err(message: impl Into<String>) -> ParityError {
    ParityError::ReadBack {
        mode: "compose",
        message: message.into(),
    }
}

/// Undoes Compose escaping and interpolation: `$$` → `$`, `${ID...}` → the secret marker.
fn canon(text: &str) -> String {
    compose::unescape(text, secret_marker)
}

fn strings(value: Option<&Value>) -> Option<Vec<String>> {
    let seq = value?.as_array()?;
    Some(seq.iter().map(scalar).collect())
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => devstack_core::yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

fn seconds(value: Option<&Value>) -> Option<u32> {
    u32::try_from(spelling::parse_seconds(&scalar(value?))?).ok()
}

fn health(test: &[String]) -> String {
    let test: Vec<String> = test.iter().map(|s| canon(s)).collect();
    match CheckForm::from_compose_test(&test) {
        Some(form) => form.to_string(),
        None if test.first().map(String::as_str) == Some("CMD-SHELL") => {
            format!(
                "shell {:?}",
                test.get(1).map(String::as_str).unwrap_or_default()
            )
        }
        None => format!("unknown {test:?}"),
    }
}

/// Reads the compose file (and the `.env` the renderer writes beside it).
pub fn read_back(yaml: &str, env_file: &str) -> Result<Normalized, ParityError> {
    let doc: Value =
        devstack_core::yaml::from_str(yaml).map_err(|source| ParityError::ReadYaml {
            mode: "compose",
            source,
        })?;
    let profiles: BTreeSet<String> = env_file
        .lines()
        .find_map(|l| l.strip_prefix("COMPOSE_PROFILES="))
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let volume_sizes: BTreeMap<String, u64> = doc
        .get("volumes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(name, v)| {
            let size = v.get("labels")?.get(LABEL_SIZE).map(scalar)?;
            Some((name.clone(), devstack_core::quantity::bytes(&size).ok()?))
        })
        .collect();
    let services = doc
        .get("services")
        .and_then(Value::as_object)
        .ok_or_else(|| err("no services"))?;
    let mut normalized = Normalized::default();
    let mut networks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, service) in services {
        let name = name.clone();
        let own_profiles = strings(service.get("profiles")).unwrap_or_default();
        if !own_profiles.is_empty() && !own_profiles.iter().any(|p| profiles.contains(p)) {
            continue;
        }
        let mut norm = NormService {
            image: service.get("image").map(scalar).unwrap_or_default(),
            command: strings(service.get("entrypoint"))
                .map(|v| v.iter().map(|s| canon(s)).collect()),
            args: strings(service.get("command")).map(|v| v.iter().map(|s| canon(s)).collect()),
            replicas: 1,
            ..NormService::default()
        };
        for (key, value) in service
            .get("environment")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            norm.env.insert(key.clone(), canon(&scalar(value)));
        }
        norm.mark_secret_env();
        for port in strings(service.get("expose")).unwrap_or_default() {
            norm.ports.insert(
                port.parse()
                    .map_err(|_| err(format!("{name}: expose {port:?}")))?,
            );
        }
        for spec in strings(service.get("ports")).unwrap_or_default() {
            let parts: Vec<&str> = spec.split(':').collect();
            if let [_, host, container] = parts.as_slice() {
                let (h, c) = (host.parse(), container.parse());
                if let (Ok(h), Ok(c)) = (h, c) {
                    norm.host_ports.insert(c, h);
                    norm.ports.insert(c);
                    continue;
                }
            }
            return Err(err(format!(
                "{name}: port {spec:?} is not 127.0.0.1:HOST:CONTAINER"
            )));
        }
        if let Some(check) = service.get("healthcheck") {
            let test = strings(check.get("test")).unwrap_or_default();
            norm.health = Some(health(&test));
            let interval = seconds(check.get("interval")).unwrap_or(30);
            norm.health_timing = Some([
                interval,
                seconds(check.get("timeout")).unwrap_or(30),
                check.get("retries").and_then(Value::as_u64).unwrap_or(3) as u32,
                start_grace(seconds(check.get("start_period")).unwrap_or(0), interval),
            ]);
        }
        norm.depends_on = match service.get("depends_on") {
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(Value::Array(s)) => s.iter().map(scalar).collect(),
            _ => BTreeSet::new(),
        };
        let deploy = service.get("deploy");
        if let Some(replicas) = deploy
            .and_then(|d| d.get("replicas"))
            .and_then(Value::as_u64)
        {
            norm.replicas = replicas as u32;
        }
        let resources = deploy.and_then(|d| d.get("resources"));
        let amount = |section: &str| {
            let s = resources.and_then(|r| r.get(section));
            [
                s.and_then(|s| s.get("cpus"))
                    .map(scalar)
                    .and_then(|c| cpu(&c))
                    .unwrap_or(0),
                s.and_then(|s| s.get("memory"))
                    .map(scalar)
                    .and_then(|m| spelling::parse_memory(&m))
                    .unwrap_or(0),
            ]
        };
        norm.limits = amount("limits");
        norm.requests = amount("reservations");
        norm.gpu = resources
            .and_then(|r| r.get("reservations"))
            .and_then(|r| r.get("devices"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| d.get("count").and_then(Value::as_u64))
            .sum::<u64>() as u32;
        for volume in service
            .get("volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if crate::files::is_file_mount(volume) {
                continue;
            }
            let (source, target) = match volume {
                Value::String(s) => {
                    let mut parts = s.splitn(3, ':');
                    (
                        parts.next().unwrap_or_default().to_string(),
                        parts.next().unwrap_or_default().to_string(),
                    )
                }
                other => (
                    other.get("source").map(scalar).unwrap_or_default(),
                    other.get("target").map(scalar).unwrap_or_default(),
                ),
            };
            norm.volumes
                .insert(target, volume_sizes.get(&source).copied().unwrap_or(0));
        }
        (norm.files, norm.files_hash) = crate::files::compose(service);
        norm.writable_paths = strings(service.get("tmpfs"))
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.split(':').next().unwrap_or_default().to_string())
            .collect();
        norm.user = service.get("user").map(scalar);
        norm.cap_drop = strings(service.get("cap_drop"))
            .unwrap_or_default()
            .into_iter()
            .collect();
        norm.cap_add = strings(service.get("cap_add"))
            .unwrap_or_default()
            .into_iter()
            .collect();
        norm.no_new_privileges = strings(service.get("security_opt"))
            .unwrap_or_default()
            .iter()
            .any(|o| o == "no-new-privileges:true" || o == "no-new-privileges");
        norm.read_only_root = service
            .get("read_only")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let joined: Vec<String> = match service.get("networks") {
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(Value::Array(s)) => s.iter().map(scalar).collect(),
            _ => vec!["default".to_string()],
        };
        for network in joined {
            networks.entry(network).or_default().push(name.clone());
        }
        normalized.services.insert(name, norm);
    }
    for members in networks.values() {
        for (i, a) in members.iter().enumerate() {
            for b in &members[i + 1..] {
                normalized.reachability.insert(pair(a, b));
            }
        }
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canon_undoes_compose_escaping() {
        assert_eq!(canon("a$$b"), "a$b");
        assert_eq!(
            canon("x${DEVSTACK_PG_PASSWORD:?missing}y"),
            "x@@secret:DEVSTACK_PG_PASSWORD@@y"
        );
        assert_eq!(canon("$$(HOME)"), "$(HOME)");
    }

    #[test]
    fn parses_durations_and_sizes() {
        assert_eq!(seconds(Some(&Value::String("1m30s".into()))), Some(90));
        assert_eq!(seconds(Some(&Value::String("10s".into()))), Some(10));
        assert_eq!(spelling::parse_memory("256m"), Some(256 << 20));
        assert_eq!(spelling::parse_memory("268435456"), Some(268435456));
        assert_eq!(spelling::parse_memory("1g"), Some(1 << 30));
    }

    #[test]
    fn recognizes_generated_health_commands() {
        let tcp: Vec<String> = ["CMD", "bash", "-c", ":> /dev/tcp/127.0.0.1/6333"]
            .map(String::from)
            .to_vec();
        assert_eq!(health(&tcp), "tcp :6333");
        let http: Vec<String> = vec!["CMD-SHELL".into(), "wget -q -O /dev/null http://127.0.0.1:8000/health || curl -fsS -o /dev/null http://127.0.0.1:8000/health".into()];
        assert_eq!(health(&http), "http /health :8000");
    }
}
