//! The pod template of a service: one container named after the service, with the plan's
//! image, command, args, env, ports, probes, resources and security settings.
//!
//! `enableServiceLinks: false` keeps Kubernetes from injecting `<SERVICE>_PORT…` variables,
//! so the container's environment has exactly the keys the Compose container has.

use devstack_core::plan::{EnvSource, ServicePlan};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    PodSecurityContext, PodSpec, PodTemplateSpec, SeccompProfile, SecretKeySelector,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::files;
use super::health::probes;
use super::labels::service_labels;
use super::resources;
use super::text::{container_list, container_text};
use super::Ctx;
use devstack_core::conventions::GPU_ENV;

/// The pod template of `service`. Data volumes are mounted by name; the workload provides
/// them (volume claim templates of a StatefulSet).
pub(crate) fn template(ctx: &Ctx, service: &ServicePlan) -> PodTemplateSpec {
    let (writable_volumes, writable_mounts) = writable_paths(service);
    let mut container = container(ctx, service);
    let mut mounts: Vec<VolumeMount> = service
        .volumes()
        .iter()
        .map(|v| VolumeMount {
            name: v.name.clone(),
            mount_path: v.mount_path.clone(),
            ..VolumeMount::default()
        })
        .collect();
    mounts.extend(writable_mounts);
    let (files_volume, file_mounts) = files::volume_and_mounts(service);
    mounts.extend(file_mounts);
    container.volume_mounts = (!mounts.is_empty()).then_some(mounts);
    let mut volumes = writable_volumes;
    volumes.extend(files_volume);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(service_labels(ctx, service)),
            annotations: crate::rollout::merge(
                files::annotations(service),
                crate::rollout::annotations(ctx, service),
            ),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![container],
            enable_service_links: Some(false),
            automount_service_account_token: Some(false),
            security_context: Some(pod_security(service)),
            volumes: (!volumes.is_empty()).then_some(volumes),
            ..PodSpec::default()
        }),
    }
}

fn container(ctx: &Ctx, service: &ServicePlan) -> Container {
    let probes = service.health.as_ref().map(probes);
    let ports: Vec<ContainerPort> = service
        .ports
        .iter()
        .map(|p| ContainerPort {
            name: Some(p.name.clone()),
            container_port: i32::from(p.container_port),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        })
        .collect();
    let env = env(ctx, service);
    let (readiness, liveness, startup) = match probes {
        Some(p) => (Some(p.readiness), Some(p.liveness), Some(p.startup)),
        None => (None, None, None),
    };
    Container {
        name: service.name.clone(),
        image: Some(service.image.clone()),
        command: container_list(ctx, service.command.as_ref()),
        args: container_list(ctx, service.args.as_ref()),
        env: (!env.is_empty()).then_some(env),
        ports: (!ports.is_empty()).then_some(ports),
        readiness_probe: readiness,
        liveness_probe: liveness,
        startup_probe: startup,
        resources: Some(resources::requirements(service, ctx.options)),
        security_context: Some(container_security(service)),
        ..Container::default()
    }
}

fn secret_ref(name: String, key: &str) -> Option<EnvVarSource> {
    Some(EnvVarSource {
        secret_key_ref: Some(SecretKeySelector {
            name,
            key: key.to_string(),
            ..SecretKeySelector::default()
        }),
        ..EnvVarSource::default()
    })
}

/// The environment in plan order (secrets first: `$(VAR)` only sees earlier variables).
fn env(ctx: &Ctx, service: &ServicePlan) -> Vec<EnvVar> {
    let mut env: Vec<EnvVar> = service
        .env
        .iter()
        .map(|var| {
            let (value, value_from) = match &var.source {
                EnvSource::Secret(id) => (
                    None,
                    secret_ref(ctx.plan.credentials_secret_name(), id.as_str()),
                ),
                EnvSource::Connection { key, .. } => {
                    (None, secret_ref(ctx.plan.connections_secret_name(), key))
                }
                EnvSource::Template(t) => (Some(container_text(ctx, t)), None),
            };
            EnvVar {
                name: var.key.clone(),
                value,
                value_from,
            }
        })
        .collect();
    if ctx.options.falls_back_to_cpu(service) {
        env.push(EnvVar {
            name: GPU_ENV.to_string(),
            value: Some("0".to_string()),
            value_from: None,
        });
    }
    env
}

fn pod_security(service: &ServicePlan) -> PodSecurityContext {
    let security = &service.security;
    PodSecurityContext {
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        run_as_user: security.uid,
        run_as_group: security.gid,
        fs_group: security.gid,
        run_as_non_root: security.run_as_non_root.then_some(true),
        ..PodSecurityContext::default()
    }
}

fn container_security(service: &ServicePlan) -> SecurityContext {
    let security = &service.security;
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: (!security.add_capabilities.is_empty()).then(|| security.add_capabilities.clone()),
        }),
        read_only_root_filesystem: Some(security.read_only_root),
        ..SecurityContext::default()
    }
}

