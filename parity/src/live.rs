//! Live parity: the containers a stack runs on the engine (started by `devstack up` or by
//! `docker compose up`), read back through the Engine API, against the compose rendering of
//! the same plan — aspect by aspect in the normalized form of [`super`].
//!
//! The running containers are written back as a compose document (what a `docker compose
//! config` of them would say) and read with the same reader as the rendering, so both sides
//! go through one normalization. Values the image supplies by itself (its entrypoint, command,
//! environment and exposed ports) are left out unless the rendering sets them too.

use std::collections::{BTreeMap, BTreeSet};

use bollard::models::{ContainerConfig, ContainerInspectResponse, HostConfig, ImageConfig};
use bollard::query_parameters::ListVolumesOptionsBuilder;
use devstack_core::plan::StackPlan;
use devstack_docker::ops::project_containers;
use devstack_docker::{labels, Engine};
use devstack_render_compose::spelling as units;
use serde_json::{json, Map, Value};

use super::{compose, replace_secret_values, secret_markers, Normalized, ParityError, Report};

fn err(message: impl Into<String>) -> ParityError {
    ParityError::ReadBack {
        mode: "running containers",
        message: message.into(),
    }
}

/// Compares the running containers of `plan` with its compose rendering; `secrets` are the
/// `.env` values (recognized in the containers' environment and compared as markers).
pub async fn check(
    engine: &Engine,
    plan: &StackPlan,
    secrets: &BTreeMap<String, String>,
) -> Result<Report, ParityError> {
    let markers = secret_markers(plan);
    let yaml = devstack_render_compose::render(plan)?;
    let env = devstack_render_compose::env_file(plan, &markers)?;
    let rendered_doc: Value =
        devstack_core::yaml::from_str(&yaml).map_err(|e| err(e.to_string()))?;
    let rendered = compose::read_back(&yaml, &env)?;
    let live_doc = read_live(engine, plan, secrets, &rendered_doc).await?;
    let live_yaml = devstack_core::yaml::to_string(&live_doc).map_err(|e| err(e.to_string()))?;
    let live = compose::read_back(&live_yaml, "COMPOSE_PROFILES=\n")?;
    Ok(compare(&plan.name, &rendered, &live))
}

/// The running containers of `plan` as a compose document.
async fn read_live(
    engine: &Engine,
    plan: &StackPlan,
    secrets: &BTreeMap<String, String>,
    rendered: &Value,
) -> Result<Value, ParityError> {
    let docker = &engine.docker;
    let project = plan.name.as_str();
    let containers = project_containers(docker, project)
        .await
        .map_err(|e| err(e.to_string()))?;
    let mut services = Map::new();
    let mut replicas: BTreeMap<String, u64> = BTreeMap::new();
    for c in &containers {
        *replicas.entry(c.service.clone()).or_default() += 1;
        if services.contains_key(&c.service) {
            continue;
        }
        let inspect = docker
            .inspect_container(&c.id, None)
            .await
            .map_err(|e| err(format!("inspecting {}: {e}", c.name)))?;
        let image = docker
            .inspect_image(&c.image_id)
            .await
            .map_err(|e| err(format!("inspecting the image of {}: {e}", c.name)))?
            .config
            .unwrap_or_default();
        let want = rendered
            .get("services")
            .and_then(|s| s.get(&c.service))
            .cloned()
            .unwrap_or(Value::Null);
        let mut service = service_doc(project, &inspect, &image, &want, secrets);
        let (binds, hash) = super::live_files::read(docker, &inspect, &c.service).await?;
        if let Some(s) = service.as_object_mut() {
            if let Some(volumes) = s.get_mut("volumes").and_then(Value::as_array_mut) {
                volumes.extend(binds);
            }
            if let Some(hash) = hash {
                s.insert(
                    "labels".into(),
                    json!({ devstack_core::conventions::ANNOTATION_FILES_HASH: hash }),
                );
            }
        }
        services.insert(c.service.clone(), service);
    }
    for (name, count) in replicas {
        if count != 1 {
            if let Some(s) = services.get_mut(&name).and_then(Value::as_object_mut) {
                s.entry("deploy")
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|d| d.insert("replicas".into(), json!(count)));
            }
        }
    }
    let options = ListVolumesOptionsBuilder::new()
        .filters(&labels::project_filter(project))
        .build();
    let volumes = docker
        .list_volumes(Some(options))
        .await
        .map_err(|e| err(format!("listing volumes: {e}")))?;
    let mut top_volumes = Map::new();
    for volume in volumes.volumes.unwrap_or_default() {
        let key = volume
            .labels
            .get(labels::VOLUME)
            .cloned()
            .unwrap_or_default();
        top_volumes.insert(key, json!({ "labels": volume.labels }));
    }
    Ok(json!({ "name": project, "services": services, "volumes": top_volumes }))
}

