//! A service with your own `image`: the spec gives ports, health check and env; it keeps data
//! only with `storage` (see `storage`), runs as the image's user, and hands dependents `<NAME>_HOST`, `_PORT` and `_URL` for
//! its first port.

use std::collections::BTreeMap;

use super::model::SecurityPlan;
use super::shape::{self, ServiceInput, Shape};
use super::{env, health, names, ports, storage};
use crate::catalog::EnvValue;
use crate::error::ValidationErrors;
use crate::template::Template;

/// The shape of a custom service.
pub(super) fn shape(input: &ServiceInput, errors: &mut ValidationErrors) -> Option<Shape> {
    let spec = input.spec;
    let path = input.path.as_str();
    let image = spec.image.clone().unwrap_or_default();
    names::image(&image, path, errors);
    if spec.version.is_some() {
        errors.push(
            format!("{path}.version"),
            "version applies to catalog services; put the tag in image instead",
        );
    }
    if !spec.host_ports.is_empty() {
        errors.push(
            format!("{path}.hostPorts"),
            "hostPorts is for catalog services; set hostPort on the entries of ports instead",
        );
    }
    let replicas = shape::replicas(spec, path, errors);
    // More replicas with a host port fan out into services of one replica each (`fanout`).
    let port_specs = spec.ports.as_deref().unwrap_or_default();
    let workload = storage::custom_workload(spec, replicas, path, errors);
    let ports = ports::custom(port_specs, path, errors);
    let health = match &spec.healthcheck {
        Some(h) => health::custom(h, &ports, &format!("{path}.healthcheck"), errors),
        None => None,
    };
    let env = spec
        .env
        .iter()
        .map(|(k, v)| (k.clone(), EnvValue::Template(Template::lit(v.clone()))))
        .collect();
    let mut outputs = BTreeMap::new();
    if let Some(first) = ports.first() {
        let name = input.name;
        let port = first.container_port;
        outputs.insert("HOST".to_string(), Template::default().push_host(name));
        outputs.insert("PORT".to_string(), Template::lit(port.to_string()));
        outputs.insert(
            "URL".to_string(),
            Template::lit("http://")
                .push_host(name)
                .push_lit(format!(":{port}")),
        );
    }
    Some(Shape {
        type_name: None,
        image: names::apply_registry(&image, input.registry),
        workload,
        command: None,
        args: None,
        env,
        ports,
        health,
        writable_paths: Vec::new(),
        security: SecurityPlan::image_default(),
        connection: env::connection_outputs(input.name, &outputs),
        secrets: Vec::new(),
        files: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use crate::plan::model::Workload;
    use crate::plan::tests::{errors_of, plan_of};

    #[test]
    fn custom_services_are_stateless_with_connection_settings_for_the_first_port() {
        let plan = plan_of(
            "api: {image: ghcr.io/acme/api:1, replicas: 3, ports: [{name: http, containerPort: 8080}, {name: admin, containerPort: 9090}]}\n",
        );
        let api = &plan.services["api"];
        assert_eq!(api.workload, Workload::Stateless { replicas: 3 });
        assert!(api.volumes().is_empty());
        assert!(!api.retains_data());
        let keys: Vec<&str> = api.connection.keys().map(String::as_str).collect();
        assert_eq!(keys, ["API_HOST", "API_PORT", "API_URL"]);
        assert_eq!(
            api.connection["API_PORT"].as_literal().as_deref(),
            Some("8080")
        );
        assert_eq!(api.security.uid, None);
    }

    #[test]
    fn catalog_only_fields_are_errors() {
        let errors = errors_of(
            "api: {image: 'a b', version: '1', hostPorts: {http: 80}, replicas: 2, ports: [{name: http, containerPort: 80, hostPort: 8080}]}\n",
        );
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.services.api.image",
                "spec.services.api.version",
                "spec.services.api.hostPorts",
            ]
        );
    }
}