/// emptyDir volumes `writable-<n>` for the writable paths of a read-only root.
fn writable_paths(service: &ServicePlan) -> (Vec<Volume>, Vec<VolumeMount>) {
    service
        .writable_paths
        .iter()
        .enumerate()
        .map(|(n, path)| {
            let name = format!("writable-{n}");
            let volume = Volume {
                name: name.clone(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            };
            let mount = VolumeMount {
                name,
                mount_path: path.clone(),
                ..VolumeMount::default()
            };
            (volume, mount)
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    fn pod(spec: &str, service: &str) -> PodSpec {
        let plan = plan_spec(spec);
        template(
            &Ctx::new(&plan, crate::RenderOptions::default()),
            &plan.services[service],
        )
        .spec
        .unwrap()
    }

    #[test]
    fn env_sources_in_plan_order() {
        let spec = pod(
            "services:\n  db: {type: postgres, env: {POSTGRES_DB: app}}\n  api:\n    image: acme/api:1\n    dependsOn: [db]\n    env: {GREETING: 'hi $(USER)'}\n",
            "api",
        );
        let env = spec.containers[0].env.clone().unwrap();
        let names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "DB_DB",
                "DB_HOST",
                "DB_PASSWORD",
                "DB_PORT",
                "DB_URL",
                "DB_USER",
                "GREETING"
            ]
        );
        let url = env[4]
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (url.name.as_str(), url.key.as_str()),
            ("demo-connections", "DB_URL")
        );
        assert_eq!(env[6].value.as_deref(), Some("hi $$(USER)"));

        let db = pod("services:\n  db: {type: postgres}\n", "db");
        let env = db.containers[0].env.clone().unwrap();
        assert_eq!(env[0].name, "POSTGRES_PASSWORD");
        let key = env[0]
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (key.name.as_str(), key.key.as_str()),
            ("demo-credentials", "DEVSTACK_DB_PASSWORD")
        );
        assert!(env
            .iter()
            .any(|e| e.name == "PGDATA"
                && e.value.as_deref() == Some("/var/lib/postgresql/18/docker")));
    }

    #[test]
    fn the_redis_password_stays_off_the_command_line() {
        let spec = pod("services:\n  cache: {type: redis}\n", "cache");
        let args = spec.containers[0].args.clone().unwrap();
        assert_eq!(args[..2], ["sh", "-c"]);
        // The shell expands the env var at run time; Kubernetes leaves `$VAR` alone.
        assert!(args[2].contains("\"$REDIS_PASSWORD\""), "{args:?}");
        assert!(!args.iter().any(|a| a.contains("$(")), "{args:?}");
        let env = spec.containers[0].env.clone().unwrap();
        assert!(env
            .iter()
            .any(|e| e.name == "REDIS_PASSWORD" && e.value_from.is_some()));
    }

    #[test]
    fn catalog_security_is_restricted_with_writable_paths() {
        let spec = pod("services:\n  db: {type: postgres}\n", "db");
        let psc = spec.security_context.unwrap();
        assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        assert_eq!(
            (psc.run_as_user, psc.run_as_group, psc.fs_group),
            (Some(999), Some(999), Some(999))
        );
        assert_eq!(psc.run_as_non_root, Some(true));
        assert_eq!(spec.enable_service_links, Some(false));
        assert_eq!(spec.automount_service_account_token, Some(false));
        let c = &spec.containers[0];
        assert_eq!(c.name, "db");
        let sc = c.security_context.clone().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(sc.read_only_root_filesystem, Some(true));
        let caps = sc.capabilities.unwrap();
        assert_eq!(caps.drop, Some(vec!["ALL".to_string()]));
        assert_eq!(caps.add, None);
        let volumes: Vec<&str> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(volumes, ["writable-0", "writable-1"]);
        let mounts: Vec<(&str, &str)> = c
            .volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.as_str(), m.mount_path.as_str()))
            .collect();
        assert_eq!(
            mounts,
            [
                ("data", "/var/lib/postgresql"),
                ("writable-0", "/var/run/postgresql"),
                ("writable-1", "/tmp")
            ]
        );
    }

    #[test]
    fn custom_image_keeps_its_user() {
        let spec = pod("services:\n  web: {image: nginx:1}\n", "web");
        let psc = spec.security_context.unwrap();
        assert_eq!(
            (psc.run_as_user, psc.run_as_non_root, psc.fs_group),
            (None, None, None)
        );
        assert!(spec.volumes.is_none());
        let c = &spec.containers[0];
        assert_eq!(
            c.security_context
                .as_ref()
                .unwrap()
                .read_only_root_filesystem,
            Some(false)
        );
        assert!(c.volume_mounts.is_none() && c.env.is_none() && c.ports.is_none());
        assert!(
            c.readiness_probe.is_none() && c.liveness_probe.is_none() && c.startup_probe.is_none()
        );
    }

    #[test]
    fn ports_and_probes() {
        let spec = pod(
            "services:\n  web:\n    image: nginx:1\n    ports: [{name: http, containerPort: 8080}]\n    healthcheck: {http: {path: /healthz, port: http}, intervalSeconds: 5, startPeriodSeconds: 12}\n",
            "web",
        );
        let c = &spec.containers[0];
        let port = &c.ports.as_ref().unwrap()[0];
        assert_eq!(
            (
                port.name.as_deref(),
                port.container_port,
                port.protocol.as_deref()
            ),
            (Some("http"), 8080, Some("TCP"))
        );
        assert_eq!(c.readiness_probe.as_ref().unwrap().period_seconds, Some(5));
        let startup = c.startup_probe.as_ref().unwrap();
        // The start window (5 retries + ceil(12 / 5) = 3) x 5 s, tried every second.
        assert_eq!(
            (startup.period_seconds, startup.failure_threshold),
            (Some(1), Some((5 + 3) * 5))
        );
    }
}
