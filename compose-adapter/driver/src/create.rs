//! One resolved compose service as the Engine API's container configuration, field for field
//! what Docker Compose sends for the same service.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, DeviceRequest, EndpointSettings, HealthConfig, HostConfig, Mount,
    MountType, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};

use devstack_render_compose::model::{Healthcheck, Resources, Service};
use devstack_render_compose::spelling::Seconds;

use super::labels::{self, ContainerLabels};
use super::DriverError;

/// A container to create: its name, configuration and the networks to join after creation
/// (API 1.41 takes a single endpoint at creation).
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    /// Container name.
    pub name: String,
    /// The create request.
    pub body: ContainerCreateBody,
    /// Further networks (Docker names) with their endpoint settings.
    pub extra_networks: Vec<(String, EndpointSettings)>,
}

/// Docker names of the networks `service` joins, primary first (Compose's order: by name).
pub fn service_networks(project: &str, service: &Service) -> Vec<String> {
    let mut keys: Vec<&str> = service.networks.iter().map(String::as_str).collect();
    if keys.is_empty() {
        keys.push(labels::DEFAULT_NETWORK);
    }
    keys.sort_unstable();
    keys.iter()
        .map(|k| labels::network_name(project, k))
        .collect()
}

/// The container for replica `meta.number` of the resolved `service`.
pub fn container_spec(
    service: &Service,
    meta: &ContainerLabels<'_>,
) -> Result<ContainerSpec, DriverError> {
    let name = labels::container_name(meta.project, meta.service, meta.number);
    let (exposed, bindings) = published_ports(service);
    let networks = service_networks(meta.project, service);
    let aliases = vec![name.clone(), meta.service.to_string()];
    let endpoint = EndpointSettings {
        aliases: Some(aliases),
        ..EndpointSettings::default()
    };
    let primary = networks.first().cloned().unwrap_or_default();
    let extra_networks = networks
        .iter()
        .skip(1)
        .map(|n| (n.clone(), endpoint.clone()))
        .collect();
    let mut host = HostConfig {
        network_mode: Some(primary.clone()),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        restart_policy: service.restart.as_deref().map(restart_policy),
        mounts: (!service.volumes.is_empty()).then(|| mounts(meta.project, service)),
        cap_add: (!service.cap_add.is_empty()).then(|| service.cap_add.clone()),
        cap_drop: (!service.cap_drop.is_empty()).then(|| service.cap_drop.clone()),
        security_opt: (!service.security_opt.is_empty()).then(|| service.security_opt.clone()),
        readonly_rootfs: service.read_only.then_some(true),
        tmpfs: (!service.tmpfs.is_empty()).then(|| {
            service
                .tmpfs
                .iter()
                .map(|p| (p.clone(), String::new()))
                .collect()
        }),
        ..HostConfig::default()
    };
    if let Some(deploy) = &service.deploy {
        limit_resources(&mut host, &deploy.resources);
    }
    let body = ContainerCreateBody {
        image: Some(service.image.clone()),
        user: service.user.clone(),
        entrypoint: service.entrypoint.clone(),
        cmd: service.command.clone(),
        env: Some(
            service
                .environment
                .0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        healthcheck: service.healthcheck.as_ref().map(health_config),
        labels: Some(meta.merged(&service.labels)),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config: Some(host),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(primary, endpoint)])),
        }),
        ..ContainerCreateBody::default()
    };
    Ok(ContainerSpec {
        name,
        body,
        extra_networks,
    })
}

/// Port bindings by `<port>/tcp`.
type Bindings = HashMap<String, Option<Vec<PortBinding>>>;

/// The exposed ports (`expose` and every published container port, once each) and the host
/// bindings of the published ones.
fn published_ports(service: &Service) -> (Vec<String>, Bindings) {
    let mut exposed: Vec<String> = service.expose.iter().map(|p| format!("{p}/tcp")).collect();
    let mut bindings = Bindings::new();
    for port in &service.ports {
        let key = format!("{}/tcp", port.container);
        if !exposed.contains(&key) {
            exposed.push(key.clone());
        }
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(port.host_ip.clone()),
                host_port: Some(port.host.to_string()),
            });
    }
    (exposed, bindings)
}

/// The health check in the Engine API's nanoseconds.
fn health_config(check: &Healthcheck) -> HealthConfig {
    let nanos = |seconds: Seconds| i64::from(seconds.0) * 1_000_000_000;
    HealthConfig {
        test: Some(check.test.clone()),
        interval: Some(nanos(check.interval)),
        timeout: Some(nanos(check.timeout)),
        retries: Some(i64::from(check.retries)),
        start_period: Some(nanos(check.start_period)),
        start_interval: check.start_interval.map(nanos),
    }
}

