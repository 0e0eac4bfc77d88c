//! Reading the Kubernetes rendering back into the normalized form.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::health::CheckForm;
use devstack_core::conventions::{
    k8s_host, kubelet, ANNOTATION_DEPENDS_ON, GPU_RESOURCE, LABEL_SERVICE, LABEL_STACK,
};
use devstack_core::plan::StackPlan;
use devstack_core::quantity;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVar, PodSpec, Probe, Secret, Service};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{cpu, pair, start_grace, startup_window, NormService, Normalized, ParityError};

fn err(message: impl Into<String>) -> ParityError {
    ParityError::ReadBack {
        mode: "kubernetes",
        message: message.into(),
    }
}

#[derive(Default)]
struct Objects {
    secrets: BTreeMap<String, Secret>,
    config_maps: BTreeMap<String, ConfigMap>,
    /// By the service they front (its label): the ClusterIP one, and the NodePort one.
    services: BTreeMap<String, Vec<Service>>,
    policies: Vec<NetworkPolicy>,
    workloads: Vec<Workload>,
}

struct Workload {
    service: String,
    replicas: u32,
    depends_on: BTreeSet<String>,
    pod: PodSpec,
    claims: BTreeMap<String, u64>,
}

fn parse(stream: &str) -> Result<Objects, ParityError> {
    let mut objects = Objects::default();
    for value in devstack_core::yaml::documents(stream).map_err(|source| ParityError::ReadYaml {
        mode: "kubernetes",
        source,
    })? {
        if value.is_null() {
            continue;
        }
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string();
        let typed = |source: serde_json::Error| ParityError::ReadObject {
            kind: kind.to_string(),
            source,
        };
        match kind.as_str() {
            "Secret" => {
                let s: Secret = serde_json::from_value(value).map_err(typed)?;
                objects
                    .secrets
                    .insert(s.metadata.name.clone().unwrap_or_default(), s);
            }
            "ConfigMap" => {
                let c: ConfigMap = serde_json::from_value(value).map_err(typed)?;
                objects
                    .config_maps
                    .insert(c.metadata.name.clone().unwrap_or_default(), c);
            }
            "Service" => {
                let s: Service = serde_json::from_value(value).map_err(typed)?;
                let service = service_label(&s.metadata.labels).unwrap_or_default();
                objects.services.entry(service).or_default().push(s);
            }
            "NetworkPolicy" => objects
                .policies
                .push(serde_json::from_value(value).map_err(typed)?),
            "Deployment" => {
                let d: Deployment = serde_json::from_value(value).map_err(typed)?;
                let spec = d.spec;
                objects.workloads.push(Workload {
                    service: service_label(&d.metadata.labels)?,
                    replicas: spec.replicas.unwrap_or(1).max(0) as u32,
                    depends_on: depends_on(&d.metadata.annotations),
                    pod: spec
                        .template
                        .spec
                        .ok_or_else(|| err("Deployment without pod spec"))?,
                    claims: BTreeMap::new(),
                });
            }
            "StatefulSet" => {
                let s: StatefulSet = serde_json::from_value(value).map_err(typed)?;
                let spec = s.spec;
                let mut claims = BTreeMap::new();
                for claim in spec.volume_claim_templates.iter().flatten() {
                    let size = claim
                        .spec
                        .as_ref()
                        .and_then(|s| s.resources.as_ref())
                        .and_then(|r| r.requests.as_ref())
                        .and_then(|r| r.get("storage"))
                        .and_then(|q| quantity::bytes(&q.0).ok())
                        .unwrap_or(0);
                    claims.insert(claim.metadata.name.clone().unwrap_or_default(), size);
                }
                objects.workloads.push(Workload {
                    service: service_label(&s.metadata.labels)?,
                    replicas: spec.replicas.unwrap_or(1).max(0) as u32,
                    depends_on: depends_on(&s.metadata.annotations),
                    pod: spec
                        .template
                        .spec
                        .ok_or_else(|| err("StatefulSet without pod spec"))?,
                    claims,
                });
            }
            other => return Err(err(format!("unexpected kind {other:?}"))),
        }
    }
    Ok(objects)
}