/// Compose escaping of a running value: `$` doubled, secret values as interpolations.
fn escape(value: &str, secrets: &BTreeMap<String, String>) -> String {
    replace_secret_values(&value.replace('$', "$$"), secrets, |id| {
        format!("${{{id}}}")
    })
}

fn service_doc(
    project: &str,
    inspect: &ContainerInspectResponse,
    image: &ImageConfig,
    want: &Value,
    secrets: &BTreeMap<String, String>,
) -> Value {
    let config = inspect.config.clone().unwrap_or_default();
    let host = inspect.host_config.clone().unwrap_or_default();
    let esc = |v: &str| escape(v, secrets);
    let mut s = Map::new();
    process_doc(&mut s, &config, image, want, &esc);
    ports_doc(&mut s, &config, &host, image, want);
    health_doc(&mut s, &config, &esc);
    deploy_doc(&mut s, &config, &host);
    s.insert("volumes".into(), json!(volumes_doc(project, inspect)));
    security_doc(&mut s, &config, &host);
    let networks: Vec<String> = inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .into_iter()
        .flatten()
        .map(|(n, _)| {
            n.strip_prefix(&format!("{project}_"))
                .unwrap_or(n)
                .to_string()
        })
        .collect();
    s.insert("networks".into(), json!(networks));
    Value::Object(s)
}

/// Image, entrypoint, command and environment; the image's own values count only where the
/// rendering names them too.
fn process_doc(
    s: &mut Map<String, Value>,
    config: &ContainerConfig,
    image: &ImageConfig,
    want: &Value,
    esc: &dyn Fn(&str) -> String,
) {
    let config = config.clone();
    s.insert("image".into(), json!(config.image.unwrap_or_default()));
    // The image's own entrypoint/command count only when the rendering names one too.
    for (key, live, default) in [
        ("entrypoint", &config.entrypoint, &image.entrypoint),
        ("command", &config.cmd, &image.cmd),
    ] {
        if want.get(key).is_some() || live != default {
            if let Some(argv) = live {
                let argv: Vec<String> = argv.iter().map(|a| esc(a)).collect();
                s.insert(key.into(), json!(argv));
            }
        }
    }
    let image_env: BTreeSet<&String> = image.env.iter().flatten().collect();
    let mut env = Map::new();
    for entry in config.env.iter().flatten() {
        let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
        let rendered = want.get("environment").and_then(|e| e.get(key)).is_some();
        if rendered || !image_env.contains(entry) {
            env.insert(key.into(), json!(esc(value)));
        }
    }
    s.insert("environment".into(), Value::Object(env));
}

/// `expose` (beyond the image's own) and the published `ports`.
fn ports_doc(
    s: &mut Map<String, Value>,
    config: &ContainerConfig,
    host: &HostConfig,
    image: &ImageConfig,
    want: &Value,
) {
    let image_ports: BTreeSet<&String> = image.exposed_ports.iter().flatten().collect();
    let rendered_ports: Vec<String> = want
        .get("expose")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(|p| format!("{p}/tcp")))
        .collect();
    let expose: Vec<String> = config
        .exposed_ports
        .iter()
        .flatten()
        .filter(|p| rendered_ports.contains(p) || !image_ports.contains(p))
        .map(|p| p.trim_end_matches("/tcp").to_string())
        .collect();
    s.insert("expose".into(), json!(expose));
    let mut ports = Vec::new();
    for (container, bindings) in host.port_bindings.iter().flatten() {
        for b in bindings.iter().flatten() {
            ports.push(format!(
                "{}:{}:{}",
                b.host_ip.clone().unwrap_or_default(),
                b.host_port.clone().unwrap_or_default(),
                container.trim_end_matches("/tcp")
            ));
        }
    }
    s.insert("ports".into(), json!(ports));
}

fn health_doc(s: &mut Map<String, Value>, config: &ContainerConfig, esc: &dyn Fn(&str) -> String) {
    if let Some(h) = config.healthcheck.as_ref().filter(|h| h.test.is_some()) {
        let secs = |ns: Option<i64>| format!("{}s", ns.unwrap_or(0) / 1_000_000_000);
        let test: Vec<String> = h.test.iter().flatten().map(|t| esc(t)).collect();
        s.insert(
            "healthcheck".into(),
            json!({"test": test, "interval": secs(h.interval), "timeout": secs(h.timeout),
                   "retries": h.retries.unwrap_or(0), "start_period": secs(h.start_period)}),
        );
    }
}

