//! The inner-loop fields of an image service: `build` (your Dockerfile, built by devstack),
//! `mounts` (host data in the container) and `sync` (source edits reaching the running
//! container under `devstack dev`). Paths on the host are relative to the stack file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Build the service's image from a Dockerfile. `image` then names the repository the result
/// is tagged into (default `<stack>/<service>`); the tag is derived from the build's content
/// (the context as filtered by `.dockerignore`, the Dockerfile, `target` and `args`), so Docker
/// and Kubernetes run the same image id. `devstack up` builds on Docker; `devstack build` /
/// `devstack apply` build and load the image for a cluster.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildSpec {
    /// Build context directory, relative to the stack file (for example `./backend`).
    pub context: String,
    /// Dockerfile path inside the context (default `Dockerfile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// Multi-stage target to build (for example `dev`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Build arguments (`ARG` values).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

/// Host data mounted into the container: a bind mount on Docker; a `hostPath` volume on
/// Kubernetes, only where the operator's allow-list of host path prefixes permits it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MountSpec {
    /// Host path, relative to the stack file or absolute.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    /// Mount read-only (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// Source kept in sync with the running container by `devstack dev`: a bind mount on Docker;
/// on Kubernetes an `emptyDir` at `target` filled and updated through the exec API.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncSpec {
    /// Host directory, relative to the stack file.
    pub source: String,
    /// Absolute path in the container.
    pub target: String,
    /// Patterns (`.gitignore` syntax) not synced, besides `.git` and `__pycache__`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<String>,
    /// Restart the container after a sync, for programs without a reload of their own
    /// (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
}
