//! `devstack env`: the connection settings a program on the host uses to reach the stack —
//! the same keys a dependent container receives (`POSTGRES_URL`, `_HOST`, `_PORT`, the
//! credentials), with the service's host name replaced by `127.0.0.1` and its container port
//! by the published host port. Services without a published port are not reachable from the
//! host and are left out.

use std::collections::BTreeMap;

use devstack_core::plan::{ServicePlan, StackPlan};
use devstack_core::template::{Segment, Template};
use devstack_docker::Stack;

use super::EnvFormat;
use crate::output;

/// What secrets become when they are not to be shown.
pub const REDACTED: &str = "<redacted>";

/// One setting.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Setting {
    /// Service it belongs to.
    pub service: String,
    /// Env key.
    pub key: String,
    /// Value for a program on the host.
    pub value: String,
    /// Whether the value contains a secret.
    pub secret: bool,
}

/// The host settings of the active services of `plan` (only `service` when given).
pub fn settings(
    plan: &StackPlan,
    secrets: &BTreeMap<String, String>,
    service: Option<&str>,
    show_secrets: bool,
) -> Vec<Setting> {
    let mut out = Vec::new();
    for svc in plan.active_services() {
        if service.is_some_and(|s| s != svc.name) {
            continue;
        }
        out.extend(app_secrets(plan, svc, secrets, show_secrets));
        if !svc.ports.iter().any(|p| p.host_port.is_some()) {
            continue;
        }
        for (key, template) in &svc.connection {
            let (value, secret) = host_value(plan, svc, key, template, secrets, show_secrets);
            out.push(Setting {
                service: svc.name.clone(),
                key: key.clone(),
                value,
                secret,
            });
        }
    }
    out
}

/// The app secrets `svc` receives (its spec's `secrets`), under their env names.
fn app_secrets(
    plan: &StackPlan,
    svc: &ServicePlan,
    secrets: &BTreeMap<String, String>,
    show_secrets: bool,
) -> Vec<Setting> {
    plan.secrets
        .iter()
        .filter(|d| d.app && d.service == svc.name)
        .map(|d| Setting {
            service: svc.name.clone(),
            key: d.name.clone(),
            value: if show_secrets {
                secrets.get(d.id.as_str()).cloned().unwrap_or_default()
            } else {
                REDACTED.to_string()
            },
            secret: true,
        })
        .collect()
}

/// Host port published for `container_port` of `service`.
fn host_port(service: &ServicePlan, container_port: &str) -> Option<u16> {
    service
        .ports
        .iter()
        .find(|p| p.container_port.to_string() == container_port)
        .and_then(|p| p.host_port)
}

/// The value of `template` (a connection output `key` of `service`) for a program on the host.
pub(crate) fn host_value(
    plan: &StackPlan,
    service: &ServicePlan,
    key: &str,
    template: &Template,
    secrets: &BTreeMap<String, String>,
    show_secrets: bool,
) -> (String, bool) {
    // `<PREFIX>_PORT` is the bare container port.
    if key.ends_with("_PORT") {
        if let [Segment::Lit(port)] = template.0.as_slice() {
            if let Some(host) = host_port(service, port) {
                return (host.to_string(), false);
            }
        }
    }
    let mut value = String::new();
    let mut secret = false;
    let mut after_host: Option<&ServicePlan> = None;
    for segment in &template.0 {
        match segment {
            Segment::Lit(text) => {
                let mut text = text.clone();
                // `host:port` right after a host name: the published port of that service.
                if let Some(target) = after_host.take() {
                    if let Some(rest) = text.strip_prefix(':') {
                        let digits: String =
                            rest.chars().take_while(char::is_ascii_digit).collect();
                        if let Some(host) = host_port(target, &digits) {
                            text = format!(":{host}{}", &rest[digits.len()..]);
                        }
                    }
                }
                value.push_str(&text);
            }
            Segment::Secret(id) => {
                secret = true;
                if show_secrets {
                    value.push_str(secrets.get(id.as_str()).map_or("", String::as_str));
                } else {
                    value.push_str(REDACTED);
                }
            }
            Segment::Host(host) => {
                value.push_str("127.0.0.1");
                after_host = plan.services.get(host);
            }
        }
    }
    (value, secret)
}

/// The settings as `KEY=value` lines (single-quoted when needed), `export KEY='value'` lines,
/// or a JSON object.
pub fn format(settings: &[Setting], format: &str) -> String {
    match format {
        "json" => {
            let map: BTreeMap<&str, &str> = settings
                .iter()
                .map(|s| (s.key.as_str(), s.value.as_str()))
                .collect();
            format!(
                "{}\n",
                serde_json::to_string_pretty(&map).unwrap_or_default()
            )
        }
        "shell" => settings
            .iter()
            .map(|s| format!("export {}={}\n", s.key, shell_quote(&s.value)))
            .collect(),
        _ => settings
            .iter()
            .map(|s| {
                let plain = s
                    .value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.+/=@%:,".contains(c));
                if plain {
                    format!("{}={}\n", s.key, s.value)
                } else {
                    format!("{}={}\n", s.key, shell_quote(&s.value))
                }
            })
            .collect(),
    }
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// `devstack env`: the settings of `service` (every active service without it) from the
/// stack's `.env` (generated on first use, like `up`).
pub fn run(
    plan: &StackPlan,
    root: &std::path::Path,
    service: Option<&str>,
    format: EnvFormat,
    show_secrets: bool,
) -> anyhow::Result<()> {
    let secrets = Stack::open(plan, root)?.env()?;
    let settings = settings(plan, &secrets, service, show_secrets);
    let format = match format {
        EnvFormat::Dotenv => "dotenv",
        EnvFormat::Shell => "shell",
        EnvFormat::Json => "json",
    };
    output::print(&self::format(&settings, format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::plan::{plan, PlanOptions};

    fn stack() -> StackPlan {
        let text = "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {name: s}\nspec:\n  services:\n    db: {type: postgres, hostPorts: {postgres: 5433}}\n    cache: {type: redis}\n";
        let stack = devstack_core::parse::parse_devstack(text).unwrap();
        plan(&stack, &PlanOptions::default()).unwrap()
    }

    #[test]
    fn host_settings_use_loopback_and_host_ports_and_redact_secrets() {
        let plan = stack();
        let secrets = devstack_core::secrets::fill(&plan, &BTreeMap::new(), &mut rand::rng());
        let shown = settings(&plan, &secrets, None, false);
        assert!(shown.iter().all(|s| s.service == "db"), "{shown:?}");
        let get = |k: &str| shown.iter().find(|s| s.key == k).unwrap().value.clone();
        assert_eq!(get("DB_HOST"), "127.0.0.1");
        assert_eq!(get("DB_PORT"), "5433");
        assert!(
            get("DB_URL").contains("@127.0.0.1:5433/"),
            "{}",
            get("DB_URL")
        );
        assert!(get("DB_URL").contains(REDACTED));
        let revealed = settings(&plan, &secrets, Some("db"), true);
        assert!(revealed.iter().all(|s| !s.value.contains(REDACTED)));
        assert!(revealed
            .iter()
            .any(|s| secrets.values().any(|v| s.value.contains(v.as_str()))));
    }
}
