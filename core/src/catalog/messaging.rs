//! Messaging: Apache Kafka (single-node KRaft), NATS (with JetStream) and RabbitMQ.

use super::{
    java_heap, CatalogEntry, CatalogPort, EntryContext, EntryParts, Health, SecretSpec, SizePreset,
};
use crate::template::Template;

const PASSWORD: &[SecretSpec] = &[SecretSpec {
    name: "password",
    length: 32,
}];

/// The user name of the services whose image takes any name.
const USER: &str = "devstack";

// --- Kafka -----------------------------------------------------------------------------------

/// FNV-1a, 64 bit, continuing from `state` (start with the offset basis).
fn fnv1a64(mut state: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        state ^= u64::from(b);
        state = state.wrapping_mul(0x0000_0100_0000_01b3);
    }
    state
}

/// Unpadded base64url, the encoding of Kafka's `Uuid.toString()`.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// A stable KRaft cluster id for one service of one stack: 16 bytes (two FNV-1a 64 hashes of
/// stack and service) as 22 base64url characters. Not a secret; it only has to be the same on
/// every start (the data directory is formatted with it) and in both modes.
pub(crate) fn kafka_cluster_id(stack: &str, service: &str) -> String {
    const BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    let first = fnv1a64(
        fnv1a64(fnv1a64(BASIS, b"devstack/kafka\0"), stack.as_bytes()),
        format!("\0{service}").as_bytes(),
    );
    let second = fnv1a64(first, b"\0cluster-id");
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&first.to_be_bytes());
    bytes[8..].copy_from_slice(&second.to_be_bytes());
    // Kafka's own generator never starts an id with `-` (scripts would read it as a flag):
    // clearing the top bit keeps the first character in `A`..`f`.
    bytes[0] &= 0x7f;
    base64url(&bytes)
}

fn build_kafka(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    // Setting any KAFKA_* variable replaces the image's server.properties, so the whole
    // single-node KRaft configuration is spelled out.
    parts.env_lit("CLUSTER_ID", kafka_cluster_id(ctx.stack, ctx.service));
    parts.env_lit("KAFKA_NODE_ID", "1");
    parts.env_lit("KAFKA_PROCESS_ROLES", "broker,controller");
    parts.env_lit("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093");
    parts.env_lit("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER");
    // LOCAL is advertised as 127.0.0.1: the health check and the broker's connections to
    // itself never depend on the service name resolving to a Ready endpoint (a Kubernetes
    // Service publishes the pod only once this very check passes).
    // EXTERNAL is for clients on the host: it advertises 127.0.0.1:<hostPorts.external>, which
    // is where both modes publish it (Compose binds 127.0.0.1, Kind maps the node port there).
    parts.env_lit(
        "KAFKA_LISTENERS",
        "PLAINTEXT://:9092,CONTROLLER://:9093,LOCAL://127.0.0.1:9094,EXTERNAL://:9095",
    );
    let external = match ctx.host_ports.get("external") {
        Some(port) => Template::lit(format!(",EXTERNAL://127.0.0.1:{port}")),
        None => Template::lit(",EXTERNAL://")
            .push_host(ctx.service)
            .push_lit(":9095"),
    };
    let mut advertised = Template::lit("PLAINTEXT://")
        .push_host(ctx.service)
        .push_lit(":9092,LOCAL://127.0.0.1:9094");
    advertised.0.extend(external.0);
    parts.env.insert(
        "KAFKA_ADVERTISED_LISTENERS".into(),
        super::EnvValue::Template(advertised),
    );
    parts.env_lit(
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
        "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,LOCAL:PLAINTEXT,EXTERNAL:PLAINTEXT",
    );
    parts.env_lit("KAFKA_INTER_BROKER_LISTENER_NAME", "LOCAL");
    parts.env_lit("KAFKA_LOG_DIRS", "/var/lib/kafka/data");
    for key in [
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ] {
        parts.env_lit(key, "1");
    }
    parts.env_lit("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0");
    // The start script defaults to a 1 GiB heap, as large as the whole limit. (The image's
    // property renderer excludes `KAFKA_HEAP_OPT`, not `_OPTS`, so this also lands in
    // server.properties as `heap.opts`; the broker ignores unknown properties.)
    parts.env_lit("KAFKA_HEAP_OPTS", java_heap(ctx));
    // The tool is a second JVM in the same container: give it a small heap of its own rather
    // than the broker's KAFKA_HEAP_OPTS.
    parts.health = Some(
        Health::shell(
            "KAFKA_HEAP_OPTS=-Xmx128m /opt/kafka/bin/kafka-broker-api-versions.sh \
             --bootstrap-server 127.0.0.1:9094 > /dev/null",
        )
        .start_period(60)
        .timeout(10),
    );
    parts.data("data", "/var/lib/kafka/data");
    let bootstrap = Template::default().push_host(ctx.service).push_lit(":9092");
    parts.connect(ctx, bootstrap.clone(), 9092);
    parts.output("BOOTSTRAP_SERVERS", bootstrap);
    parts
}

