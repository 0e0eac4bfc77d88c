//! Node ports: where a stack's host ports land on a Kubernetes node.
//!
//! A host port (`127.0.0.1:<host>` in Docker) is a NodePort in Kubernetes, and node ports stay
//! inside the cluster's allowed range (the API server's `--service-node-port-range`, 30000-32767
//! by default), so no stack can claim 22, 6443 or 10250 on every node. The node port of a host
//! port is `first + (host - first) mod size`: a host port inside the range keeps its number, any
//! other lands at the same place modulo the range's size (5432 → 30344 in 30000-32767). Kind's
//! `extraPortMappings` map the host port back onto it (`kind/up.sh node-port`), so clients use
//! the same host port in both modes. Two host ports of one stack that land on the same node
//! port are an error; well-known and control-plane ports are never host ports.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::model::ServicePlan;
use crate::conventions;
use crate::error::ValidationErrors;

/// Ports of the Kubernetes control plane and the node agents (etcd, API server, kubelet,
/// kube-proxy, controller manager, scheduler), by name: never a host or node port.
const CONTROL_PLANE: [(u16, u16, &str); 3] = [
    (2379, 2380, "etcd"),
    (6443, 6443, "the Kubernetes API server"),
    (
        10248,
        10259,
        "the kubelet, kube-proxy, controller manager or scheduler",
    ),
];

/// Ports below this are well-known (system) ports: never a host or node port.
pub const FIRST_UNPRIVILEGED: u16 = 1024;

/// Why `port` may not be published, if it is reserved.
pub fn reserved(port: u16) -> Option<String> {
    if port < FIRST_UNPRIVILEGED {
        return Some(format!(
            "{port} is a well-known port (below {FIRST_UNPRIVILEGED})"
        ));
    }
    CONTROL_PLANE
        .iter()
        .find(|(first, last, _)| (*first..=*last).contains(&port))
        .map(|(_, _, what)| format!("{port} is a port of {what}"))
}

/// The node ports a stack's host ports may become (`first-last`, both included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodePortRange {
    first: u16,
    last: u16,
}

impl Default for NodePortRange {
    /// Kubernetes' default, 30000-32767.
    fn default() -> Self {
        NodePortRange {
            first: 30000,
            last: 32767,
        }
    }
}

impl NodePortRange {
    /// The range `first-last`; refused when empty or when it holds a well-known or
    /// control-plane port.
    pub fn new(first: u16, last: u16) -> Result<Self, String> {
        if first > last {
            return Err(format!(
                "{first}-{last} is empty: the first port is above the last"
            ));
        }
        if first < FIRST_UNPRIVILEGED {
            return Err(format!(
                "{first}-{last} holds well-known ports; start at {FIRST_UNPRIVILEGED} or above (Kubernetes' default is 30000-32767)"
            ));
        }
        if let Some((a, b, what)) = CONTROL_PLANE
            .iter()
            .find(|(a, b, _)| first <= *b && *a <= last)
        {
            return Err(format!(
                "{first}-{last} holds {a}-{b}, ports of {what}; pick a range without them (Kubernetes' default is 30000-32767)"
            ));
        }
        Ok(NodePortRange { first, last })
    }

    /// The first port of the range.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// The last port of the range.
    pub fn last(&self) -> u16 {
        self.last
    }

    /// The node port of `host`: itself inside the range, else the port at the same place
    /// modulo the range's size.
    pub fn node_port(&self, host: u16) -> u16 {
        let size = i64::from(self.last) - i64::from(self.first) + 1;
        let offset = (i64::from(host) - i64::from(self.first)).rem_euclid(size);
        // offset < size, so first + offset <= last.
        u16::try_from(i64::from(self.first) + offset).unwrap_or(self.last)
    }
}

impl fmt::Display for NodePortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for NodePortRange {
    type Err = String;

    /// `30000-32767`.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!("{text:?} is not a port range: expected FIRST-LAST, for example 30000-32767")
        };
        let (first, last) = text.split_once('-').ok_or_else(bad)?;
        let first = first.trim().parse().map_err(|_| bad())?;
        let last = last.trim().parse().map_err(|_| bad())?;
        NodePortRange::new(first, last)
    }
}

