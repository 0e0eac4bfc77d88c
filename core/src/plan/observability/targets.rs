//! Reading Prometheus's `/api/v1/targets` back per service: whether each service's metrics
//! targets are up (the generated scrape config labels every target with its `service`).

use std::collections::BTreeMap;

use serde::Deserialize;

/// The scrape health of one service's targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetHealth {
    /// Every target of the service is up.
    Up,
    /// A target is down; the last scrape error of the first one.
    Down(String),
    /// Not scraped yet.
    Unknown,
}

impl std::fmt::Display for TargetHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetHealth::Up => f.write_str("up"),
            TargetHealth::Down(e) if e.is_empty() => f.write_str("down"),
            TargetHealth::Down(e) => write!(f, "down ({e})"),
            TargetHealth::Unknown => f.write_str("unknown"),
        }
    }
}

#[derive(Deserialize)]
struct Response {
    data: Data,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    #[serde(default)]
    active_targets: Vec<Target>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    health: String,
    #[serde(default)]
    last_error: String,
}

/// The health of every service's targets in a `/api/v1/targets` response, by the `service`
/// label; `None` when the text is not such a response.
pub fn parse_targets(json: &str) -> Option<BTreeMap<String, TargetHealth>> {
    let response: Response = serde_json::from_str(json).ok()?;
    let mut out: BTreeMap<String, TargetHealth> = BTreeMap::new();
    for t in response.data.active_targets {
        let Some(service) = t.labels.get("service") else {
            continue;
        };
        let this = match t.health.as_str() {
            "up" => TargetHealth::Up,
            "down" => TargetHealth::Down(t.last_error.chars().take(120).collect()),
            _ => TargetHealth::Unknown,
        };
        let merged = match (out.remove(service), this) {
            (None, h) => h,
            (Some(d @ TargetHealth::Down(_)), _) | (Some(_), d @ TargetHealth::Down(_)) => d,
            (Some(TargetHealth::Unknown), _) | (Some(_), TargetHealth::Unknown) => {
                TargetHealth::Unknown
            }
            (Some(TargetHealth::Up), TargetHealth::Up) => TargetHealth::Up,
        };
        out.insert(service.clone(), merged);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_folded_per_service_label() {
        let json = r#"{"status":"success","data":{"activeTargets":[
            {"labels":{"job":"collector","service":"collector"},"health":"up","lastError":""},
            {"labels":{"job":"collector-exporter","service":"collector"},"health":"down","lastError":"connection refused"},
            {"labels":{"job":"api","service":"api"},"health":"up","lastError":""},
            {"labels":{"job":"new","service":"new"},"health":"unknown","lastError":""},
            {"labels":{"job":"other"},"health":"up","lastError":""}
        ],"droppedTargets":[]}}"#;
        let health = parse_targets(json).expect("a targets response");
        assert_eq!(health.len(), 3);
        assert_eq!(health["api"], TargetHealth::Up);
        assert_eq!(health["collector"].to_string(), "down (connection refused)");
        assert_eq!(health["new"], TargetHealth::Unknown);
        assert!(parse_targets("<html>").is_none());
    }
}
