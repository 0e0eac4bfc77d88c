//! The plan as a Compose [`Project`]: one service per plan service (inactive ones carry their
//! profiles), named volumes, networks for the reachability graph.

use std::collections::BTreeMap;

use devstack_crds::plan::{EnvSource, ServicePlan};
use devstack_crds::quantity::format_bytes;
use devstack_crds::StackPlan;

use crate::health::healthcheck;
use crate::model::{
    Condition, DependsOn, Deploy, Device, Limits, Network, OrderedMap, Project, Reservations,
    Resources, Service, Volume, VolumeMount,
};
use crate::networks::{self, Assignment};
use crate::text::{escape, TextRenderer};
use crate::units;
use crate::RenderError;

/// Label with the stack name (services, volumes, networks).
pub const LABEL_STACK: &str = "devstack.dev/stack";
/// Label with the service name (services, volumes).
pub const LABEL_SERVICE: &str = "devstack.dev/service";
/// Label with the requested volume size (Docker cannot enforce it; kept for parity).
pub const LABEL_SIZE: &str = "devstack.dev/size";
/// Label telling whether the volume survives deleting the stack.
pub const LABEL_RETAIN: &str = "devstack.dev/retain-on-delete";

/// Name of the named volume for `volume` of `service`.
pub fn volume_name(service: &str, volume: &str) -> String {
    format!("{service}-{volume}")
}

/// Builds the Compose project of `plan`.
pub fn project(plan: &StackPlan) -> Result<Project, RenderError> {
    let text = TextRenderer::new(plan)?;
    let assignment = networks::assign(plan)?;
    let mut project = Project {
        name: plan.name.clone(),
        ..Project::default()
    };
    for network in &assignment.networks {
        project.networks.insert(
            network.clone(),
            Network {
                labels: BTreeMap::from([(LABEL_STACK.to_string(), plan.name.clone())]),
            },
        );
    }
    for service in plan.services.values() {
        for volume in &service.volumes {
            let labels = BTreeMap::from([
                (LABEL_STACK.to_string(), plan.name.clone()),
                (LABEL_SERVICE.to_string(), service.name.clone()),
                (LABEL_SIZE.to_string(), format_bytes(volume.size_bytes)),
                (
                    LABEL_RETAIN.to_string(),
                    service.retain_on_delete.to_string(),
                ),
            ]);
            project
                .volumes
                .insert(volume_name(&service.name, &volume.name), Volume { labels });
        }
        project.services.insert(
            service.name.clone(),
            render_service(plan, service, &text, &assignment)?,
        );
    }
    Ok(project)
}

fn render_service(
    plan: &StackPlan,
    service: &ServicePlan,
    text: &TextRenderer,
    assignment: &Assignment,
) -> Result<Service, RenderError> {
    let name = service.name.as_str();
    // An empty list means "the image's default" in Kubernetes; Compose would clear it instead.
    let list = |list: &Option<Vec<_>>| -> Result<Option<Vec<String>>, RenderError> {
        match list {
            Some(items) if !items.is_empty() => Ok(Some(text.templates(items, name)?)),
            _ => Ok(None),
        }
    };
    let security = &service.security;
    let user = security.uid.map(|uid| match security.gid {
        Some(gid) => format!("{uid}:{gid}"),
        None => uid.to_string(),
    });
    Ok(Service {
        image: escape(&service.image),
        profiles: service.profiles.clone(),
        user,
        entrypoint: list(&service.command)?,
        command: list(&service.args)?,
        environment: environment(plan, service, text)?,
        ports: service
            .ports
            .iter()
            .filter_map(|p| {
                p.host_port
                    .map(|host| format!("127.0.0.1:{host}:{}", p.container_port))
            })
            .collect(),
        expose: service
            .ports
            .iter()
            .map(|p| p.container_port.to_string())
            .collect(),
        healthcheck: healthcheck(service)?,
        depends_on: depends_on(plan, service)?,
        networks: assignment
            .by_service
            .get(name)
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default(),
        volumes: service
            .volumes
            .iter()
            .map(|v| VolumeMount {
                kind: "volume".to_string(),
                source: volume_name(name, &v.name),
                target: escape(&v.mount_path),
            })
            .collect(),
        read_only: security.read_only_root,
        tmpfs: service.writable_paths.iter().map(|p| escape(p)).collect(),
        cap_drop: vec!["ALL".to_string()],
        cap_add: security
            .add_capabilities
            .iter()
            .map(|c| escape(c))
            .collect(),
        security_opt: vec!["no-new-privileges:true".to_string()],
        deploy: Some(deploy(service)),
        labels: BTreeMap::from([
            (LABEL_STACK.to_string(), plan.name.clone()),
            (LABEL_SERVICE.to_string(), service.name.clone()),
        ]),
        restart: Some("unless-stopped".to_string()),
    })
}

fn environment(
    plan: &StackPlan,
    service: &ServicePlan,
    text: &TextRenderer,
) -> Result<OrderedMap, RenderError> {
    let name = service.name.as_str();
    let mut env = Vec::with_capacity(service.env.len());
    for var in &service.env {
        let value = match &var.source {
            EnvSource::Template(t) => text.template(t, name)?,
            EnvSource::Secret(id) => text.secret(id, name)?,
            EnvSource::Connection { service: from } => {
                let dependency =
                    plan.services
                        .get(from)
                        .ok_or_else(|| RenderError::UnknownService {
                            service: name.to_string(),
                            referenced: from.clone(),
                        })?;
                let template = dependency.connection.get(&var.key).ok_or_else(|| {
                    RenderError::UnknownConnectionKey {
                        service: name.to_string(),
                        dependency: from.clone(),
                        key: var.key.clone(),
                    }
                })?;
                text.template(template, name)?
            }
        };
        env.push((var.key.clone(), value));
    }
    Ok(OrderedMap(env))
}

fn depends_on(
    plan: &StackPlan,
    service: &ServicePlan,
) -> Result<BTreeMap<String, DependsOn>, RenderError> {
    service
        .depends_on
        .iter()
        .map(|dep| {
            let dependency = plan
                .services
                .get(dep)
                .ok_or_else(|| RenderError::UnknownService {
                    service: service.name.clone(),
                    referenced: dep.clone(),
                })?;
            let condition = if dependency.container_health().is_some() {
                Condition::ServiceHealthy
            } else {
                Condition::ServiceStarted
            };
            Ok((
                dep.clone(),
                DependsOn {
                    condition,
                    required: true,
                },
            ))
        })
        .collect()
}

fn deploy(service: &ServicePlan) -> Deploy {
    let budget = &service.resources;
    let devices = if service.gpu > 0 {
        vec![Device {
            driver: "nvidia".to_string(),
            count: service.gpu,
            capabilities: vec!["gpu".to_string()],
        }]
    } else {
        Vec::new()
    };
    Deploy {
        replicas: (service.replicas != 1).then_some(service.replicas),
        resources: Resources {
            limits: Limits {
                cpus: units::cpus(budget.limit_cpu_millis),
                memory: units::memory(budget.limit_memory_bytes),
            },
            reservations: Reservations {
                cpus: units::cpus(budget.request_cpu_millis),
                memory: units::memory(budget.request_memory_bytes),
                devices,
            },
        },
    }
}
