//! How Docker Compose v2 names and labels the objects of a project, spelled once: the driver
//! creates its networks, volumes and containers with exactly these names and labels, so
//! `docker compose -p NAME ps / logs / down` manage what `devstack up` started and the driver
//! finds what `docker compose up` started.

use std::collections::{BTreeMap, HashMap};

/// Project name (every object).
pub const PROJECT: &str = "com.docker.compose.project";
/// Service name (containers).
pub const SERVICE: &str = "com.docker.compose.service";
/// Replica number, from 1 (containers).
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
/// Hash of the configuration the object was created from; Compose recreates an object whose
/// hash differs from the file's.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// `False` for service containers (`True` for `docker compose run`).
pub const ONEOFF: &str = "com.docker.compose.oneoff";
/// Directory of the compose file (containers).
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// Comma-separated compose files (containers).
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// Version of the tool that created the object.
pub const VERSION: &str = "com.docker.compose.version";
/// Image id the container was created from; Compose recreates when the tag moved.
pub const IMAGE: &str = "com.docker.compose.image";
/// `dep:condition:restart` list (containers).
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// Network key in the compose file (networks).
pub const NETWORK: &str = "com.docker.compose.network";
/// Volume key in the compose file (volumes).
pub const VOLUME: &str = "com.docker.compose.volume";

/// What devstack writes into [`VERSION`]: who created the object (Compose only displays it).
pub const CREATOR_VERSION: &str = concat!("devstack-", env!("CARGO_PKG_VERSION"));

/// Docker name of network `key` of `project` (`<project>_<key>`).
pub fn network_name(project: &str, key: &str) -> String {
    format!("{project}_{key}")
}

/// Docker name of volume `key` of `project` (`<project>_<key>`).
pub fn volume_name(project: &str, key: &str) -> String {
    format!("{project}_{key}")
}

/// Container name of replica `number` of `service` (`<project>-<service>-<n>`).
pub fn container_name(project: &str, service: &str, number: u32) -> String {
    format!("{project}-{service}-{number}")
}

/// The project's default network key (services of an `open` stack are all on it).
pub const DEFAULT_NETWORK: &str = "default";

/// devstack's own label naming the stack (the renderer writes it on every service, network
/// and volume of the compose file; the driver on everything it creates). The driver reuses
/// or deletes an object only when it carries this label for its stack, never on Compose's
/// project label alone: an unrelated `docker compose` project of the same name is left alone.
pub const STACK: &str = devstack_core::conventions::LABEL_STACK;

/// Label filter selecting every object of stack `project`: Compose's project label and
/// devstack's stack label, both (the engine ANDs label filters).
pub fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{PROJECT}={project}"), format!("{STACK}={project}")],
    )])
}

/// Whether `labels` mark an object as stack `project`'s own.
pub fn is_own<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)>,
    project: &str,
) -> bool {
    labels.into_iter().any(|(k, v)| k == STACK && v == project)
}

/// Labels of a network: the compose file's labels plus Compose's own.
pub fn network_labels(
    project: &str,
    key: &str,
    own: &BTreeMap<String, String>,
    hash: &str,
) -> HashMap<String, String> {
    resource_labels(project, (NETWORK, key), own, hash)
}

/// Labels of a named volume: the compose file's labels plus Compose's own.
pub fn volume_labels(
    project: &str,
    key: &str,
    own: &BTreeMap<String, String>,
    hash: &str,
) -> HashMap<String, String> {
    resource_labels(project, (VOLUME, key), own, hash)
}

/// `own` plus the project, the resource's key under `kind_label`, the version and the hash.
fn resource_labels(
    project: &str,
    (kind_label, key): (&str, &str),
    own: &BTreeMap<String, String>,
    hash: &str,
) -> HashMap<String, String> {
    let mut labels: HashMap<String, String> =
        own.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.insert(PROJECT.to_string(), project.to_string());
    labels.insert(STACK.to_string(), project.to_string());
    labels.insert(kind_label.to_string(), key.to_string());
    labels.insert(VERSION.to_string(), CREATOR_VERSION.to_string());
    labels.insert(CONFIG_HASH.to_string(), hash.to_string());
    labels
}

/// Everything Compose records on a service container besides the service's own labels.
#[derive(Clone, Debug)]
pub struct ContainerLabels<'a> {
    /// Project name.
    pub project: &'a str,
    /// Service name.
    pub service: &'a str,
    /// Replica number.
    pub number: u32,
    /// Compose configuration hash of the service.
    pub hash: &'a str,
    /// Image id.
    pub image_id: &'a str,
    /// `depends_on` entries as `dep:condition:false`.
    pub depends_on: String,
    /// Directory of the compose file.
    pub working_dir: &'a str,
    /// The compose file.
    pub config_file: &'a str,
}

impl ContainerLabels<'_> {
    /// The labels, merged over the service's own.
    pub fn merged(&self, own: &BTreeMap<String, String>) -> HashMap<String, String> {
        let mut labels: HashMap<String, String> =
            own.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for (key, value) in [
            (PROJECT, self.project.to_string()),
            (STACK, self.project.to_string()),
            (SERVICE, self.service.to_string()),
            (CONTAINER_NUMBER, self.number.to_string()),
            (CONFIG_HASH, self.hash.to_string()),
            (ONEOFF, "False".to_string()),
            (WORKING_DIR, self.working_dir.to_string()),
            (CONFIG_FILES, self.config_file.to_string()),
            (VERSION, CREATOR_VERSION.to_string()),
            (IMAGE, self.image_id.to_string()),
            (DEPENDS_ON, self.depends_on.clone()),
        ] {
            labels.insert(key.to_string(), value);
        }
        labels
    }
}
