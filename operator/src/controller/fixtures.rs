//! Test fixtures: a fake API server behind kube's `tower-test` mock (in the manner of
//! kube-rs/controller-rs `fixtures.rs`), so one branch of the reconcile runs with no cluster.
//!
//! The fake keeps objects as JSON by path, answers get / list (label selectors of the form
//! `k=v`) / server-side apply / status apply / delete / Event creation, marks applied
//! workloads ready, and records every request (a `gate` holds chosen requests until several have
//! arrived, to see what is sent concurrently). Paths listed in `fail` are answered 500; a
//! Service asking for a node port another Service holds is answered 422, as the API server does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::pin::pin;
use std::sync::{Arc, Mutex};

use devstack_core::parse::parse_devstack;
use devstack_core::types::DevStack;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use kube::core::DeserializeGuard;
use kube::Client;
use prometheus_client::registry::Registry;
use serde_json::{json, Value};
use tower_test::mock;

use super::{Context, KeptStack, Metrics, Options, FINALIZER};

/// Namespace of every fixture.
pub(crate) const NS: &str = "test";
/// Uid of the fixture DevStack.
pub(crate) const UID: &str = "uid-demo";

/// One request the fake answered.
#[derive(Clone, Debug)]
pub(crate) struct Recorded {
    pub method: Method,
    pub path: String,
    pub body: Value,
}

impl Recorded {
    /// The path of the object the request is about (a create names it in its body).
    pub(crate) fn object_path(&self) -> String {
        match (&self.method, self.body["metadata"]["name"].as_str()) {
            (&Method::POST, Some(name)) if is_collection(&self.path) => {
                format!("{}/{name}", self.path)
            }
            _ => self.path.clone(),
        }
    }

    /// A write to one of the kinds a stack owns (not the DevStack's status, not an Event).
    pub(crate) fn is_object_write(&self) -> bool {
        self.method != Method::GET
            && !self.path.contains("/events")
            && !self.path.contains("/devstacks/")
    }
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    fail: Vec<String>,
    next_version: u64,
    /// Status given to an applied object instead of a ready one, by path.
    statuses: BTreeMap<String, Value>,
    /// [`FakeApi::gate`]: method, path, how many requests are still held, and their barrier.
    gate: Option<(Method, String, usize, Arc<tokio::sync::Barrier>)>,
}

/// The fake API server.
#[derive(Clone, Default)]
pub(crate) struct FakeApi(Arc<Mutex<State>>);

/// The path of a namespaced object: `resource` is `secrets`, `apps/v1/deployments`, …
pub(crate) fn path(resource: &str, name: &str) -> String {
    let (prefix, plural) = match resource.rsplit_once('/') {
        Some((group_version, plural)) => (format!("/apis/{group_version}"), plural),
        None => ("/api/v1".to_string(), resource),
    };
    format!("{prefix}/namespaces/{NS}/{plural}/{name}")
}

