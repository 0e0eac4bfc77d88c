//! The Services in front of each active service.
//!
//! - `<service>`: a ClusterIP Service with every port by name, for in-cluster DNS (the host in
//!   the connection settings). A service without ports gets a headless Service, so its name
//!   still resolves.
//! - `<service>-nodeport` ([`conventions::node_port_service`]), only for a service with host
//!   ports: a NodePort Service carrying only the published ports, each at the node port the
//!   plan gave it inside the cluster's node port range (Kind's `extraPortMappings` map the host
//!   port onto it; see `kind/devstack-cluster.yaml`).
//!
//! Keeping the unpublished ports off the NodePort Service means the API server never picks a
//! random node port for them, so no stack's random port can take another stack's planned one
//! (it did: "provided port is already allocated"), and an unpublished port is not reachable
//! on any node port (as in Compose, where it is not published either).

use devstack_core::conventions;
use devstack_core::plan::{PortPlan, ServicePlan};
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::labels::{object_meta, selector_labels, service_labels};
use super::Ctx;

/// The Services of `service`: the ClusterIP one, then the NodePort one if it publishes ports.
pub(crate) fn render(ctx: &Ctx, service: &ServicePlan) -> Vec<Service> {
    let ports: Vec<ServicePort> = service.ports.iter().map(|p| port(p, None)).collect();
    let headless = ports.is_empty();
    let mut services = vec![Service {
        metadata: object_meta(ctx, service.name.clone(), service_labels(ctx, service)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: headless.then(|| "None".into()),
            selector: Some(selector_labels(ctx, &service.name)),
            ports: (!headless).then_some(ports),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }];
    let published: Vec<ServicePort> = service
        .ports
        .iter()
        .filter_map(|p| {
            p.node_port
                .filter(|_| p.host_port.is_some())
                .map(|n| port(p, Some(n)))
        })
        .collect();
    if !published.is_empty() {
        let name = conventions::node_port_service(&service.name);
        services.push(Service {
            metadata: object_meta(ctx, name, service_labels(ctx, service)),
            spec: Some(ServiceSpec {
                type_: Some("NodePort".into()),
                selector: Some(selector_labels(ctx, &service.name)),
                ports: Some(published),
                ..ServiceSpec::default()
            }),
            ..Service::default()
        });
    }
    services
}

fn port(p: &PortPlan, node_port: Option<u16>) -> ServicePort {
    ServicePort {
        name: Some(p.name.clone()),
        port: i32::from(p.container_port),
        target_port: Some(IntOrString::String(p.name.clone())),
        node_port: node_port.map(i32::from),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    #[test]
    fn host_ports_make_a_node_port_service_of_only_the_published_ports() {
        let plan = plan_spec(
            "services:\n  web:\n    image: nginx:1\n    ports: [{name: http, containerPort: 80, hostPort: 8080}, {name: admin, containerPort: 81}]\n  db: {type: postgres}\n",
        );
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let web = render(&ctx, &plan.services["web"]);
        assert_eq!(web.len(), 2);
        let cluster = web[0].spec.clone().unwrap();
        assert_eq!(web[0].metadata.name.as_deref(), Some("web"));
        assert_eq!(cluster.type_.as_deref(), Some("ClusterIP"));
        let ports = cluster.ports.unwrap();
        assert_eq!(ports.len(), 2, "every port for in-cluster DNS");
        assert!(ports.iter().all(|p| p.node_port.is_none()));

        assert_eq!(web[1].metadata.name.as_deref(), Some("web-nodeport"));
        let node = web[1].spec.clone().unwrap();
        assert_eq!(node.type_.as_deref(), Some("NodePort"));
        let ports = node.ports.unwrap();
        assert_eq!(ports.len(), 1, "only the published port: {ports:?}");
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        assert_eq!(ports[0].port, 80);
        // 8080 lands on 30000 + (8080 - 30000) mod 2768 in the default range.
        assert_eq!(ports[0].node_port, Some(30224));
        assert_eq!(
            ports[0].target_port,
            Some(IntOrString::String("http".into()))
        );
        assert_eq!(node.selector.unwrap()["devstack.dev/service"], "web");
        assert_eq!(
            web[1].metadata.labels.as_ref().unwrap()["devstack.dev/service"],
            "web",
            "labelled for its service (ownership, pruning)"
        );

        let db = render(&ctx, &plan.services["db"]);
        assert_eq!(db.len(), 1, "no host port, no NodePort Service");
        let db = db[0].spec.clone().unwrap();
        assert_eq!(db.type_.as_deref(), Some("ClusterIP"));
        assert_eq!(db.ports.unwrap()[0].port, 5432);
        assert_eq!(db.cluster_ip, None);
    }

    #[test]
    fn portless_service_is_headless() {
        let plan = plan_spec("services:\n  worker: {image: busybox:1}\n");
        let ctx = Ctx::new(&plan, crate::RenderOptions::default());
        let services = render(&ctx, &plan.services["worker"]);
        assert_eq!(services.len(), 1);
        let spec = services[0].spec.clone().unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert!(spec.ports.is_none());
    }
}
