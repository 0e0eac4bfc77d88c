//! Events, published as kube's `Recorder` publishes them (events.k8s.io/v1; the same Event
//! again within six minutes becomes a series on the first one), without keeping each published
//! Event whole for those six minutes. kube's recorder keeps its key and the whole Event
//! (≈ 3 KB: an `Applied` note names up to 21 objects, and the stack's reference is held
//! twice), ≈ 6 KB per stack while its rollout's Events are young: a 1,000-stack creation takes
//! about six minutes, so it held all of them at its peak (issue 21, K2). Here a published Event
//! is the hash of its key, its name, its count and when it was last published.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use kube::Client;
use serde_json::json;

/// How long a published Event takes repeats as a series (kube's recorder's, and client-go's).
const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// Publishes Events for one controller.
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    published: Mutex<HashMap<u64, Published>>,
}

/// An Event published within [`SERIES_WINDOW`].
struct Published {
    name: Box<str>,
    count: i32,
    last: Timestamp,
}

impl Recorder {
    /// A recorder that publishes as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Self {
        Recorder {
            client,
            reporter,
            published: Mutex::default(),
        }
    }

    /// Publishes `event` about `regarding`: created, or, when the same Event (type, action,
    /// reason, reporter and regarding object) was published within [`SERIES_WINDOW`], counted
    /// on it as a series.
    pub async fn publish(&self, event: &Event, regarding: &ObjectReference) -> kube::Result<()> {
        let now = Timestamp::now();
        let key = self.key(event, regarding);
        let repeat = {
            let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
            published.retain(|_, p| p.last + SERIES_WINDOW > now);
            published.get(&key).map(|p| (p.name.clone(), p.count + 1))
        };
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api = Api::<K8sEvent>::namespaced(self.client.clone(), namespace);
        let (name, count) = match repeat {
            Some((name, count)) => {
                let series =
                    json!({"series": {"count": count, "lastObservedTime": MicroTime(now)}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                    .await?;
                (name, count)
            }
            None => {
                let created = self.generate(event, regarding, now);
                api.create(&PostParams::default(), &created).await?;
                (created.metadata.name.unwrap_or_default().into(), 1)
            }
        };
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        published.insert(
            key,
            Published {
                name,
                count,
                last: now,
            },
        );
        Ok(())
    }

    /// How many Events are young enough to take a series.
    #[cfg(test)]
    fn published(&self) -> usize {
        self.published.lock().map(|p| p.len()).unwrap_or_default()
    }

    /// What makes two Events the same one (kube's recorder's key).
    fn key(&self, event: &Event, regarding: &ObjectReference) -> u64 {
        let mut hasher = DefaultHasher::new();
        (event.type_ == EventType::Warning).hash(&mut hasher);
        (&event.action, &event.reason).hash(&mut hasher);
        (&self.reporter.controller, &self.reporter.instance).hash(&mut hasher);
        for reference in std::iter::once(regarding).chain(event.secondary.as_ref()) {
            (&reference.api_version, &reference.kind).hash(&mut hasher);
            (&reference.namespace, &reference.name, &reference.uid).hash(&mut hasher);
        }
        hasher.finish()
    }

    /// The Event object kube's recorder would create.
    fn generate(&self, event: &Event, regarding: &ObjectReference, now: Timestamp) -> K8sEvent {
        let controller = &self.reporter.controller;
        let name = regarding.name.as_ref().unwrap_or(controller);
        K8sEvent {
            action: Some(event.action.clone()),
            reason: Some(event.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: event.note.clone(),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| controller.clone()),
            ),
            type_: Some(match event.type_ {
                EventType::Normal => "Normal".into(),
                EventType::Warning => "Warning".into(),
            }),
            related: event.secondary.clone(),
            ..K8sEvent::default()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use http::Method;

    use super::*;
    use crate::controller::fixtures::{FakeApi, NS};

    fn regarding(name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("devstack.dev/v1alpha1".into()),
            kind: Some("DevStack".into()),
            name: Some(name.into()),
            namespace: Some(NS.into()),
            uid: Some(format!("uid-{name}")),
            ..ObjectReference::default()
        }
    }

    /// A recorder reporting as the operator (`instance`: its pod's name) through `client`.
    fn recorder(client: &Client, instance: Option<&str>) -> Recorder {
        let reporter = Reporter {
            controller: "devstack-operator".into(),
            instance: instance.map(str::to_string),
        };
        Recorder::new(client.clone(), reporter)
    }

    fn event(reason: &str, note: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note.into()),
            action: "Applying".into(),
            secondary: None,
        }
    }

    #[tokio::test]
    async fn a_repeat_is_a_series_on_the_first_event_and_others_are_created() {
        let (fake, ctx) = FakeApi::start();
        let recorder = recorder(&ctx.client, None);
        recorder
            .publish(&event("Applied", "applied 2 object(s)"), &regarding("a"))
            .await
            .unwrap();
        recorder
            .publish(&event("Applied", "applied 1 object(s)"), &regarding("a"))
            .await
            .unwrap();
        recorder
            .publish(&event("Applied", "x"), &regarding("a"))
            .await
            .unwrap();
        recorder
            .publish(&event("Ready", "x"), &regarding("a"))
            .await
            .unwrap();
        recorder
            .publish(&event("Applied", "x"), &regarding("b"))
            .await
            .unwrap();
        let requests = fake.take_requests();
        let created = &requests[0].body;
        assert_eq!(requests[0].method, Method::POST);
        assert_eq!(created["reason"], "Applied");
        assert_eq!(created["note"], "applied 2 object(s)");
        assert_eq!(created["reportingController"], "devstack-operator");
        assert_eq!(created["reportingInstance"], "devstack-operator");
        assert_eq!(created["regarding"]["name"], "a");
        assert_eq!(created["type"], "Normal");
        let name = created["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("a."), "{name}");
        let series: Vec<(Method, String, serde_json::Value)> = requests[1..3]
            .iter()
            .map(|r| (r.method.clone(), r.path.clone(), r.body.clone()))
            .collect();
        for (at, (method, path, body)) in series.iter().enumerate() {
            assert_eq!(method, Method::PATCH);
            assert!(path.ends_with(&format!("/events/{name}")), "{path}");
            assert_eq!(body["series"]["count"], at + 2);
            assert!(body["series"]["lastObservedTime"].is_string(), "{body}");
        }
        // Another reason, another object: Events of their own.
        assert_eq!(requests[3].method, Method::POST);
        assert_eq!(requests[3].body["reason"], "Ready");
        assert_eq!(requests[4].method, Method::POST);
        assert_eq!(requests[4].body["regarding"]["name"], "b");
        assert_eq!(recorder.published(), 3);
    }

    #[tokio::test]
    async fn an_event_older_than_the_window_is_forgotten_and_created_anew() {
        let (fake, ctx) = FakeApi::start();
        let recorder = recorder(&ctx.client, Some("pod-1"));
        recorder
            .publish(&event("Applied", "x"), &regarding("a"))
            .await
            .unwrap();
        for published in recorder.published.lock().unwrap().values_mut() {
            published.last -= SERIES_WINDOW;
        }
        recorder
            .publish(&event("Applied", "x"), &regarding("a"))
            .await
            .unwrap();
        let methods: Vec<Method> = fake.take_requests().into_iter().map(|r| r.method).collect();
        assert_eq!(methods, [Method::POST, Method::POST]);
        assert_eq!(recorder.published(), 1);
    }

    #[tokio::test]
    async fn a_failed_publish_is_not_counted() {
        let (fake, ctx) = FakeApi::start();
        fake.fail(&format!("/apis/events.k8s.io/v1/namespaces/{NS}/events"));
        let recorder = recorder(&ctx.client, None);
        let published = recorder
            .publish(&event("Applied", "x"), &regarding("a"))
            .await;
        assert!(published.is_err());
        assert_eq!(recorder.published(), 0);
    }
}