/// Gives every published port its node port, and reports two host ports of active services
/// that land on the same node port.
pub(super) fn assign(
    services: &mut BTreeMap<String, ServicePlan>,
    range: NodePortRange,
    errors: &mut ValidationErrors,
) {
    let mut taken: BTreeMap<u16, (String, String, u16)> = BTreeMap::new();
    for service in services.values_mut() {
        let custom = service.type_name.is_none();
        for (i, port) in service.ports.iter_mut().enumerate() {
            let Some(host) = port.host_port else { continue };
            let node = range.node_port(host);
            port.node_port = Some(node);
            if !service.active {
                continue;
            }
            match taken.get(&node) {
                Some((other, other_port, other_host)) if *other_host != host => {
                    let field = if custom {
                        format!("spec.services.{}.ports[{i}].hostPort", service.name)
                    } else {
                        format!("spec.services.{}.hostPorts.{}", service.name, port.name)
                    };
                    errors.push(
                        field,
                        format!(
                            "host port {host} becomes node port {node} in the node port range {range}, as host port {other_host} of {other} ({other_port}) does; pick a host port that differs from it by other than a multiple of {}",
                            u32::from(range.last) - u32::from(range.first) + 1
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    taken.insert(node, (service.name.clone(), port.name.clone(), host));
                }
            }
        }
    }
    check_service_names(services, errors);
}

/// The published ports of a service are a NodePort Service of their own,
/// `<service>-nodeport` ([`conventions::node_port_service`]): its name must be a DNS label
/// (a service name of at most 54 characters) and no other service may have it.
fn check_service_names(services: &BTreeMap<String, ServicePlan>, errors: &mut ValidationErrors) {
    let max = 63 - conventions::NODE_PORT_SERVICE_SUFFIX.len();
    for service in services.values() {
        if !service.active || service.ports.iter().all(|p| p.host_port.is_none()) {
            continue;
        }
        let node_port_service = conventions::node_port_service(&service.name);
        let field = format!("spec.services.{}", service.name);
        if service.name.len() > max {
            errors.push(
                field,
                format!(
                    "a service with host ports has a name of at most {max} characters (its published ports are the NodePort Service {node_port_service:?}); shorten the name"
                ),
            );
        } else if services.get(&node_port_service).is_some_and(|s| s.active) {
            errors.push(
                format!("spec.services.{node_port_service}"),
                format!(
                    "the name is taken by the NodePort Service of {:?} (its published ports); rename this service",
                    service.name
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ports_map_into_the_range() {
        let range = NodePortRange::default();
        assert_eq!(range.node_port(30000), 30000);
        assert_eq!(range.node_port(32767), 32767);
        assert_eq!(range.node_port(31000), 31000);
        assert_eq!(range.node_port(5432), 30344);
        assert_eq!(range.node_port(32768), 30000);
        assert_eq!(range.node_port(29999), 32767);
        for host in [1024u16, 5433, 6379, 9092, 19092, 65535] {
            let node = range.node_port(host);
            assert!((30000..=32767).contains(&node), "{host} -> {node}");
        }
    }

    #[test]
    fn ranges_with_reserved_ports_are_refused() {
        assert_eq!("30000-32767".parse(), Ok(NodePortRange::default()));
        for bad in [
            "1-65535",
            "6000-7000",
            "10250-10250",
            "2000-1000",
            "x",
            "30000",
        ] {
            assert!(bad.parse::<NodePortRange>().is_err(), "{bad}");
        }
        assert!("20000-29999".parse::<NodePortRange>().is_ok());
        assert!(reserved(22).is_some());
        assert!(reserved(6443).is_some());
        assert!(reserved(10250).is_some());
        assert!(reserved(5432).is_none());
    }

    #[test]
    fn the_node_port_service_name_is_a_free_label() {
        let errors = crate::plan::tests::errors_of(
            "web: {image: 'nginx:1', ports: [{name: http, containerPort: 80, hostPort: 8080}]}\nweb-nodeport: {image: 'nginx:1'}\n",
        )
        .to_string();
        assert!(errors.contains("spec.services.web-nodeport"), "{errors}");
        assert!(errors.contains("NodePort Service of \"web\""), "{errors}");
        let long = "a".repeat(55);
        let errors = crate::plan::tests::errors_of(&format!(
            "{long}: {{image: 'nginx:1', ports: [{{name: http, containerPort: 80, hostPort: 8080}}]}}\n"
        ))
        .to_string();
        assert!(errors.contains("at most 54 characters"), "{errors}");
        // Without host ports neither name is an error.
        crate::plan::tests::plan_of(&format!(
            "{long}: {{image: 'nginx:1', ports: [{{name: http, containerPort: 80}}]}}\nweb: {{image: 'nginx:1'}}\nweb-nodeport: {{image: 'nginx:1'}}\n"
        ));
    }
}
