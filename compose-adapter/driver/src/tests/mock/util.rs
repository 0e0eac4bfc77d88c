//! The mock's small helpers: errors, ready futures, label filters.

use std::collections::HashMap;
use std::future::{ready, Future};

use bollard::errors::Error;

use super::MockDocker;
use crate::api::ApiResult;

pub(super) type Labels = HashMap<String, String>;

/// Whether `labels` pass the `label` filters (`k=v`, all of them), as the engine decides.
pub(super) fn passes(labels: &Labels, filters: Option<&HashMap<String, Vec<String>>>) -> bool {
    let wanted = filters.and_then(|f| f.get("label")).into_iter().flatten();
    wanted.into_iter().all(|w| match w.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(w.as_str()),
    })
}

pub(super) fn not_found(what: &str) -> Error {
    Error::DockerResponseServerError {
        status_code: 404,
        message: format!("No such {what}"),
    }
}

pub(super) fn done<T: Send + 'static>(
    value: ApiResult<T>,
) -> impl Future<Output = ApiResult<T>> + Send {
    ready(value)
}

/// What a test reads back, and a volume someone else made.
impl MockDocker {
    /// The container with this id or name.
    pub(super) fn find(&self, id_or_name: &str) -> Option<super::Container> {
        self.with(|s| {
            s.containers
                .iter()
                .find(|c| c.id == id_or_name || c.name == id_or_name)
                .cloned()
        })
    }

    /// Every call so far, in order (`start demo-db-1`, `remove demo-api-1`, …).
    pub fn calls(&self) -> Vec<String> {
        self.with(|s| s.calls.clone())
    }

    /// Names of the containers it holds.
    pub fn containers(&self) -> Vec<String> {
        self.with(|s| s.containers.iter().map(|c| c.name.clone()).collect())
    }

    /// Names of the networks and volumes it holds.
    pub fn networks_and_volumes(&self) -> (Vec<String>, Vec<String>) {
        self.with(|s| {
            (
                s.networks.keys().cloned().collect(),
                s.volumes.keys().cloned().collect(),
            )
        })
    }

    /// The environment (`KEY=VALUE`) of every container it holds, by name.
    pub fn container_env(&self) -> Vec<(String, Vec<String>)> {
        self.with(|s| {
            s.containers
                .iter()
                .map(|c| (c.name.clone(), c.env.clone()))
                .collect()
        })
    }

    /// A volume someone else made (`docker compose` of another project of the same name).
    pub fn add_volume(&self, name: &str, labels: &[(&str, &str)]) {
        let labels = labels.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        self.with(|s| s.volumes.insert(name.to_string(), labels.collect()));
    }

    /// Id, image and whether it runs, of the container named `name`.
    pub fn container(&self, name: &str) -> Option<(String, String, bool)> {
        self.find(name).map(|c| (c.id, c.image, c.running))
    }
}
