//! The services' own output in `devstack dev`'s terminal: each line a container writes from now
//! on, as `service | line` on standard error, beside the sync counters. Followers re-attach to
//! the new container or pod after a restart, a rebuild or a rollout.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::query_parameters::LogsOptionsBuilder;
use devstack_docker::ops::project_containers;
use devstack_docker::DockerApi;
use futures_util::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

/// How often the containers of a service are looked up again (a recreated one is followed
/// from then on).
const RESCAN: Duration = Duration::from_secs(1);

fn print(service: &str, text: &str) {
    for line in text.lines() {
        eprintln!("{service} | {line}");
    }
}

/// Follows the running containers of `service` in Compose project `project` for the rest of
/// the process (or until the task is aborted); lines written before it started are not shown.
pub fn follow_docker<D>(docker: D, project: String, service: String) -> tokio::task::JoinHandle<()>
where
    D: DockerApi + Clone + Send + Sync + 'static,
{
    let since = now_secs();
    tokio::spawn(async move {
        let mut followed = BTreeSet::new();
        loop {
            if let Ok(containers) = project_containers(&docker, &project).await {
                let running = containers
                    .into_iter()
                    .filter(|c| c.service == service && c.running);
                for container in running {
                    if followed.insert(container.id.clone()) {
                        let (docker, service) = (docker.clone(), service.clone());
                        tokio::spawn(async move {
                            follow_container(&docker, &container.id, &service, since).await;
                        });
                    }
                }
            }
            tokio::time::sleep(RESCAN).await;
        }
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Follows container `id` from `since` (seconds); across restarts (a restart keeps the
/// container) until it is removed.
async fn follow_container<D: DockerApi>(docker: &D, id: &str, service: &str, mut since: u64) {
    loop {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .since(i32::try_from(since).unwrap_or(0))
            .build();
        let mut stream = docker.logs(id, Some(options));
        while let Some(Ok(chunk)) = stream.next().await {
            print(service, &chunk.to_string());
        }
        // The stream ends when the container stops.
        since = now_secs();
        loop {
            tokio::time::sleep(RESCAN).await;
            match docker.inspect_container(id, None).await {
                Ok(c) if c.state.as_ref().and_then(|s| s.running) == Some(true) => break,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
}

/// Follows container `service` of `pod` from its start until the pod goes away.
pub fn follow_pod(pods: Api<Pod>, pod: String, service: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let params = LogParams {
            follow: true,
            container: Some(service.clone()),
            ..LogParams::default()
        };
        let Ok(stream) = pods.log_stream(&pod, &params).await else {
            return;
        };
        let mut lines = stream.lines();
        while let Ok(Some(line)) = lines.try_next().await {
            print(&service, &line);
        }
    })
}
