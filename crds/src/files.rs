//! The spec types of a service's own files (`files`) and of an image service's named data
//! paths (`storage.volumes`): kept apart from [`crate::types`] so that file stays the map of
//! the resource.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A file placed in the container, read-only: exactly one of `content` and `source`.
/// Kubernetes mounts it from a ConfigMap (`subPath`), Docker bind-mounts a copy written under
/// `.devstack/<stack>/files/`; both give the same bytes and mode. Changing a file restarts the
/// services that mount it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[x_kube(validation = kube::core::Rule::new("has(self.content) != has(self.source)").message("set exactly one of content (the text) or source (a file next to the stack file)"))]
pub struct FileSpec {
    /// The file's text, written as is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// A file on your machine, relative to the stack file, read when the CLI renders or
    /// applies the stack. The operator cannot read your machine: a DevStack applied with
    /// `kubectl` must use `content` (`devstack render k8s` inlines sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Permission bits as a quoted octal string with its leading 0, for example `"0644"`
    /// (the default) or `"0600"`; the same in both runtimes. (A bare number is refused: YAML
    /// readers disagree on whether `0644` is octal, and `420` would mean 0420.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^0[0-7]{3}$')").message("mode is an octal string with a leading 0 such as \"0644\" (quote it)"))]
    pub mode: Option<String>,
}

/// A named data path of an image service (`storage.volumes`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StorageVolumeSpec {
    /// Volume name, a DNS label (the PVC / named volume is called after it).
    pub name: String,
    /// Absolute path in the container.
    pub path: String,
}