fn service_label(labels: &Option<BTreeMap<String, String>>) -> Result<String, ParityError> {
    labels
        .as_ref()
        .and_then(|l| l.get(LABEL_SERVICE))
        .cloned()
        .ok_or_else(|| err(format!("workload without {LABEL_SERVICE} label")))
}

fn depends_on(annotations: &Option<BTreeMap<String, String>>) -> BTreeSet<String> {
    annotations
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_DEPENDS_ON))
        .map(|v| {
            v.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn secret_data(secret: Option<&Secret>) -> BTreeMap<String, String> {
    let Some(secret) = secret else {
        return BTreeMap::new();
    };
    let mut data: BTreeMap<String, String> = secret.string_data.clone().unwrap_or_default();
    for (k, v) in secret.data.iter().flatten() {
        data.insert(k.clone(), String::from_utf8_lossy(&v.0).into_owned());
    }
    data
}

/// Replaces `$(KEY)` references to secret-carrying env vars by the secret marker, unescapes
/// `$$`, and shortens in-cluster host names.
struct Canon<'a> {
    secret_vars: BTreeMap<String, String>,
    hosts: &'a [(String, String)],
    rewrites: usize,
}

impl Canon<'_> {
    fn text(&mut self, value: &str) -> String {
        // The kubelet turns `$$` into `$` and expands `$(VAR)` of earlier variables.
        let out = kubelet::expand(value, |name| self.secret_vars.get(name).cloned());
        let mut shortened = out.clone();
        for (long, short) in self.hosts {
            shortened = shortened.replace(long.as_str(), short);
        }
        if shortened != out {
            self.rewrites += 1;
        }
        shortened
    }
}

fn probe_description(probe: &Probe, container: &Container) -> String {
    let port_number = |port: &IntOrString| -> Result<u16, String> {
        match port {
            IntOrString::Int(n) => u16::try_from(*n).map_err(|_| n.to_string()),
            IntOrString::String(name) => container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| format!("?{name}")),
        }
    };
    let form = if let Some(exec) = &probe.exec {
        Ok(CheckForm::Exec(exec.command.clone().unwrap_or_default()))
    } else if let Some(http) = &probe.http_get {
        port_number(&http.port).map(|port| CheckForm::Http {
            path: http.path.clone().unwrap_or_default(),
            port,
        })
    } else if let Some(tcp) = &probe.tcp_socket {
        port_number(&tcp.port).map(|port| CheckForm::Tcp { port })
    } else {
        return "unknown probe".to_string();
    };
    match form {
        Ok(form) => form.to_string(),
        Err(port) => format!("probe on unknown port {port}"),
    }
}

fn env_value(
    var: &EnvVar,
    credentials: &str,
    connections: &BTreeMap<String, String>,
    conn_name: &str,
) -> Option<(String, bool)> {
    if let Some(value) = &var.value {
        return Some((value.clone(), false));
    }
    let key_ref = var.value_from.as_ref()?.secret_key_ref.as_ref()?;
    if key_ref.name == credentials {
        Some((super::secret_marker(&key_ref.key), true))
    } else if key_ref.name == conn_name {
        connections.get(&key_ref.key).map(|v| (v.clone(), false))
    } else {
        None
    }
}