/// `depends_on` (from devstack's label) and `deploy.resources`.
fn deploy_doc(s: &mut Map<String, Value>, config: &ContainerConfig, host: &HostConfig) {
    let labels = config.labels.clone().unwrap_or_default();
    let depends_on: Vec<String> = labels
        .get(labels::DEPENDS_ON)
        .map(|d| {
            d.split(',')
                .filter(|e| !e.is_empty())
                .filter_map(|e| e.split(':').next().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    s.insert("depends_on".into(), json!(depends_on));
    let millis =
        |nano: Option<i64>| units::cpus(u64::try_from(nano.unwrap_or(0) / 1_000_000).unwrap_or(0));
    let devices: Vec<Value> = host
        .device_requests
        .iter()
        .flatten()
        .map(|d| json!({ "count": d.count.unwrap_or(0) }))
        .collect();
    s.insert(
        "deploy".into(),
        json!({"resources": {
            "limits": {"cpus": millis(host.nano_cpus), "memory": host.memory.unwrap_or(0).to_string()},
            "reservations": {"memory": host.memory_reservation.unwrap_or(0).to_string(), "devices": devices},
        }}),
    );
}

/// Bind mounts (the service's files aside) and the project's named volumes.
fn volumes_doc(project: &str, inspect: &ContainerInspectResponse) -> Vec<Value> {
    let service_name = inspect
        .config
        .as_ref()
        .and_then(|c| c.labels.as_ref())
        .and_then(|l| l.get("com.docker.compose.service"))
        .cloned()
        .unwrap_or_default();
    let volumes: Vec<Value> = inspect
        .mounts
        .iter()
        .flatten()
        // Anonymous volumes of the image's VOLUME lines are the image's own, not the stack's.
        .filter_map(|m| {
            if m.typ.as_ref().map(ToString::to_string).as_deref() == Some("bind") {
                // The service's files are read (with their bytes) by `live_files`.
                if crate::files::is_file_source(m.source.as_deref()?, &service_name) {
                    return None;
                }
                let read_only = m.rw == Some(false);
                return Some(json!({"type": "bind", "source": m.source.as_deref()?,
                    "target": m.destination.as_deref()?, "read_only": read_only}));
            }
            let key = m.name.as_deref()?.strip_prefix(&format!("{project}_"))?;
            Some(json!({"type": "volume", "source": key, "target": m.destination.as_deref()?}))
        })
        .collect();
    volumes
}

/// tmpfs, user, capabilities, security options and the read-only root.
fn security_doc(s: &mut Map<String, Value>, config: &ContainerConfig, host: &HostConfig) {
    let (config, host) = (config.clone(), host.clone());
    let tmpfs: Vec<&String> = host.tmpfs.iter().flatten().map(|(k, _)| k).collect();
    s.insert("tmpfs".into(), json!(tmpfs));
    if let Some(user) = config.user.filter(|u| !u.is_empty()) {
        s.insert("user".into(), json!(user));
    }
    let caps = |list: &Option<Vec<String>>| -> Vec<String> {
        list.iter()
            .flatten()
            .map(|c| c.trim_start_matches("CAP_").to_string())
            .collect()
    };
    s.insert("cap_drop".into(), json!(caps(&host.cap_drop)));
    s.insert("cap_add".into(), json!(caps(&host.cap_add)));
    s.insert(
        "security_opt".into(),
        json!(host.security_opt.unwrap_or_default()),
    );
    s.insert(
        "read_only".into(),
        json!(host.readonly_rootfs.unwrap_or(false)),
    );
}

/// The comparison: `Same` or `Mismatch` per aspect; the CPU reservation, which Docker cannot
/// hold (Compose drops it as well), is noted by design.
fn compare(stack: &str, rendered: &Normalized, live: &Normalized) -> Report {
    let mut rendered = rendered.clone();
    let mut cpu_reserved = BTreeSet::new();
    for (name, service) in &mut rendered.services {
        if service.requests[0] > 0 {
            cpu_reserved.insert(name.clone());
        }
        service.requests[0] = 0;
    }
    let mut report = super::compare(stack, &rendered, live, &BTreeSet::new());
    super::as_live_check(&mut report, "running", |row| {
        (row.aspect == "resources" && cpu_reserved.contains(&row.service)).then(|| {
            "Docker has no CPU reservation (Compose drops reservations.cpus too)".to_string()
        })
    });
    report
}
