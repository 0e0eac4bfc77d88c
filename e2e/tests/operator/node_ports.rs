//! Node ports are cluster-wide: a stack's published ports are a NodePort Service of their own
//! (`<service>-nodeport`, only the planned node ports, none picked at random by the API
//! server), and a planned node port that another stack already holds stalls the stack with
//! reason `NodePortTaken` and a Warning Event naming the port, the holder and the fix; the
//! rest of the stack is applied, and it becomes Ready once the port is free.

use devstack_core::DevStack;
use devstack_e2e::TestNamespace;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams};

use crate::{create, exclusive, finish, install_crd, stack, wait_for, Operator};

/// One published port (31234, inside the default range: it keeps its number) and two that are
/// not: before the fix, each of those got a random node port.
const WEB: &str = "  services:\n    web:\n      image: ghcr.io/acme/web:1.0\n      ports: [{name: http, containerPort: 8080, hostPort: 31234}, {name: admin, containerPort: 8081}, {name: debug, containerPort: 8082}]\n";

fn node_ports(service: &Service) -> Vec<i32> {
    service
        .spec
        .iter()
        .flat_map(|s| s.ports.iter().flatten())
        .filter_map(|p| p.node_port)
        .collect()
}

#[tokio::test]
async fn a_second_stack_whose_planned_node_port_is_taken_is_stalled_naming_it() {
    let _exclusive = exclusive().await;
    let client = devstack_e2e::client().await.unwrap();
    install_crd(&client).await.unwrap();
    let first_ns = TestNamespace::on_kwok("op-nodeport-a").await.unwrap();
    let second_ns = TestNamespace::on_kwok("op-nodeport-b").await.unwrap();
    let mut operator = Operator::start(&[first_ns.name(), second_ns.name()], &[]).unwrap();

    create(&client, &stack("first", first_ns.name(), WEB))
        .await
        .unwrap();
    wait_for(first_ns.name(), "first", "Ready", 120)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    // Only the planned node port is allocated: the ClusterIP Service has none.
    let services = first_ns.api::<Service>();
    let cluster_ip = services.get("web").await.unwrap();
    assert_eq!(
        cluster_ip.spec.as_ref().unwrap().type_.as_deref(),
        Some("ClusterIP")
    );
    assert_eq!(node_ports(&cluster_ip), Vec::<i32>::new());
    let published = services.get("web-nodeport").await.unwrap();
    assert_eq!(node_ports(&published), vec![31234]);

    create(&client, &stack("second", second_ns.name(), WEB))
        .await
        .unwrap();
    wait_for(second_ns.name(), "second", "Stalled", 60)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let second = second_ns.api::<DevStack>().get("second").await.unwrap();
    let stalled = second
        .status
        .unwrap_or_default()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Stalled")
        .unwrap();
    assert_eq!(stalled.reason, "NodePortTaken", "{}", stalled.message);
    let want = format!(
        "node port 31234 (host port 31234 of service web) is already allocated to Service {}/web-nodeport; free it there, or choose another host port at spec.services.web.ports[0].hostPort",
        first_ns.name()
    );
    assert_eq!(stalled.message, want);
    // The rest of the second stack is applied (it works in the cluster).
    let second_services = second_ns.api::<Service>();
    assert!(second_services.get_opt("web").await.unwrap().is_some());
    assert!(second_services
        .get_opt("web-nodeport")
        .await
        .unwrap()
        .is_none());
    let events = second_ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let warning = events
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("NodePortTaken"))
        .unwrap_or_else(|| panic!("no NodePortTaken Event in {:?}", events.items));
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert_eq!(warning.note.as_deref(), Some(want.as_str()));

    // The first stack goes: its node port is free, and the second one takes it.
    let first_api = first_ns.api::<DevStack>();
    first_api
        .delete("first", &DeleteParams::default())
        .await
        .unwrap();
    // The first stack's NodePort Service goes with it.
    devstack_e2e::poll_until_gone(
        &services,
        "web-nodeport",
        std::time::Duration::from_secs(60),
    )
    .await
    .unwrap();
    wait_for(second_ns.name(), "second", "Ready", 60)
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{}", operator.log()));
    let published = second_services.get("web-nodeport").await.unwrap();
    assert_eq!(node_ports(&published), vec![31234]);
    first_ns.cleanup().await.unwrap();
    finish(second_ns, &mut operator).await.unwrap();
}
