//! A planned node port someone else holds.
//!
//! Node ports are cluster-wide: a stack's published port (host port P, node port
//! `first + (P - first) mod size`) can already be allocated to a Service of another stack or
//! of anyone else. The API server then refuses the stack's `<service>-nodeport` Service (422,
//! "provided port is already allocated"). That is not transient: the reconcile applies every
//! other object, and the stack is `Stalled` with reason `NodePortTaken` and a Warning Event
//! naming the port, its service, the holder when the operator may see it, and the fix.

use devstack_core::plan::StackPlan;
use k8s_openapi::api::core::v1::Service;
use kube::api::ListParams;
use kube::{Api, Client};

use super::error::Error;

/// The reason of the `Stalled` condition and of the Warning Event.
pub(crate) const REASON: &str = "NodePortTaken";

/// One published port whose node port the API server gave to someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TakenPort {
    /// The stack's service.
    pub service: String,
    /// The node port refused.
    pub node_port: u16,
    /// The host port it was planned for, and the field that sets it.
    pub host: Option<(u16, String)>,
    /// `namespace/name` of the Service holding the port, when the operator may list it.
    pub holder: Option<String>,
}

impl TakenPort {
    /// What is wrong and what to do, for the status and the Event.
    pub(crate) fn message(&self) -> String {
        let holder = self
            .holder
            .as_ref()
            .map_or("another Service in the cluster".to_string(), |h| {
                format!("Service {h}")
            });
        match &self.host {
            Some((host, field)) => format!(
                "node port {} (host port {host} of service {}) is already allocated to {holder}; free it there, or choose another host port at {field}",
                self.node_port, self.service
            ),
            None => format!(
                "node port {} of service {} is already allocated to {holder}; free it there",
                self.node_port, self.service
            ),
        }
    }
}

/// The taken port `error` reports, if it is the API server's refusal of a node port.
pub(crate) fn taken(error: &Error, plan: &StackPlan) -> Option<TakenPort> {
    let Error::Kube {
        kind,
        name,
        source: kube::Error::Api(status),
        ..
    } = error
    else {
        return None;
    };
    if kind != "Service" || status.code != 422 || !status.message.contains("already allocated") {
        return None;
    }
    // `spec.ports[0].nodePort: Invalid value: 30344: provided port is already allocated`
    let node_port: u16 = status
        .message
        .split("Invalid value: ")
        .nth(1)?
        .split(':')
        .next()?
        .trim()
        .parse()
        .ok()?;
    let service = plan
        .active_services()
        .find(|s| devstack_core::conventions::node_port_service(&s.name) == *name)?;
    let host = service
        .ports
        .iter()
        .enumerate()
        .find(|(_, p)| p.node_port == Some(node_port))
        .and_then(|(i, p)| {
            let field = if service.type_name.is_some() {
                format!("spec.services.{}.hostPorts.{}", service.name, p.name)
            } else {
                format!("spec.services.{}.ports[{i}].hostPort", service.name)
            };
            Some((p.host_port?, field))
        });
    Some(TakenPort {
        service: service.name.clone(),
        node_port,
        host,
        holder: None,
    })
}

/// Finds the Service holding each port (best-effort: one list of every Service, only on this
/// error path; an operator limited to its namespaces may not list the others).
pub(crate) async fn find_holders(client: &Client, taken: &mut [TakenPort]) {
    let Ok(services) = Api::<Service>::all(client.clone())
        .list(&ListParams::default())
        .await
    else {
        return;
    };
    for port in taken {
        port.holder = services
            .items
            .iter()
            .find(|s| {
                s.spec
                    .iter()
                    .flat_map(|spec| spec.ports.iter().flatten())
                    .any(|p| p.node_port == Some(i32::from(port.node_port)))
            })
            .map(|s| {
                format!(
                    "{}/{}",
                    s.metadata.namespace.as_deref().unwrap_or_default(),
                    s.metadata.name.as_deref().unwrap_or_default()
                )
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::test_support::plan_spec;

    fn refusal(name: &str, message: &str) -> Error {
        Error::Kube {
            action: "apply",
            kind: "Service".into(),
            name: name.into(),
            source: kube::Error::Api(
                kube::core::Status::failure(message, "Invalid")
                    .with_code(422)
                    .boxed(),
            ),
        }
    }

    #[test]
    fn the_api_servers_refusal_names_the_port_and_the_field() {
        let plan = plan_spec(
            "services:\n  db: {type: postgres, hostPorts: {postgres: 5432}}\n  web:\n    image: nginx:1\n    ports: [{name: admin, containerPort: 81}, {name: http, containerPort: 80, hostPort: 8080}]\n",
        );
        let error = refusal("db-nodeport", "Service \"db-nodeport\" is invalid: spec.ports[0].nodePort: Invalid value: 30344: provided port is already allocated");
        let port = taken(&error, &plan).unwrap();
        assert_eq!(port.service, "db");
        assert_eq!(port.node_port, 30344);
        let message = port.message();
        assert!(
            message.contains("node port 30344 (host port 5432 of service db)"),
            "{message}"
        );
        assert!(
            message.contains("spec.services.db.hostPorts.postgres"),
            "{message}"
        );

        let error = refusal(
            "web-nodeport",
            "spec.ports[0].nodePort: Invalid value: 30224: provided port is already allocated",
        );
        let mut port = taken(&error, &plan).unwrap();
        port.holder = Some("other/api-nodeport".into());
        let message = port.message();
        assert!(
            message.contains("spec.services.web.ports[1].hostPort"),
            "{message}"
        );
        assert!(message.contains("Service other/api-nodeport"), "{message}");
    }

    #[test]
    fn other_errors_are_not_taken_ports() {
        let plan = plan_spec("services:\n  db: {type: postgres, hostPorts: {postgres: 5432}}\n");
        let invalid = refusal("db-nodeport", "spec.ports[0].port: Invalid value: 0");
        assert_eq!(taken(&invalid, &plan), None);
        assert_eq!(taken(&Error::NoNamespace("x".into()), &plan), None);
    }
}