/// Apache Kafka, official `apache/kafka` image (Alpine; `appuser` is 1000). Its start script
/// writes the generated server.properties under /opt/kafka/config, so the root filesystem
/// stays writable.
pub const KAFKA: CatalogEntry = CatalogEntry {
    type_name: "kafka",
    description: "Apache Kafka event streaming (single-node KRaft)",
    repository: "apache/kafka",
    default_version: "4.1.1",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "kafka",
            port: 9092,
        },
        CatalogPort {
            name: "controller",
            port: 9093,
        },
        CatalogPort {
            name: "external",
            port: 9095,
        },
    ],
    uid: 1000,
    gid: 1000,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Small,
    secrets: &[],
    build: build_kafka,
};

// --- NATS ------------------------------------------------------------------------------------

fn build_nats(ctx: &EntryContext) -> EntryParts {
    // Args replace the image's CMD (`--config …`): the entrypoint prepends nats-server to
    // arguments that start with a dash. The monitor port stays on for the health check.
    let mut parts = EntryParts {
        args: Some(vec![
            "--user".into(),
            USER.into(),
            "--pass".into(),
            ctx.secret("password"),
            "-js".into(),
            "-sd".into(),
            "/data".into(),
            "-m".into(),
            "8222".into(),
        ]),
        health: Some(Health::wget("http://127.0.0.1:8222/healthz")),
        ..EntryParts::default()
    };
    parts.env_secret("NATS_PASSWORD", ctx, "password");
    parts.data("data", "/data");
    let url = Template::lit(format!("nats://{USER}:"))
        .push_secret(ctx.secret_id("password"))
        .push_lit("@")
        .push_host(ctx.service)
        .push_lit(":4222");
    parts.connect(ctx, url, 4222);
    parts.output("USER", USER);
    parts.output("PASSWORD", ctx.secret("password"));
    parts
}

/// NATS with JetStream (`-alpine` tag: it has a shell and wget for the health check; runs as
/// root and writes only to the JetStream store).
pub const NATS: CatalogEntry = CatalogEntry {
    type_name: "nats",
    description: "NATS messaging with JetStream",
    repository: "nats",
    default_version: "2.12.3-alpine",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "client",
            port: 4222,
        },
        CatalogPort {
            name: "monitor",
            port: 8222,
        },
    ],
    uid: 0,
    gid: 0,
    read_only_root: true,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Nano,
    secrets: PASSWORD,
    build: build_nats,
};

// --- RabbitMQ --------------------------------------------------------------------------------

/// A vhost as one URL path segment (`/` → `%2F`).
fn vhost_segment(vhost: &str) -> String {
    vhost.replace('%', "%25").replace('/', "%2F")
}

fn build_rabbitmq(ctx: &EntryContext) -> EntryParts {
    let mut parts = EntryParts::default();
    let user = ctx.env_or("RABBITMQ_DEFAULT_USER", USER);
    let vhost = ctx.env_or("RABBITMQ_DEFAULT_VHOST", "/");
    parts.env_lit("RABBITMQ_DEFAULT_USER", user.clone());
    parts.env_secret("RABBITMQ_DEFAULT_PASS", ctx, "password");
    parts.env_lit("RABBITMQ_DEFAULT_VHOST", vhost.clone());
    // The data directory is named after the node, and the node after the host name, which
    // differs between containers and pods: a fixed node name keeps the data across restarts
    // in both modes. The CLI tools read the same variable.
    parts.env_lit("RABBITMQ_NODENAME", "rabbit@localhost");
    parts.health = Some(
        Health::exec(&["rabbitmq-diagnostics", "-q", "ping"])
            .start_period(60)
            .timeout(10),
    );
    parts.data("data", "/var/lib/rabbitmq");
    let url = Template::lit(format!("amqp://{user}:"))
        .push_secret(ctx.secret_id("password"))
        .push_lit("@")
        .push_host(ctx.service)
        .push_lit(format!(":5672/{}", vhost_segment(&vhost)));
    parts.connect(ctx, url, 5672);
    parts.output("USER", user);
    parts.output("PASSWORD", ctx.secret("password"));
    parts.output("VHOST", vhost);
    parts.output("MANAGEMENT_URL", super::http_url(ctx, 15672, ""));
    parts
}

