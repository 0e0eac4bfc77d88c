//! One Compose service read back: command, env, ports, health, resources, volumes, security.

use std::collections::{BTreeMap, BTreeSet};

use devstack_render_compose::spelling;
use serde_json::Value;

use super::{canon, err, health, scalar, seconds, strings};
use crate::{cpu, start_grace, NormService, ParityError};

/// The normalized form of Compose service `name`; `volume_sizes` by volume name.
pub(super) fn read(
    name: &str,
    service: &Value,
    volume_sizes: &BTreeMap<String, u64>,
) -> Result<NormService, ParityError> {
    let mut norm = NormService {
        image: service.get("image").map(scalar).unwrap_or_default(),
        command: strings(service.get("entrypoint")).map(|v| v.iter().map(|s| canon(s)).collect()),
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
    ports(name, service, &mut norm)?;
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
    deploy(service, &mut norm);
    volumes(name, service, volume_sizes, &mut norm);
    (norm.files, norm.files_hash) = crate::files::compose(service, name);
    security(service, &mut norm);
    Ok(norm)
}

/// `expose` and `ports` (`127.0.0.1:HOST:CONTAINER`).
fn ports(name: &str, service: &Value, norm: &mut NormService) -> Result<(), ParityError> {
    for port in strings(service.get("expose")).unwrap_or_default() {
        norm.ports.insert(
            port.parse()
                .map_err(|_| err(format!("{name}: expose {port:?}")))?,
        );
    }
    for spec in strings(service.get("ports")).unwrap_or_default() {
        let parts: Vec<&str> = spec.split(':').collect();
        if let [_, host, container] = parts.as_slice() {
            if let (Ok(h), Ok(c)) = (host.parse(), container.parse()) {
                norm.host_ports.insert(c, h);
                norm.ports.insert(c);
                continue;
            }
        }
        return Err(err(format!(
            "{name}: port {spec:?} is not 127.0.0.1:HOST:CONTAINER"
        )));
    }
    Ok(())
}

/// `deploy`: replicas, limits, reservations and GPU devices.
fn deploy(service: &Value, norm: &mut NormService) {
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
}

/// Bind mounts (host mounts), named volumes (with their size label) and tmpfs paths; the
/// files' bind mounts are read by [`crate::files::compose`].
fn volumes(
    name: &str,
    service: &Value,
    volume_sizes: &BTreeMap<String, u64>,
    norm: &mut NormService,
) {
    for volume in service
        .get("volumes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if crate::files::is_file_mount(volume, name) {
            continue;
        }
        if volume.get("type").map(scalar).as_deref() == Some("bind") {
            let target = volume.get("target").map(scalar).unwrap_or_default();
            let read_only = volume.get("read_only").and_then(Value::as_bool) == Some(true);
            norm.host_mounts
                .insert(target, if read_only { "ro" } else { "rw" }.to_string());
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
    norm.writable_paths = strings(service.get("tmpfs"))
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.split(':').next().unwrap_or_default().to_string())
        .collect();
}

/// User, capabilities, no-new-privileges and the read-only root.
fn security(service: &Value, norm: &mut NormService) {
    let set = |key: &str| -> BTreeSet<String> {
        strings(service.get(key))
            .unwrap_or_default()
            .into_iter()
            .collect()
    };
    norm.user = service.get("user").map(scalar);
    norm.cap_drop = set("cap_drop");
    norm.cap_add = set("cap_add");
    norm.no_new_privileges = set("security_opt")
        .iter()
        .any(|o| o == "no-new-privileges:true" || o == "no-new-privileges");
    norm.read_only_root = service
        .get("read_only")
        .and_then(Value::as_bool)
        .unwrap_or(false);
}
