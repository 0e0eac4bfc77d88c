//! Names and conventions, spelled once: the labels and annotations devstack puts on what it
//! creates, the form of generated names, host names and environment variable keys, and the
//! text rules both ways ([`kubelet`] `$(VAR)` expansion, [`compose`] `$$` / `${VAR}`
//! interpolation, [`health`] check commands). Both renderers write with them and
//! `devstack parity` reads back with them.

pub mod compose;
pub mod health;
pub mod kubelet;

/// Label naming the stack an object belongs to (Kubernetes objects, Compose services, volumes
/// and networks).
pub const LABEL_STACK: &str = "devstack.dev/stack";
/// Label naming the service an object belongs to.
pub const LABEL_SERVICE: &str = "devstack.dev/service";
/// Compose volume label with the requested size (Docker cannot enforce it; kept for parity).
pub const LABEL_SIZE: &str = "devstack.dev/size";
/// Compose volume label / Kubernetes Secret annotation: the data (and the credentials that
/// protect it) survives deleting the stack.
pub const RETAIN_ON_DELETE: &str = "devstack.dev/retain-on-delete";
/// Workload annotation: the services (comma-separated, sorted) that must be Ready first.
pub const ANNOTATION_DEPENDS_ON: &str = "devstack.dev/depends-on";
/// Pod-template annotation / Compose service label: a digest of the service's files, so a
/// changed file restarts the services that mount it (in Kubernetes and in Docker).
pub const ANNOTATION_FILES_HASH: &str = "devstack.dev/files-hash";
/// Directory, beside the compose file, of the files the Docker side bind-mounts
/// (`files/<service>/<key>`).
pub const FILES_DIR: &str = "files";
/// Value of `app.kubernetes.io/managed-by`.
pub const MANAGED_BY: &str = "devstack";
/// Kubernetes extended resource of NVIDIA GPUs (the device plugin's name).
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";
/// Env key telling a service with `gpu` that it runs on CPU (value `0`): no node offers
/// [`GPU_RESOURCE`] (Kubernetes) or the engine has no NVIDIA runtime (Docker).
pub const GPU_ENV: &str = "DEVSTACK_GPU";
/// Compose device driver of NVIDIA GPUs.
pub const GPU_DRIVER: &str = "nvidia";
/// Namespace assumed in host names when the plan has none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// In-cluster host name of a service: `<service>.<namespace>.svc`.
pub fn k8s_host(service: &str, namespace: &str) -> String {
    format!("{service}.{namespace}.svc")
}

/// Suffix of the NodePort Service that carries a service's published ports.
pub const NODE_PORT_SERVICE_SUFFIX: &str = "-nodeport";

/// Name of the NodePort Service of `service`: only its published ports, at their planned node
/// ports (the Service named `service` is a ClusterIP Service with every port, for in-cluster
/// DNS). A service with host ports has a name of at most 54 characters, so this is a label.
pub fn node_port_service(service: &str) -> String {
    format!("{service}{NODE_PORT_SERVICE_SUFFIX}")
}

/// The service of a Kubernetes host name `<service>.<namespace>.svc`, if `host` is one.
pub fn service_of_k8s_host<'a>(host: &'a str, namespace: &str) -> Option<&'a str> {
    host.strip_suffix(".svc")?
        .strip_suffix(namespace)?
        .strip_suffix('.')
}

/// Name of the Kubernetes Secret with the generated credentials of `stack`.
pub fn credentials_secret(stack: &str) -> String {
    format!("{stack}-credentials")
}

/// Name of the Kubernetes Secret with every service's connection settings of `stack`.
pub fn connections_secret(stack: &str) -> String {
    format!("{stack}-connections")
}

/// Name of the Kubernetes ConfigMap with the files of `service`.
pub fn files_config_map(service: &str) -> String {
    format!("{service}-files")
}

/// `backtest-worker-1` → `BACKTEST_WORKER_1`.
pub fn upper_snake(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `DEVSTACK_<SERVICE>_<NAME>`: the text of a [`crate::template::SecretId`].
pub(crate) fn secret_id(service: &str, name: &str) -> String {
    format!("DEVSTACK_{}_{}", upper_snake(service), upper_snake(name))
}

/// A connection output key: `<SERVICE>_<SUFFIX>` (`POSTGRES_URL`).
pub fn connection_key(service: &str, suffix: &str) -> String {
    format!("{}_{suffix}", upper_snake(service))
}

/// Whether `name` is an RFC 1123 DNS label of at most `max` characters.
pub fn is_dns_label(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes[0].is_ascii_lowercase()
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// Whether `key` can be an environment variable and a Compose interpolation
/// (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn is_env_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_round_trip() {
        let host = k8s_host("db", "team");
        assert_eq!(host, "db.team.svc");
        assert_eq!(service_of_k8s_host(&host, "team"), Some("db"));
        assert_eq!(service_of_k8s_host("db.other.svc", "team"), None);
        assert_eq!(service_of_k8s_host("dbteam.svc", "team"), None);
    }

    #[test]
    fn env_keys() {
        assert!(is_env_key("DEVSTACK_A_1"));
        assert!(is_env_key("_x"));
        assert!(!is_env_key("1A"));
        assert!(!is_env_key("A-B"));
        assert!(!is_env_key(""));
    }

    #[test]
    fn dns_labels() {
        assert!(is_dns_label("a-1", 63));
        assert!(!is_dns_label("a-", 63));
        assert!(!is_dns_label("1a", 63));
        assert!(!is_dns_label("abc", 2));
        assert!(!is_dns_label("", 63));
    }

    #[test]
    fn generated_names() {
        assert_eq!(upper_snake("backtest-worker-1"), "BACKTEST_WORKER_1");
        assert_eq!(secret_id("my-db", "password"), "DEVSTACK_MY_DB_PASSWORD");
        assert_eq!(connection_key("my-db", "URL"), "MY_DB_URL");
        assert_eq!(credentials_secret("shop"), "shop-credentials");
        assert_eq!(connections_secret("shop"), "shop-connections");
    }
}
