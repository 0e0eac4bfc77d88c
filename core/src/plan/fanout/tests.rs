use crate::plan::model::EnvSource;
use crate::plan::tests::{errors_of, plan_of};
use crate::template::Segment;

const WORKERS: &str = "db: {type: postgres}\nworker:\n  image: w:1\n  replicas: 3\n  ports: [{name: http, containerPort: 5003, hostPort: 5003}]\n  command: [serve, --port, '{{replica.port}}']\n  env: {WORKER_PORT: '{{replica.port}}', WORKER_PUBLIC_BASE_URL: 'http://{{replica.host}}:{{replica.port}}', WORKER_ID: 'w{{replica.index}}'}\n  secrets: [JWT_SECRET]\n  dependsOn: [db]\napi: {image: a:1, dependsOn: [worker]}\n";

#[test]
fn each_replica_is_a_service_with_its_own_port_and_env() {
    let plan = plan_of(WORKERS);
    assert!(!plan.services.contains_key("worker"));
    for n in 1..=3u16 {
        let name = format!("worker-{n}");
        let replica = &plan.services[&name];
        let port = 5002 + n;
        assert_eq!(replica.replicas(), 1);
        assert_eq!(replica.ports[0].container_port, port);
        assert_eq!(replica.ports[0].host_port, Some(port));
        assert!(
            replica.ports[0].node_port.is_some(),
            "{name} gets a node port"
        );
        let env = |key: &str| {
            let var = replica.env.iter().find(|v| v.key == key).expect(key);
            match &var.source {
                EnvSource::Template(t) => t.0.clone(),
                other => panic!("{key}: {other:?}"),
            }
        };
        assert_eq!(env("WORKER_PORT"), [Segment::Lit(port.to_string())]);
        assert_eq!(env("WORKER_ID"), [Segment::Lit(format!("w{n}"))]);
        assert_eq!(
            env("WORKER_PUBLIC_BASE_URL"),
            [
                Segment::Lit("http://".into()),
                Segment::Host(name.clone()),
                Segment::Lit(format!(":{port}")),
            ]
        );
        let command = replica.command.as_ref().expect("command");
        assert_eq!(
            command[2].as_literal().as_deref(),
            Some(port.to_string().as_str())
        );
        assert_eq!(replica.dependency_names().collect::<Vec<_>>(), ["db"]);
    }
    let api: Vec<&str> = plan.services["api"].dependency_names().collect();
    assert_eq!(api, ["worker-1", "worker-2", "worker-3"]);
    let shared: Vec<&str> = plan
        .secrets
        .iter()
        .filter(|d| d.app)
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(
        shared,
        ["DEVSTACK_WORKER_JWT_SECRET"],
        "replicas share app secrets"
    );
}

#[test]
fn without_a_host_port_or_placeholders_replicas_stay_one_service() {
    let plan =
        plan_of("api: {image: a:1, replicas: 3, ports: [{name: http, containerPort: 80}]}\n");
    assert_eq!(plan.services["api"].replicas(), 3);
    let one = plan_of("api: {image: a:1, env: {ME: '{{replica.name}}-{{replica.index}}'}}\n");
    let EnvSource::Template(t) = &one.services["api"].env[0].source else {
        panic!("template");
    };
    assert_eq!(t.as_literal().as_deref(), Some("api-1"));
}

#[test]
fn fan_out_errors_name_the_field() {
    let errors = errors_of(
        "w: {image: w:1, replicas: 2, ports: [{name: http, containerPort: 5003, hostPort: 5003}], env: {A: '{{replica.nope}}'}}\nother: {image: o:1, ports: [{name: http, containerPort: 80, hostPort: 5004}]}\n",
    );
    let text = errors.to_string();
    assert!(
        text.contains("spec.services.w.env.A")
            && text.contains("unknown placeholder {{replica.nope}}"),
        "{text}"
    );
    assert!(
        text.contains("5004"),
        "the fan-out's port range collides with other's: {text}"
    );
    let errors = errors_of("w: {image: w:1, replicas: 2, ports: [{name: http, containerPort: 65535, hostPort: 65535}]}\n");
    assert!(errors.to_string().contains("above 65535"), "{errors}");
    let errors = errors_of(
        "w: {image: w:1, replicas: 2, env: {A: '{{replica.port}}'}}\nw-1: {image: x:1}\n",
    );
    let text = errors.to_string();
    assert!(text.contains("needs a port"), "{text}");
    assert!(text.contains("has the name of another service"), "{text}");
}

#[test]
fn replicas_over_the_limit_are_not_expanded() {
    // Found by the fuzz target: 32767 replicas with a host port and two unknown dependencies
    // expanded into 32767 services and ran a did-you-mean across all of them, for hours (this
    // test hung before the fix).
    let errors = errors_of(
        "w: {image: w:1, replicas: 32767, dependsOn: [db, api], ports: [{name: http, containerPort: 80, hostPort: 5432}]}\n",
    );
    let text = errors.to_string();
    assert!(text.contains("above the maximum of 100 replicas"), "{text}");
    assert!(text.contains("32767 services, at most 64"), "{text}");
    assert!(text.contains("unknown service \"db\""), "{text}");
    let errors = errors_of(
        "a: {image: a:1, replicas: 40, ports: [{name: http, containerPort: 80, hostPort: 6000}]}\nb: {image: b:1, replicas: 40, ports: [{name: http, containerPort: 80, hostPort: 7000}]}\n",
    );
    assert!(
        errors.to_string().contains("80 services, at most 64"),
        "{errors}"
    );
}
