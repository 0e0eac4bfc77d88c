//! `x-*` extension keys. `docker compose config` keeps top-level extensions but drops those
//! inside services, so the raw files are read too (YAML, only for their keys) to report every
//! one of them.

use serde_json::Value;

/// `(service, key)` of every `x-*` key inside a service of the raw Compose file `text`; an
/// unreadable file has none (Compose itself already accepted or rejected it).
pub fn service_extensions(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = serde_saphyr::from_str::<Value>(text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(services) = doc.get("services").and_then(Value::as_object) {
        for (name, svc) in services {
            if let Some(keys) = svc.as_object() {
                for key in keys.keys().filter(|k| k.starts_with("x-")) {
                    out.push((name.clone(), key.clone()));
                }
            }
        }
    }
    out
}
