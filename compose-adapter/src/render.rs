//! The plan as a Compose [`Project`]: one service per plan service (inactive ones carry their
//! profiles), named volumes, networks for the reachability graph.

use std::collections::BTreeMap;

use devstack_crds::conventions::{
    GPU_DRIVER, LABEL_SERVICE, LABEL_SIZE, LABEL_STACK, RETAIN_ON_DELETE,
};
use devstack_crds::plan::{EnvSource, ServicePlan, WaitFor};
use devstack_crds::quantity::format_bytes;
use devstack_crds::StackPlan;

use crate::health::healthcheck;
use crate::model::{
    Condition, DependsOn, Deploy, Device, Limits, Network, OrderedMap, Project, Reservations,
    Resources, Service, Volume, VolumeMount,
};
use crate::networks::{self, Assignment};
use crate::text::{self, escape};
use crate::units;

/// Name of the named volume for `volume` of `service`.
pub fn volume_name(service: &str, volume: &str) -> String {
    format!("{service}-{volume}")
}

/// Builds the Compose project of `plan`.
pub fn project(plan: &StackPlan) -> Project {
    let assignment = networks::assign(plan);
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
        for volume in service.volumes() {
            let labels = BTreeMap::from([
                (LABEL_STACK.to_string(), plan.name.clone()),
                (LABEL_SERVICE.to_string(), service.name.clone()),
                (LABEL_SIZE.to_string(), format_bytes(volume.size_bytes)),
                (
                    RETAIN_ON_DELETE.to_string(),
                    service.retains_data().to_string(),
                ),
            ]);
            project
                .volumes
                .insert(volume_name(&service.name, &volume.name), Volume { labels });
        }
        project.services.insert(
            service.name.clone(),
            render_service(plan, service, &assignment),
        );
    }
    project
}

fn render_service(plan: &StackPlan, service: &ServicePlan, assignment: &Assignment) -> Service {
    let name = service.name.as_str();
    // An empty list means "the image's default" in Kubernetes; Compose would clear it instead.
    let list = |list: &Option<Vec<_>>| match list {
        Some(items) if !items.is_empty() => Some(text::templates(items)),
        _ => None,
    };
    let security = &service.security;
    let user = security.uid.map(|uid| match security.gid {
        Some(gid) => format!("{uid}:{gid}"),
        None => uid.to_string(),
    });
    Service {
        image: escape(&service.image),
        profiles: service.profiles.clone(),
        user,
        entrypoint: list(&service.command),
        command: list(&service.args),
        environment: environment(service),
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
        healthcheck: healthcheck(service),
        depends_on: depends_on(service),
        networks: assignment
            .by_service
            .get(name)
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default(),
        volumes: service
            .volumes()
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
    }
}

fn environment(service: &ServicePlan) -> OrderedMap {
    let env = service
        .env
        .iter()
        .map(|var| {
            let value = match &var.source {
                EnvSource::Template(t) => text::template(t),
                EnvSource::Secret(id) => text::interpolation(id.as_str()),
                EnvSource::Connection { value, .. } => text::template(value),
            };
            (var.key.clone(), value)
        })
        .collect();
    OrderedMap(env)
}

fn depends_on(service: &ServicePlan) -> BTreeMap<String, DependsOn> {
    service
        .depends_on
        .iter()
        .map(|dep| {
            let condition = match dep.wait_for {
                WaitFor::Healthy => Condition::ServiceHealthy,
                WaitFor::Started => Condition::ServiceStarted,
            };
            (
                dep.service.clone(),
                DependsOn {
                    condition,
                    required: true,
                },
            )
        })
        .collect()
}

fn deploy(service: &ServicePlan) -> Deploy {
    let budget = &service.resources;
    let devices = if service.gpu > 0 {
        vec![Device {
            driver: GPU_DRIVER.to_string(),
            count: service.gpu,
            capabilities: vec!["gpu".to_string()],
        }]
    } else {
        Vec::new()
    };
    Deploy {
        replicas: (service.replicas() != 1).then_some(service.replicas()),
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