impl FakeApi {
    /// A context whose client talks to a new fake (served until the test ends).
    pub(crate) fn start() -> (FakeApi, Arc<Context>) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let fake = FakeApi::default();
        let server = fake.clone();
        tokio::spawn(async move {
            let mut handle = pin!(handle);
            while let Some((request, send)) = handle.next_request().await {
                let Some(gate) = server.gate_for(&request) else {
                    send.send_response(server.answer(request).await);
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    gate.wait().await;
                    send.send_response(server.answer(request).await);
                });
            }
        });
        let client = Client::new(service, NS);
        let metrics = Metrics::register(&mut Registry::default());
        let ctx = Context::new(client, &Options::default(), metrics);
        (fake, Arc::new(ctx))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }

    /// Stores `object` (JSON) under the path of `resource`/its name.
    pub(crate) fn put(&self, resource: &str, object: Value) {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        self.state().objects.insert(path(resource, &name), object);
    }

    /// The object at `resource`/`name`, if any.
    pub(crate) fn get(&self, resource: &str, name: &str) -> Option<Value> {
        self.state().objects.get(&path(resource, name)).cloned()
    }

    /// Every object of `resource` in the test namespace.
    pub(crate) fn all(&self, resource: &str) -> Vec<Value> {
        let prefix = path(resource, "");
        let state = self.state();
        let objects = state.objects.range(prefix.clone()..);
        objects
            .take_while(|(key, _)| key.starts_with(&prefix))
            .map(|(_, object)| object.clone())
            .collect()
    }

    /// Removes the object at `path`; whether there was one.
    pub(crate) fn remove(&self, path: &str) -> bool {
        self.state().objects.remove(path).is_some()
    }

    /// Gives the workload at `resource`/`name` `status` when it is applied (instead of ready).
    pub(crate) fn status_on_apply(&self, resource: &str, name: &str, status: Value) {
        self.state().statuses.insert(path(resource, name), status);
    }

    /// Answers 500 to every request whose path starts with `prefix`.
    pub(crate) fn fail(&self, prefix: &str) {
        self.state().fail.push(prefix.to_string());
    }

    /// Holds the next `count` requests of `method` on `path` (a collection, for creates) until
    /// all `count` have arrived, then answers them: a client that sends them one after the
    /// other never gets an answer (a test bounds it with a timeout).
    pub(crate) fn gate(&self, method: Method, path: &str, count: usize) {
        let barrier = Arc::new(tokio::sync::Barrier::new(count));
        self.state().gate = Some((method, path.to_string(), count, barrier));
    }

    /// The barrier a request must pass ([`FakeApi::gate`]), if it is held.
    fn gate_for(&self, request: &Request<Body>) -> Option<Arc<tokio::sync::Barrier>> {
        let mut state = self.state();
        let (method, path, left, barrier) = state.gate.as_mut()?;
        if *left == 0 || request.method() != method || request.uri().path() != path {
            return None;
        }
        *left -= 1;
        Some(barrier.clone())
    }

    /// The requests so far, and forgets them.
    pub(crate) fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut self.state().requests)
    }

    /// Stores `stack` and returns it as the watch would hand it to the reconcile.
    pub(crate) fn stack(&self, stack: DevStack) -> Arc<KeptStack> {
        self.put(
            "devstack.dev/v1alpha1/devstacks",
            serde_json::to_value(&stack).unwrap(),
        );
        Arc::new(KeptStack::keep(DeserializeGuard(Ok(stack))))
    }

    /// The stored DevStack `name` (with the status the reconcile wrote).
    pub(crate) fn stored_stack(&self, name: &str) -> DevStack {
        let value = self.get("devstack.dev/v1alpha1/devstacks", name).unwrap();
        serde_json::from_value(value).unwrap()
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let query = request.uri().query().unwrap_or_default().to_string();
        let merge = request
            .headers()
            .get("content-type")
            .is_some_and(|t| t.as_bytes().starts_with(b"application/merge-patch"));
        let bytes = request.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut state = self.state();
        state.requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            body: body.clone(),
        });
        if state.fail.iter().any(|p| path.starts_with(p)) {
            return status(StatusCode::INTERNAL_SERVER_ERROR, "injected failure");
        }
        if path.ends_with("/events") && method == Method::POST {
            return reply(StatusCode::CREATED, &body);
        }
        if path.contains("/events/") {
            return reply(StatusCode::OK, &body);
        }
        let collection = is_collection(&path);
        match method {
            Method::GET if collection => {
                let selector = selector(&query);
                let prefix = format!("{path}/");
                // A list of every namespace (`/api/v1/services`): `…/namespaces/*/services/x`.
                let (group, plural) = path.rsplit_once('/').unwrap_or_default();
                let everywhere = |p: &str| {
                    !path.contains("/namespaces/")
                        && p.starts_with(&format!("{group}/namespaces/"))
                        && p.rsplit('/').nth(1) == Some(plural)
                };
                let items: Vec<Value> = state
                    .objects
                    .iter()
                    .filter(|(p, _)| {
                        (p.starts_with(&prefix) && !p[prefix.len()..].contains('/'))
                            || everywhere(p)
                    })
                    .filter(|(_, o)| matches(o, &selector))
                    .map(|(_, o)| o.clone())
                    .collect();
                let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items});
                reply(StatusCode::OK, &list)
            }
            Method::GET => match state.objects.get(&path) {
                Some(object) => reply(StatusCode::OK, object),
                None => status(StatusCode::NOT_FOUND, "not found"),
            },
            Method::PATCH if path.ends_with("/status") => {
                let object_path = path.trim_end_matches("/status").to_string();
                let Some(object) = state.objects.get_mut(&object_path) else {
                    return status(StatusCode::NOT_FOUND, "not found");
                };
                object["status"] = body["status"].clone();
                let object = object.clone();
                reply(StatusCode::OK, &object)
            }
            Method::PATCH if merge => {
                let Some(object) = state.objects.get_mut(&path) else {
                    return status(StatusCode::NOT_FOUND, "not found");
                };
                let wanted = body["metadata"]["resourceVersion"].clone();
                if !wanted.is_null() && object["metadata"]["resourceVersion"] != wanted {
                    return status(StatusCode::CONFLICT, "the object has been modified");
                }
                merge_patch(object, &body);
                let object = object.clone();
                reply(StatusCode::OK, &object)
            }
            Method::PATCH => state.apply(&path, body),
            Method::POST if collection => state.create(&path, &query, body),
            Method::DELETE => match state.objects.remove(&path) {
                Some(_) => reply(
                    StatusCode::OK,
                    &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                ),
                None => status(StatusCode::NOT_FOUND, "not found"),
            },
            _ => status(StatusCode::METHOD_NOT_ALLOWED, "not in the fake"),
        }
    }
}

