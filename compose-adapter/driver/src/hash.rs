//! Docker Compose's configuration hashes, computed the way Compose computes them, so that
//! `docker compose up` finds the objects `devstack up` created up to date (and the other way
//! round) instead of recreating them.
//!
//! Compose (compose-go types, Go `encoding/json`) hashes the SHA-256 of the JSON of a
//! service with `build`, `pull_policy`, `scale`, `deploy.replicas`, `depends_on` and
//! `profiles` cleared; of a network's and a volume's config (volume driver defaulted to
//! `local`). The JSON has Go's key order (struct field order; sorted map keys), Go's number
//! spelling and Go's HTML-safe string escaping. Only the fields the renderer can produce are
//! spelled here; `docker compose config --hash '*'` on the rendered file is the reference the
//! tests compare against.

use sha2::{Digest, Sha256};

use devstack_render_compose::model::{Healthcheck, Network, Service, Volume};
use devstack_render_compose::spelling::{Cpus, Memory};

use super::DriverError;

/// Compose's hash of a resolved `service` (secrets filled in, `$$` unescaped).
pub fn service_hash(service: &Service) -> Result<String, DriverError> {
    Ok(sha256(&service_json(service)?))
}

/// Compose's hash of network `name` (the Docker name) with the file's `network` config.
pub fn network_hash(name: &str, network: &Network) -> String {
    let mut json = Obj::new();
    json.field("name", string(name));
    json.field("ipam", "{}".to_string());
    if !network.labels.is_empty() {
        json.field("labels", string_map(&network.labels));
    }
    sha256(&json.close())
}