/// Reads the YAML stream of the Kubernetes renderer (rendered with secret markers).
pub fn read_back(stream: &str, plan: &StackPlan) -> Result<Normalized, ParityError> {
    let objects = parse(stream)?;
    let hosts: Vec<(String, String)> = plan
        .services
        .keys()
        .map(|s| (k8s_host(s, plan.dns_namespace()), s.clone()))
        .collect();
    let credentials = plan.credentials_secret_name();
    let conn_name = plan.connections_secret_name();
    let connections = secret_data(objects.secrets.get(&conn_name));
    let mut normalized = Normalized::default();
    for workload in &objects.workloads {
        let container = workload
            .pod
            .containers
            .first()
            .ok_or_else(|| err(format!("{}: pod without containers", workload.service)))?;
        let mut norm = NormService {
            image: container.image.clone().unwrap_or_default(),
            replicas: workload.replicas,
            depends_on: workload.depends_on.clone(),
            ..NormService::default()
        };
        let mut secret_vars = BTreeMap::new();
        let mut raw_env = Vec::new();
        for var in container.env.iter().flatten() {
            let (value, is_secret) = env_value(var, &credentials, &connections, &conn_name)
                .ok_or_else(|| {
                    err(format!(
                        "{}: env {} has an unknown source",
                        workload.service, var.name
                    ))
                })?;
            if is_secret {
                secret_vars.insert(var.name.clone(), value.clone());
            }
            raw_env.push((var.name.clone(), value, is_secret));
        }
        let mut canon = Canon {
            secret_vars,
            hosts: &hosts,
            rewrites: 0,
        };
        for (key, value, is_secret) in raw_env {
            let value = if is_secret { value } else { canon.text(&value) };
            norm.env.insert(key, value);
        }
        norm.command = container
            .command
            .as_ref()
            .map(|c| c.iter().map(|s| canon.text(s)).collect());
        norm.args = container
            .args
            .as_ref()
            .map(|c| c.iter().map(|s| canon.text(s)).collect());
        norm.dns_rewrites = canon.rewrites;
        norm.mark_secret_env();
        norm.ports = container
            .ports
            .iter()
            .flatten()
            .map(|p| p.container_port as u16)
            .collect();
        let fronts = objects.services.get(&workload.service);
        for service in fronts.into_iter().flatten() {
            for port in service.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
                let Some(node_port) = port.node_port else {
                    continue;
                };
                let target = match &port.target_port {
                    Some(IntOrString::Int(n)) => Some(*n),
                    Some(IntOrString::String(name)) => container
                        .ports
                        .iter()
                        .flatten()
                        .find(|p| p.name.as_deref() == Some(name.as_str()))
                        .map(|p| p.container_port),
                    None => Some(port.port),
                };
                if let Some(target) = target {
                    // The node port reads back as the host port it was planned for.
                    let host = plan
                        .services
                        .get(&workload.service)
                        .and_then(|s| {
                            s.ports
                                .iter()
                                .find(|p| i32::from(p.container_port) == target)
                        })
                        .filter(|p| p.node_port.map(i32::from) == Some(node_port))
                        .and_then(|p| p.host_port)
                        .map_or(node_port, i32::from);
                    norm.host_ports.insert(target as u16, host as u16);
                }
            }
        }
        if let Some(ready) = &container.readiness_probe {
            norm.health = Some(probe_description(ready, container));
            let interval = ready.period_seconds.unwrap_or(10) as u32;
            let retries = ready.failure_threshold.unwrap_or(3) as u32;
            let window = startup_window(container.startup_probe.as_ref(), retries, interval);
            let grace = window.saturating_sub(retries * interval);
            norm.health_timing = Some([
                interval,
                ready.timeout_seconds.unwrap_or(1) as u32,
                retries,
                start_grace(grace, interval),
            ]);
        }
        if let Some(resources) = &container.resources {
            let amount = |map: &Option<
                BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
            >| {
                let cpu_millis = map
                    .as_ref()
                    .and_then(|m| m.get("cpu"))
                    .and_then(|q| cpu(&q.0))
                    .unwrap_or(0);
                let memory = map
                    .as_ref()
                    .and_then(|m| m.get("memory"))
                    .and_then(|q| quantity::bytes(&q.0).ok())
                    .unwrap_or(0);
                [cpu_millis, memory]
            };
            norm.requests = amount(&resources.requests);
            norm.limits = amount(&resources.limits);
            norm.gpu = resources
                .limits
                .as_ref()
                .and_then(|m| m.get(GPU_RESOURCE))
                .and_then(|q| q.0.parse().ok())
                .unwrap_or(0);
        }
        let empty_dirs: BTreeSet<String> = workload
            .pod
            .volumes
            .iter()
            .flatten()
            .filter(|v| v.empty_dir.is_some())
            .map(|v| v.name.clone())
            .collect();
        for mount in container.volume_mounts.iter().flatten() {
            if let Some(size) = workload.claims.get(&mount.name) {
                norm.volumes.insert(mount.mount_path.clone(), *size);
            } else if empty_dirs.contains(&mount.name) {
                norm.writable_paths.insert(mount.mount_path.clone());
            }
        }
        (norm.files, norm.files_hash) =
            crate::files::k8s(&workload.pod, container, &objects.config_maps);
        let pod_sc = workload.pod.security_context.as_ref();
        if let Some(uid) = pod_sc.and_then(|s| s.run_as_user) {
            let gid = pod_sc.and_then(|s| s.run_as_group).unwrap_or(uid);
            norm.user = Some(format!("{uid}:{gid}"));
        }
        if let Some(sc) = &container.security_context {
            if let Some(caps) = &sc.capabilities {
                norm.cap_drop = caps.drop.iter().flatten().cloned().collect();
                norm.cap_add = caps.add.iter().flatten().cloned().collect();
            }
            norm.no_new_privileges = sc.allow_privilege_escalation == Some(false);
            norm.read_only_root = sc.read_only_root_filesystem == Some(true);
        }
        normalized.services.insert(workload.service.clone(), norm);
    }
    normalized.reachability = reachability(&objects, &normalized, &plan.name);
    Ok(normalized)
}

