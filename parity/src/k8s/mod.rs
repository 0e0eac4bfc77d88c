//! Reading the Kubernetes rendering back into the normalized form.

use std::collections::{BTreeMap, BTreeSet};

use devstack_core::conventions::health::CheckForm;
use devstack_core::conventions::{k8s_host, kubelet, ANNOTATION_DEPENDS_ON, LABEL_SERVICE};
use devstack_core::plan::StackPlan;
use devstack_core::quantity;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, EnvVar, PodSpec, PodTemplateSpec, Probe, Secret, Service,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{NormService, Normalized, ParityError};

mod container;
mod policy;

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
            "Deployment" => objects.workloads.push(deployment_workload(
                serde_json::from_value(value).map_err(typed)?,
            )?),
            "StatefulSet" => objects.workloads.push(stateful_set_workload(
                serde_json::from_value(value).map_err(typed)?,
            )?),
            other => return Err(err(format!("unexpected kind {other:?}"))),
        }
    }
    Ok(objects)
}

fn deployment_workload(d: Deployment) -> Result<Workload, ParityError> {
    let spec = d.spec;
    workload(
        "Deployment",
        d.metadata,
        spec.replicas,
        spec.template,
        BTreeMap::new(),
    )
}

fn stateful_set_workload(s: StatefulSet) -> Result<Workload, ParityError> {
    let spec = s.spec;
    let claims = spec
        .volume_claim_templates
        .iter()
        .flatten()
        .map(|claim| {
            let size = claim
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .and_then(|q| quantity::bytes(&q.0).ok())
                .unwrap_or(0);
            (claim.metadata.name.clone().unwrap_or_default(), size)
        })
        .collect();
    workload(
        "StatefulSet",
        s.metadata,
        spec.replicas,
        spec.template,
        claims,
    )
}

/// What a workload of either kind contributes: its service, replicas, dependencies and pod.
fn workload(
    kind: &str,
    metadata: ObjectMeta,
    replicas: Option<i32>,
    template: PodTemplateSpec,
    claims: BTreeMap<String, u64>,
) -> Result<Workload, ParityError> {
    Ok(Workload {
        service: service_label(&metadata.labels)?,
        replicas: replicas.unwrap_or(1).max(0) as u32,
        depends_on: depends_on(&metadata.annotations),
        pod: template
            .spec
            .ok_or_else(|| err(format!("{kind} without pod spec")))?,
        claims,
    })
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
        let fronts = objects
            .services
            .get(&workload.service)
            .into_iter()
            .flatten();
        norm.host_ports = container::host_ports(fronts, container, plan, &workload.service);
        container::health(container, &mut norm);
        container::resources(container, &mut norm);
        container::mounts(workload, container, &mut norm);
        (norm.files, norm.files_hash) =
            crate::files::k8s(&workload.pod, container, &objects.config_maps);
        container::security(&workload.pod, container, &mut norm);
        normalized.services.insert(workload.service.clone(), norm);
    }
    normalized.reachability = policy::reachability(&objects, &normalized, &plan.name);
    Ok(normalized)
}