/// Bind mounts (a service's files and host mounts, sources absolute) and the project's named
/// volumes.
fn mounts(project: &str, service: &Service) -> Vec<Mount> {
    service
        .volumes
        .iter()
        .map(|v| match v.kind.as_str() {
            "bind" => Mount {
                typ: Some(MountType::BIND),
                source: Some(v.source.clone()),
                target: Some(v.target.clone()),
                read_only: v.read_only.then_some(true),
                ..Mount::default()
            },
            _ => Mount {
                typ: Some(MountType::VOLUME),
                source: Some(labels::volume_name(project, &v.source)),
                target: Some(v.target.clone()),
                ..Mount::default()
            },
        })
        .collect()
}

/// CPU and memory limits, the memory reservation and GPU device requests.
fn limit_resources(host: &mut HostConfig, resources: &Resources) {
    // The plan bounds CPUs so that this fits Docker's int64; saturate all the same.
    let nano_cpus = resources.limits.cpus.0.saturating_mul(1_000_000);
    let memory = resources.limits.memory.0;
    let reservation = resources.reservations.memory.0;
    host.nano_cpus = (nano_cpus > 0).then(|| i64::try_from(nano_cpus).unwrap_or(i64::MAX));
    host.memory = (memory > 0).then(|| i64::try_from(memory).unwrap_or(i64::MAX));
    host.memory_reservation =
        (reservation > 0).then(|| i64::try_from(reservation).unwrap_or(i64::MAX));
    let devices: Vec<DeviceRequest> = resources
        .reservations
        .devices
        .iter()
        .map(|d| DeviceRequest {
            driver: Some(d.driver.clone()),
            count: Some(i64::from(d.count)),
            capabilities: Some(vec![d.capabilities.clone()]),
            ..DeviceRequest::default()
        })
        .collect();
    host.device_requests = (!devices.is_empty()).then_some(devices);
}

fn restart_policy(name: &str) -> RestartPolicy {
    let name = match name {
        "always" => RestartPolicyNameEnum::ALWAYS,
        "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
        "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
        _ => RestartPolicyNameEnum::NO,
    };
    RestartPolicy {
        name: Some(name),
        maximum_retry_count: None,
    }
}

/// Compose's `depends_on` label value: `dep:condition:false`, sorted, comma-separated.
pub fn depends_on_label(service: &Service) -> String {
    service
        .depends_on
        .iter()
        .map(|(dep, d)| {
            let condition = serde_json::to_value(d.condition)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{dep}:{condition}:false")
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_render_compose::model::{Deploy, Limits, Reservations, Resources};
    use devstack_render_compose::spelling::{Cpus, Memory};

    fn labels() -> ContainerLabels<'static> {
        ContainerLabels {
            project: "demo",
            service: "api",
            number: 1,
            hash: "h",
            image_id: "sha256:0",
            depends_on: String::new(),
            working_dir: "/tmp",
            config_file: "/tmp/compose.yaml",
        }
    }

    fn with_cpus(millis: u64) -> Service {
        Service {
            image: "a:1".into(),
            deploy: Some(Deploy {
                replicas: None,
                resources: Resources {
                    limits: Limits {
                        cpus: Cpus(millis),
                        memory: Memory(256 << 20),
                    },
                    reservations: Reservations {
                        cpus: Cpus(100),
                        memory: Memory(64 << 20),
                        devices: Vec::new(),
                    },
                },
            }),
            ..Service::default()
        }
    }

    #[test]
    fn a_cpu_count_beyond_the_engine_saturates_instead_of_panicking() {
        let nano = |millis| {
            let spec = container_spec(&with_cpus(millis), &labels()).unwrap();
            spec.body.host_config.unwrap().nano_cpus
        };
        assert_eq!(nano(1500), Some(1_500_000_000));
        // 20000000000 CPUs (what `cpu: '20000000000'` asked for before validation bounded it).
        assert_eq!(nano(20_000_000_000_000), Some(i64::MAX));
        assert_eq!(nano(u64::MAX), Some(i64::MAX));
    }

    #[test]
    fn a_start_interval_reaches_the_engine_in_nanoseconds() {
        let check = |start_interval| Healthcheck {
            test: vec!["CMD".into(), "true".into()],
            interval: Seconds(10),
            timeout: Seconds(3),
            retries: 5,
            start_period: Seconds(10),
            start_interval,
        };
        assert_eq!(health_config(&check(None)).start_interval, None);
        let config = health_config(&check(Some(Seconds(1))));
        assert_eq!(config.start_interval, Some(1_000_000_000));
        assert_eq!(config.interval, Some(10_000_000_000));
    }
}
