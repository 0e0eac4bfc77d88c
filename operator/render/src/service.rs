//! The Service in front of each active service: its ports by name, a NodePort for every port
//! with a host port (the local control plane and the Kind config allow node ports 1-65535, so
//! the node port is the host port).
//!
//! A Service with a host port is `NodePort`, and Kubernetes then allocates a node port for its
//! other ports too (they are reachable on some node port, unlike in Compose; a documented
//! difference). A service without ports gets a headless Service, so its name still resolves.

use devstack_core::plan::ServicePlan;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{object_meta, selector_labels, service_labels};
use super::Ctx;

/// The Service of `service`.
pub(crate) fn render(ctx: &Ctx, service: &ServicePlan) -> Service {
    let ports: Vec<ServicePort> = service
        .ports
        .iter()
        .map(|p| ServicePort {
            name: Some(p.name.clone()),
            port: i32::from(p.container_port),
            target_port: Some(IntOrString::String(p.name.clone())),
            node_port: p.host_port.map(i32::from),
            protocol: Some("TCP".into()),
            ..ServicePort::default()
        })
        .collect();
    let node_port = service.ports.iter().any(|p| p.host_port.is_some());
    let headless = ports.is_empty();
    Service {
        metadata: object_meta(ctx, service.name.clone(), service_labels(ctx, service)),
        spec: Some(ServiceSpec {
            type_: Some(if node_port { "NodePort" } else { "ClusterIP" }.into()),
            cluster_ip: headless.then(|| "None".into()),
            selector: Some(selector_labels(ctx, &service.name)),
            ports: (!headless).then_some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn host_ports_make_a_node_port_service() {
        let plan = plan_spec(
            "services:\n  web:\n    image: nginx:1\n    ports: [{name: http, containerPort: 80, hostPort: 8080}, {name: admin, containerPort: 81}]\n  db: {type: postgres}\n",
        );
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let web = render(&ctx, &plan.services["web"]).spec.unwrap();
        assert_eq!(web.type_.as_deref(), Some("NodePort"));
        let ports = web.ports.unwrap();
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        assert_eq!(ports[0].port, 80);
        assert_eq!(ports[0].node_port, Some(8080));
        assert_eq!(
            ports[0].target_port,
            Some(IntOrString::String("http".into()))
        );
        assert_eq!(ports[1].node_port, None);
        assert_eq!(web.selector.unwrap()["devstack.dev/service"], "web");

        let db = render(&ctx, &plan.services["db"]).spec.unwrap();
        assert_eq!(db.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(db.ports.unwrap()[0].port, 5432);
        assert_eq!(db.cluster_ip, None);
    }

    #[test]
    fn portless_service_is_headless() {
        let plan = plan_spec("services:\n  worker: {image: busybox:1}\n");
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let spec = render(&ctx, &plan.services["worker"]).spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert!(spec.ports.is_none());
    }
}