/// Compose's hash of volume `name` (the Docker name) with the file's `volume` config.
pub fn volume_hash(name: &str, volume: &Volume) -> String {
    let mut json = Obj::new();
    json.field("name", string(name));
    json.field("driver", string("local"));
    if !volume.labels.is_empty() {
        json.field("labels", string_map(&volume.labels));
    }
    sha256(&json.close())
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The compose-go JSON of a service, fields in `ServiceConfig` order.
fn service_json(s: &Service) -> Result<String, DriverError> {
    let mut json = Obj::new();
    if !s.cap_add.is_empty() {
        json.field("cap_add", strings(&s.cap_add));
    }
    if !s.cap_drop.is_empty() {
        json.field("cap_drop", strings(&s.cap_drop));
    }
    json.field("command", nullable_strings(s.command.as_deref()));
    if let Some(deploy) = &s.deploy {
        json.field("deploy", deploy_json(deploy)?);
    }
    json.field("entrypoint", nullable_strings(s.entrypoint.as_deref()));
    if !s.environment.is_empty() {
        json.field("environment", environment_json(s));
    }
    if !s.expose.is_empty() {
        json.field("expose", strings(&s.expose));
    }
    if let Some(health) = &s.healthcheck {
        json.field("healthcheck", healthcheck_json(health));
    }
    json.field("image", string(&s.image));
    if !s.labels.is_empty() {
        json.field("labels", string_map(&s.labels));
    }
    json.field("networks", networks_json(s));
    if !s.ports.is_empty() {
        json.field("ports", ports_json(s));
    }
    if s.read_only {
        json.field("read_only", "true".to_string());
    }
    if let Some(restart) = &s.restart {
        json.field("restart", string(restart));
    }
    if !s.security_opt.is_empty() {
        json.field("security_opt", strings(&s.security_opt));
    }
    if !s.tmpfs.is_empty() {
        json.field("tmpfs", strings(&s.tmpfs));
    }
    if let Some(user) = &s.user {
        json.field("user", string(user));
    }
    if !s.volumes.is_empty() {
        json.field("volumes", volumes_json(s));
    }
    Ok(json.close())
}

/// `environment`, sorted by key as compose-go's map marshals.
fn environment_json(s: &Service) -> String {
    let mut env: Vec<&(String, String)> = s.environment.0.iter().collect();
    env.sort_by(|a, b| a.0.cmp(&b.0));
    let mut obj = Obj::new();
    for (key, value) in env {
        obj.field(key, string(value));
    }
    obj.close()
}

/// `healthcheck`, durations spelled as Go spells them.
fn healthcheck_json(health: &Healthcheck) -> String {
    let mut obj = Obj::new();
    obj.field("test", strings(&health.test));
    obj.field("timeout", string(&go_duration(health.timeout.0.into())));
    obj.field("interval", string(&go_duration(health.interval.0.into())));
    obj.field("retries", health.retries.to_string());
    obj.field(
        "start_period",
        string(&go_duration(health.start_period.0.into())),
    );
    if let Some(start_interval) = health.start_interval {
        obj.field(
            "start_interval",
            string(&go_duration(start_interval.0.into())),
        );
    }
    obj.close()
}

/// `networks`: the service's, sorted, or the project's default network.
fn networks_json(s: &Service) -> String {
    let mut networks = Obj::new();
    if s.networks.is_empty() {
        networks.field(super::labels::DEFAULT_NETWORK, "null".to_string());
    } else {
        let mut sorted: Vec<&String> = s.networks.iter().collect();
        sorted.sort();
        for network in sorted {
            networks.field(network, "null".to_string());
        }
    }
    networks.close()
}

/// `ports` in compose-go's long form.
fn ports_json(s: &Service) -> String {
    let ports: Vec<String> = s
        .ports
        .iter()
        .map(|port| {
            let mut obj = Obj::new();
            obj.field("mode", string("ingress"));
            obj.field("host_ip", string(&port.host_ip));
            obj.field("target", port.container.to_string());
            obj.field("published", string(&port.host.to_string()));
            obj.field("protocol", string("tcp"));
            obj.close()
        })
        .collect();
    format!("[{}]", ports.join(","))
}

/// `volumes` in compose-go's long form.
fn volumes_json(s: &Service) -> String {
    let mounts: Vec<String> = s
        .volumes
        .iter()
        .map(|v| {
            let mut obj = Obj::new();
            obj.field("type", string(&v.kind));
            obj.field("source", string(&v.source));
            obj.field("target", string(&v.target));
            if v.read_only {
                obj.field("read_only", "true".to_string());
            }
            obj.close()
        })
        .collect();
    format!("[{}]", mounts.join(","))
}

fn deploy_json(deploy: &devstack_render_compose::model::Deploy) -> Result<String, DriverError> {
    let resources = &deploy.resources;
    let mut limits = Obj::new();
    cpus_memory(&mut limits, resources.limits.cpus, resources.limits.memory);
    let mut reservations = Obj::new();
    cpus_memory(
        &mut reservations,
        resources.reservations.cpus,
        resources.reservations.memory,
    );
    if !resources.reservations.devices.is_empty() {
        let devices: Vec<String> = resources
            .reservations
            .devices
            .iter()
            .map(|d| {
                let mut obj = Obj::new();
                obj.field("capabilities", strings(&d.capabilities));
                obj.field("driver", string(&d.driver));
                obj.field("count", d.count.to_string());
                obj.close()
            })
            .collect();
        reservations.field("devices", format!("[{}]", devices.join(",")));
    }
    let mut res = Obj::new();
    res.field("limits", limits.close());
    res.field("reservations", reservations.close());
    let mut obj = Obj::new();
    obj.field("resources", res.close());
    obj.field("placement", "{}".to_string());
    Ok(obj.close())
}

/// `cpus` as a Go float32 and `memory` as Compose's quoted byte count, both left out at zero
/// (`omitempty`).
fn cpus_memory(obj: &mut Obj, cpus: Cpus, memory: Memory) {
    let cpus = cpus.as_f32();
    if cpus != 0.0 {
        // Rust's shortest round-trip spelling of an f32 is Go's `strconv` 'f', -1, 32.
        obj.field("cpus", format!("{cpus}"));
    }
    if memory.0 != 0 {
        obj.field("memory", string(&memory.0.to_string()));
    }
}

/// Go's `time.Duration.String()` for whole seconds: `0s`, `5s`, `1m30s`, `1h0m0s`.
pub fn go_duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

/// A JSON object written field by field, in the caller's order.
struct Obj(String);

impl Obj {
    fn new() -> Self {
        Obj(String::from("{"))
    }

    fn field(&mut self, key: &str, value: String) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        self.0.push_str(&string(key));
        self.0.push(':');
        self.0.push_str(&value);
    }

    fn close(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

fn strings(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|i| string(i)).collect();
    format!("[{}]", items.join(","))
}

fn nullable_strings(items: Option<&[String]>) -> String {
    items.map_or_else(|| "null".to_string(), strings)
}

fn string_map(map: &std::collections::BTreeMap<String, String>) -> String {
    let mut obj = Obj::new();
    for (key, value) in map {
        obj.field(key, string(value));
    }
    obj.close()
}

/// A JSON string escaped as Go's `encoding/json` does (HTML-safe: `<`, `>`, `&`, U+2028 and
/// U+2029 as `\u` escapes).
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn durations_are_spelled_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(5), "5s");
        assert_eq!(go_duration(90), "1m30s");
        assert_eq!(go_duration(3600), "1h0m0s");
    }

    #[test]
    fn strings_are_escaped_like_go() {
        assert_eq!(string("1<&>\"\\\n"), r#""1\u003c\u0026\u003e\"\\\n""#);
    }

    // Reference values printed by Docker Compose 2.40.3 for the same objects.
    #[test]
    fn network_and_volume_hashes_match_compose() {
        let labels = BTreeMap::from([("devstack.dev/stack".to_string(), "drv-probe2".to_string())]);
        assert_eq!(
            network_hash(
                "drv-probe2_n1",
                &Network {
                    labels: labels.clone()
                }
            ),
            "a667cd1de742e593a6900673db94d6a4ff0270986e2526f68d6486789b4940e2"
        );
        // The default network of an `open` stack (Compose keeps it: same hash).
        assert_eq!(
            network_hash("drv-open_default", &Network::default()),
            "9efe08174d64d0f0f2d9bbe20457eae4f3f200ca01783c564a32422b45394338"
        );
        assert_eq!(
            volume_hash("drv-probe2_v1", &Volume { labels }),
            "aa3627161ab5c42e10f8e9ec2f14e42c133167279d963279816f6a7569ea18da"
        );
    }
}

#[cfg(test)]
mod bind_tests {
    use super::*;
    use devstack_render_compose::model::VolumeMount;

    #[test]
    fn a_read_only_bind_mount_hashes_like_compose() {
        // `docker compose config --hash app` (v2.40.3) of a service with only an image and
        // `volumes: [{type: bind, source: ./files/a, target: /etc/a, read_only: true}]` in
        // /tmp/files-hash.
        let service = Service {
            image: "devstack-local/postgres:18".into(),
            volumes: vec![VolumeMount {
                kind: "bind".into(),
                source: "/tmp/files-hash/files/a".into(),
                target: "/etc/a".into(),
                read_only: true,
            }],
            ..Service::default()
        };
        assert_eq!(
            service_hash(&service).unwrap(),
            "af866eeda81b82fcea6f286cced55d4895f2d68a8b26ce84e96079b4c2ed46dd"
        );
    }
}