fn reachability(
    objects: &Objects,
    normalized: &Normalized,
    stack: &str,
) -> BTreeSet<(String, String)> {
    // A policy without policyTypes is an Ingress policy (plus Egress when it has egress rules).
    let types = |spec: &NetworkPolicySpec| {
        spec.policy_types.clone().unwrap_or_else(|| {
            let mut t = vec!["Ingress".to_string()];
            if spec.egress.is_some() {
                t.push("Egress".to_string());
            }
            t
        })
    };
    let denies = |kind: &str| {
        objects
            .policies
            .iter()
            .filter_map(|p| p.spec.as_ref())
            .any(|spec| {
                let selects_stack = spec
                    .pod_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.as_ref())
                    .is_some_and(|l| {
                        l.get(LABEL_STACK).map(String::as_str) == Some(stack)
                            && !l.contains_key(LABEL_SERVICE)
                    });
                let no_rules = if kind == "Ingress" {
                    spec.ingress.as_ref().is_none_or(|i| i.is_empty())
                } else {
                    spec.egress.as_ref().is_none_or(|e| e.is_empty())
                };
                selects_stack && no_rules && types(spec).iter().any(|t| t == kind)
            })
    };
    // Directed (from, to) edges the ingress and the egress rules allow.
    let mut ingress = BTreeSet::new();
    let mut egress = BTreeSet::new();
    for spec in objects.policies.iter().filter_map(|p| p.spec.as_ref()) {
        let target = spec
            .pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .and_then(|l| l.get(LABEL_SERVICE));
        let Some(target) = target else { continue };
        let froms = spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| r.from.iter().flatten());
        for source in froms.flat_map(peer_services) {
            ingress.insert((source, target.clone()));
        }
        let tos = spec
            .egress
            .iter()
            .flatten()
            .flat_map(|r| r.to.iter().flatten());
        for destination in tos.flat_map(peer_services) {
            egress.insert((target.clone(), destination));
        }
    }
    let (deny_in, deny_out) = (denies("Ingress"), denies("Egress"));
    let allowed = |from: &String, to: &String| {
        let edge = (from.clone(), to.clone());
        (!deny_in || ingress.contains(&edge)) && (!deny_out || egress.contains(&edge))
    };
    let active: Vec<&String> = normalized.services.keys().collect();
    let mut pairs = BTreeSet::new();
    for (i, a) in active.iter().enumerate() {
        for b in &active[i + 1..] {
            if allowed(a, b) || allowed(b, a) {
                pairs.insert(pair(a, b));
            }
        }
    }
    pairs
}

/// The services of the stack a policy peer selects by pod labels.
fn peer_services(peer: &NetworkPolicyPeer) -> Vec<String> {
    let Some(selector) = &peer.pod_selector else {
        return Vec::new();
    };
    let mut services: Vec<String> = selector
        .match_expressions
        .iter()
        .flatten()
        .filter(|e| e.key == LABEL_SERVICE && e.operator == "In")
        .flat_map(|e| e.values.iter().flatten().cloned())
        .collect();
    services.extend(
        selector
            .match_labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SERVICE))
            .cloned(),
    );
    services
}
