//! Helpers and fixtures of `render.rs`: the rendering as JSON, its services and lists.

use devstack_render_compose::render;
use serde_json::Value;

pub const GUARD: &str = ":?secret missing: run devstack render compose -o DIR}";

pub fn doc(plan: &devstack_core::StackPlan) -> Value {
    let text = render(plan).expect("render");
    devstack_core::yaml::from_str(&text).expect("rendered YAML parses")
}

pub fn service<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["services"][name]
}

pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
        .iter()
        .map(|v| v.as_str().expect("string item").to_string())
        .collect()
}

pub fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not a map: {value:?}"))
        .keys()
        .map(|k| k.to_string())
        .collect()
}

pub fn secret(id: &str) -> String {
    format!("${{{id}{GUARD}")
}

pub const MINIMAL: &str = r#"
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: shop}
spec:
  services:
    postgres:
      type: postgres
      hostPorts: {postgres: 5433}
      storage: {size: 2Gi, retainOnDelete: false}
"#;

pub const APP: &str = r#"
apiVersion: devstack.dev/v1alpha1
kind: DevStack
metadata: {name: app}
spec:
  services:
    postgres:
      type: postgres
    redis:
      type: redis
    sidecar:
      image: ghcr.io/acme/sidecar:1.0
    api:
      image: ghcr.io/acme/api:2.0
      ports: [{name: http, containerPort: 8080, hostPort: 8080}, {name: metrics, containerPort: 9100}]
      dependsOn: [postgres, redis, sidecar]
      healthcheck: {http: {path: /healthz, port: http}, intervalSeconds: 7, timeoutSeconds: 2, retries: 4, startPeriodSeconds: 30}
      env: {LOG_LEVEL: debug}
    worker:
      image: ghcr.io/acme/worker:2.0
      dependsOn: [api, redis]
      healthcheck: {tcp: {port: admin}}
      ports: [{name: admin, containerPort: 7000}]
    lonely:
      image: ghcr.io/acme/lonely:1
"#;
