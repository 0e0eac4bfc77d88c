//! The plan as a Compose [`Project`]: one service per plan service (inactive ones carry their
//! profiles), named volumes, networks for the reachability graph.

use std::collections::BTreeMap;

use devstack_core::conventions::FILES_DIR;
use devstack_core::plan::{EnvSource, ServicePlan, WaitFor};
use devstack_core::StackPlan;

use crate::health::healthcheck;
use crate::model::{
    Condition, DependsOn, Network, OrderedMap, Project, Service, Volume, VolumeMount,
};
use crate::reachability::{self, Assignment};
use crate::spelling::PublishedPort;
use crate::text::{self, escape};
use crate::{labels, resources};

/// Name of the named volume for `volume` of `service`.
pub fn volume_name(service: &str, volume: &str) -> String {
    format!("{service}-{volume}")
}

/// Where the bind-mounted copy of one of `service`'s files lives, relative to the compose
/// file: `./files/<service>/<key>` (the driver and `render compose -o` write it, with the
/// file's mode).
pub fn file_source(service: &str, key: &str) -> String {
    format!("./{FILES_DIR}/{service}/{key}")
}

/// Builds the Compose project of `plan`.
pub fn project(plan: &StackPlan) -> Project {
    let assignment = reachability::assign(plan);
    let mut project = Project {
        name: plan.name.clone(),
        ..Project::default()
    };
    for network in &assignment.networks {
        project.networks.insert(
            network.clone(),
            Network {
                labels: labels::stack(plan),
            },
        );
    }
    for service in plan.services.values() {
        for volume in service.volumes() {
            project.volumes.insert(
                volume_name(&service.name, &volume.name),
                Volume {
                    labels: labels::volume(plan, service, volume),
                },
            );
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
                p.host_port.map(|host| PublishedPort {
                    host_ip: "127.0.0.1".to_string(),
                    host,
                    container: p.container_port,
                })
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
                read_only: false,
            })
            .chain(service.files.iter().map(|f| VolumeMount {
                kind: "bind".to_string(),
                source: escape(&file_source(name, &f.key())),
                target: escape(&f.path),
                read_only: true,
            }))
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
        deploy: Some(resources::deploy(service)),
        labels: labels::service(plan, service),
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
