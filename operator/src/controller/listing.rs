//! How a watch gets its initial state: as a streaming list (the objects sent as watch events,
//! `sendInitialEvents`) where the API server serves one — the `WatchList` gate, on by default
//! since Kubernetes 1.34 — else by LIST pages.
//!
//! Why: a LIST page is parsed at once, every object with its managedFields (and a workload
//! with its pod template) before the cache strips it; after a restart over 1,000 stacks every
//! watch lists at the same moment, and those pages were the process's high-water mark. A
//! streaming list hands over one object at a time. Where the server refuses it (the gate off,
//! as on 1.33, or an API server before 1.27 that forbids the parameters on a watch: either
//! answers 400 or 422 at once), the watch falls back to LIST pages for good, as client-go's
//! reflector does, instead of retrying a request that can never succeed.

use std::pin::Pin;

use futures::{Stream, StreamExt};
use kube::runtime::watcher;

/// A watch stream of `K`, boxed so that the streaming and the paged watch are one type.
type Events<K> = Pin<Box<dyn Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send>>;

/// The watch `start(config)` opens, with its initial state as a streaming list unless the API
/// server refuses one at its first answer; then `start(config)` as given (LIST pages).
pub(crate) fn streamed_or_paged<K, W, S>(
    start: W,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send
where
    K: Send + 'static,
    W: Fn(watcher::Config) -> S + Send + Sync + 'static,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
{
    let streaming: Events<K> = Box::pin(start(config.clone().streaming_lists()));
    let fallback = move || -> Events<K> { Box::pin(start(config.clone())) };
    futures::stream::unfold(
        (streaming, Some(fallback)),
        |(mut events, mut fallback)| async move {
            loop {
                let event = events.next().await?;
                if fallback.is_some() {
                    if refuses_streaming(&event) {
                        tracing::info!(
                            "the API server serves no streaming list (WatchList off): listing by pages"
                        );
                        if let Some(paged) = fallback.take() {
                            events = paged();
                        }
                        continue;
                    }
                    if event.is_ok() {
                        // The server answered the streaming watch: it serves them.
                        fallback = None;
                    }
                }
                return Some((event, (events, fallback)));
            }
        },
    )
}

/// Whether `event` is the API server's refusal of a streaming list's parameters (400 or 422),
/// not a passing failure (unreachable, forbidden, throttled) that a retry may get past.
fn refuses_streaming<K>(event: &Result<watcher::Event<K>, watcher::Error>) -> bool {
    matches!(
        event,
        Err(watcher::Error::WatchStartFailed(kube::Error::Api(status)))
            if status.code == 400 || status.code == 422
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use http::{Request, Response};
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::client::Body;
    use kube::runtime::watcher::Event;
    use kube::{Api, Client};
    use serde_json::json;
    use tower_test::mock;

    type Seen = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

    /// A fake API server that answers the watches and lists of ConfigMaps in `test`: a
    /// streaming watch is refused with `streaming_status` (200: served, one object then the
    /// end of the initial events), a list returns one object. Records each request's query.
    fn fake(streaming_status: u16) -> (Client, Seen, tokio::task::JoinHandle<()>) {
        let (service, mut handle) = mock::pair::<Request<Body>, Response<Body>>();
        let seen = Seen::default();
        let recorded = seen.clone();
        let server = tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let query = request.uri().query().unwrap_or_default().to_string();
                recorded.lock().unwrap().push(query.clone());
                let (status, body) = answer(&query, streaming_status);
                let response = Response::builder().status(status);
                send.send_response(response.body(Body::from(body.into_bytes())).unwrap());
            }
        });
        (Client::new(service, "test"), seen, server)
    }

    fn answer(query: &str, streaming_status: u16) -> (u16, String) {
        let object =
            json!({"metadata": {"name": "a", "namespace": "test", "resourceVersion": "5"}});
        if query.contains("sendInitialEvents=true") {
            if streaming_status != 200 {
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "sendInitialEvents is forbidden", "reason": "Invalid",
                    "code": streaming_status});
                return (streaming_status, status.to_string());
            }
            let added = json!({"type": "ADDED", "object": object});
            let end = json!({"type": "BOOKMARK", "object": {"kind": "ConfigMap",
                "apiVersion": "v1", "metadata": {"resourceVersion": "6",
                "annotations": {"k8s.io/initial-events-end": "true"}}}});
            return (200, format!("{added}\n{end}\n"));
        }
        if query.contains("watch=true") {
            return (200, String::new());
        }
        let list = json!({"kind": "ConfigMapList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "6"}, "items": [object]});
        (200, list.to_string())
    }

    async fn initial_events(client: Client) -> Vec<String> {
        let api: Api<ConfigMap> = Api::namespaced(client, "test");
        let events = streamed_or_paged(move |c| watcher(api.clone(), c), Default::default());
        let mut events = std::pin::pin!(events);
        let mut names = Vec::new();
        while let Some(event) = events.next().await {
            match event.expect("no error reaches the controller") {
                Event::Init => names.push("init".to_string()),
                Event::InitApply(o) => names.push(o.metadata.name.unwrap()),
                Event::InitDone => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        names
    }

    #[tokio::test]
    async fn a_server_that_serves_streaming_lists_is_not_listed() {
        let (client, seen, server) = fake(200);
        assert_eq!(initial_events(client).await, ["init", "a"]);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].contains("sendInitialEvents=true"), "{seen:?}");
        server.abort();
    }

    #[tokio::test]
    async fn a_refused_streaming_list_falls_back_to_pages_at_once() {
        for refusal in [422, 400] {
            let (client, seen, server) = fake(refusal);
            assert_eq!(initial_events(client).await, ["init", "a"], "{refusal}");
            let seen = seen.lock().unwrap().clone();
            assert_eq!(seen.len(), 2, "{seen:?}");
            assert!(seen[0].contains("sendInitialEvents=true"), "{seen:?}");
            assert!(!seen[1].contains("watch"), "a LIST: {seen:?}");
            server.abort();
        }
    }

    #[test]
    fn only_a_refusal_of_the_parameters_falls_back() {
        let refusal = |code| -> Result<Event<ConfigMap>, watcher::Error> {
            let status = kube::core::Status::failure("no", "Invalid").with_code(code);
            Err(watcher::Error::WatchStartFailed(kube::Error::Api(
                Box::new(status),
            )))
        };
        assert!(refuses_streaming(&refusal(422)));
        assert!(refuses_streaming(&refusal(400)));
        assert!(!refuses_streaming(&refusal(403)));
        assert!(!refuses_streaming(&refusal(429)));
        assert!(!refuses_streaming::<ConfigMap>(&Ok(Event::Init)));
    }
}