impl State {
    /// A server-side apply: the applied fields over what was there, a new resourceVersion,
    /// ready status for workloads; 409 when a given resourceVersion is stale.
    fn apply(&mut self, path: &str, body: Value) -> Response<Body> {
        let existing = self.objects.get(path).cloned();
        let wanted_version = &body["metadata"]["resourceVersion"];
        if let (Some(version), Some(live)) = (wanted_version.as_str(), &existing) {
            if live["metadata"]["resourceVersion"].as_str() != Some(version) {
                return status(StatusCode::CONFLICT, "the object has been modified");
            }
        }
        // `metadata.uid` is immutable: an apply naming another uid than the object's fails.
        if let (Some(uid), Some(live)) = (body["metadata"]["uid"].as_str(), &existing) {
            if live["metadata"]["uid"].as_str() != Some(uid) {
                let message = format!("Deployment.apps \"x\" is invalid: metadata.uid: Invalid value: \"{uid}\": field is immutable");
                return status(StatusCode::UNPROCESSABLE_ENTITY, &message);
            }
        }
        if let Some(refusal) = self.node_port_taken(path, &body) {
            return refusal;
        }
        self.next_version += 1;
        let mut object = body;
        let uid = existing.as_ref().map_or_else(
            || json!(format!("uid-{}", self.next_version)),
            |o| o["metadata"]["uid"].clone(),
        );
        object["metadata"]["uid"] = uid;
        object["metadata"]["resourceVersion"] = json!(self.next_version.to_string());
        object["metadata"]["generation"] = json!(1);
        let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
        if path.contains("/deployments/") {
            object["status"] = json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas});
        }
        if path.contains("/statefulsets/") {
            object["status"] = json!({"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas, "currentRevision": "r1", "updateRevision": "r1"});
        }
        if let Some(status) = self.statuses.get(path) {
            object["status"] = status.clone();
        }
        self.objects.insert(path.to_string(), object.clone());
        reply(StatusCode::OK, &object)
    }
}

impl State {
    /// A create (POST to `collection`): 409 when an object of that name exists; else the
    /// object as an apply makes it, its fields owned by the query's field manager with
    /// operation `Update`.
    fn create(&mut self, collection: &str, query: &str, body: Value) -> Response<Body> {
        let name = body["metadata"]["name"].as_str().unwrap_or_default();
        let path = format!("{collection}/{name}");
        if self.objects.contains_key(&path) {
            return status(StatusCode::CONFLICT, "already exists");
        }
        let manager = query
            .split('&')
            .find_map(|p| p.strip_prefix("fieldManager="))
            .unwrap_or("unknown");
        let mut created = self.apply(&path, body);
        if created.status() == StatusCode::OK {
            let object = self.objects.get_mut(&path).unwrap();
            object["metadata"]["managedFields"] = json!([{"manager": manager, "operation": "Update",
                "apiVersion": object["apiVersion"], "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}}]);
            let object = object.clone();
            created = reply(StatusCode::CREATED, &object);
        }
        created
    }

    /// The API server's 422 for a Service asking for a node port another Service holds.
    fn node_port_taken(&self, path: &str, body: &Value) -> Option<Response<Body>> {
        let ports = body["spec"]["ports"].as_array()?;
        for (i, port) in ports.iter().enumerate() {
            let Some(wanted) = port["nodePort"].as_i64() else {
                continue;
            };
            let held = self.objects.iter().any(|(p, o)| {
                p != path
                    && p.contains("/services/")
                    && o["spec"]["ports"]
                        .as_array()
                        .is_some_and(|ps| ps.iter().any(|q| q["nodePort"].as_i64() == Some(wanted)))
            });
            if held {
                let name = body["metadata"]["name"].as_str().unwrap_or_default();
                let message = format!("Service {name:?} is invalid: spec.ports[{i}].nodePort: Invalid value: {wanted}: provided port is already allocated");
                return Some(status(StatusCode::UNPROCESSABLE_ENTITY, &message));
            }
        }
        None
    }
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn is_collection(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.first() {
        Some(&"api") => parts.len() == 5 || parts.len() == 3,
        _ => parts.len() == 6 || parts.len() == 4,
    }
}

fn selector(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("labelSelector="))
        .flat_map(|s| {
            let s = s
                .replace("%3D", "=")
                .replace("%2F", "/")
                .replace("%2C", ",");
            s.split(',')
                .filter_map(|term| term.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn matches(object: &Value, selector: &[(String, String)]) -> bool {
    selector
        .iter()
        .all(|(k, v)| object["metadata"]["labels"][k].as_str() == Some(v.as_str()))
}

fn reply(code: StatusCode, value: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(value).unwrap()))
        .unwrap()
}

fn status(code: StatusCode, message: &str) -> Response<Body> {
    let reason = match code {
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::CONFLICT => "Conflict",
        StatusCode::UNPROCESSABLE_ENTITY => "Invalid",
        _ => "InternalError",
    };
    reply(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

/// A DevStack `demo` in [`NS`] with `services` (YAML, indented by four), as the API server
/// would hand it over: uid, generation, our finalizer.
pub(crate) fn devstack(services: &str) -> DevStack {
    let mut stack = parse_devstack(&format!(
        "apiVersion: devstack.dev/v1alpha1\nkind: DevStack\nmetadata: {{name: demo}}\nspec:\n  services:\n{services}"
    ))
    .unwrap();
    stack.metadata.namespace = Some(NS.into());
    stack.metadata.uid = Some(UID.into());
    stack.metadata.generation = Some(1);
    stack.metadata.resource_version = Some("1".into());
    stack.metadata.finalizers = Some(vec![FINALIZER.into()]);
    stack
}