/// RabbitMQ with the management plugin (runs as 999).
pub const RABBITMQ: CatalogEntry = CatalogEntry {
    type_name: "rabbitmq",
    description: "RabbitMQ message broker with the management UI",
    repository: "rabbitmq",
    default_version: "4.2.2-management",
    stateful: true,
    ports: &[
        CatalogPort {
            name: "amqp",
            port: 5672,
        },
        CatalogPort {
            name: "management",
            port: 15672,
        },
        CatalogPort {
            name: "prometheus",
            port: 15692,
        },
    ],
    uid: 999,
    gid: 999,
    read_only_root: false,
    writable_paths: &[],
    add_capabilities: &[],
    size: SizePreset::Micro,
    secrets: PASSWORD,
    build: build_rabbitmq,
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::EnvValue;

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(base64url(&[0u8; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn fnv1a64_matches_the_reference() {
        assert_eq!(fnv1a64(0xcbf2_9ce4_8422_2325, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(0xcbf2_9ce4_8422_2325, b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn kafka_cluster_id_is_stable_and_kafka_shaped() {
        let id = kafka_cluster_id("demo", "kafka");
        assert_eq!(id, kafka_cluster_id("demo", "kafka"));
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(id, kafka_cluster_id("other", "kafka"));
        assert_ne!(id, kafka_cluster_id("demo", "events"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(kafka_cluster_id("ab", "c"), kafka_cluster_id("a", "bc"));
        for i in 0..2000 {
            let id = kafka_cluster_id(&format!("stack-{i}"), "kafka");
            assert!(!id.starts_with('-') && !id.starts_with('_'), "{id}");
        }
    }

    #[test]
    fn kafka_env_carries_the_cluster_id_and_sized_heap() {
        let env = BTreeMap::new();
        let ctx = EntryContext {
            stack: "shop",
            service: "events",
            version: "4.1.1",
            user_env: &env,
            memory_limit_bytes: 1 << 30,
            host_ports: &BTreeMap::new(),
        };
        let parts = (KAFKA.build)(&ctx);
        let lit = |key: &str| match parts.env.get(key) {
            Some(EnvValue::Template(t)) => t.as_literal(),
            _ => None,
        };
        assert_eq!(lit("CLUSTER_ID"), Some(kafka_cluster_id("shop", "events")));
        assert_eq!(lit("KAFKA_HEAP_OPTS").as_deref(), Some("-Xms512m -Xmx512m"));
        let advertised = match parts.env.get("KAFKA_ADVERTISED_LISTENERS") {
            Some(EnvValue::Template(t)) => t.render(|_| "events.shop.svc".into()),
            _ => String::new(),
        };
        assert_eq!(
            advertised,
            "PLAINTEXT://events.shop.svc:9092,LOCAL://127.0.0.1:9094,EXTERNAL://events.shop.svc:9095"
        );
    }

    #[test]
    fn rabbitmq_url_encodes_the_vhost() {
        assert_eq!(vhost_segment("/"), "%2F");
        assert_eq!(vhost_segment("shop"), "shop");
        let env = BTreeMap::from([("RABBITMQ_DEFAULT_VHOST".to_string(), "a/b".to_string())]);
        let ctx = EntryContext {
            stack: "demo",
            service: "mq",
            version: "4.2.2-management",
            user_env: &env,
            memory_limit_bytes: 1 << 30,
            host_ports: &BTreeMap::new(),
        };
        let parts = (RABBITMQ.build)(&ctx);
        let url = parts.connection["URL"].render(|_| "X".into());
        assert_eq!(url, "amqp://devstack:X@X:5672/a%2Fb");
    }
}
