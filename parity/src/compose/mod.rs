//! Reading the Compose rendering back into the normalized form.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::health::CheckForm;
use devstack_core::conventions::{compose, LABEL_SIZE};
use devstack_render_compose::spelling;
use serde_json::Value;

use super::{pair, secret_marker, Normalized, ParityError};

mod service;

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
        let own_profiles = strings(service.get("profiles")).unwrap_or_default();
        if !own_profiles.is_empty() && !own_profiles.iter().any(|p| profiles.contains(p)) {
            continue;
        }
        let joined: Vec<String> = match service.get("networks") {
            Some(Value::Object(m)) => m.keys().cloned().collect(),
            Some(Value::Array(s)) => s.iter().map(scalar).collect(),
            _ => vec!["default".to_string()],
        };
        for network in joined {
            networks.entry(network).or_default().push(name.clone());
        }
        let norm = service::read(name, service, &volume_sizes)?;
        normalized.services.insert(name.clone(), norm);
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
