//! Kafka (the Kafka tools of its own image: a topic, one message produced and consumed),
//! chroma (the chromadb PyPI client of its own image: a collection, one vector added and
//! queried) — types without credentials in the catalog.

use crate::kinds::{Kind, Read};

/// The tools are JVMs next to the broker: small heaps of their own.
const KAFKA: Kind = Kind {
    type_name: "kafka",
    port_name: "kafka",
    client_type: None,
    handed_key: None,
    write: r#"set -e
export KAFKA_HEAP_OPTS=-Xmx128m
b=/opt/kafka/bin
$b/kafka-topics.sh --bootstrap-server "$SVC_BOOTSTRAP_SERVERS" --create --if-not-exists \
  --topic conformance --partitions 1 --replication-factor 1
echo written-by-client | $b/kafka-console-producer.sh --bootstrap-server "$SVC_BOOTSTRAP_SERVERS" \
  --topic conformance
echo produced"#,
    write_expect: "produced",
    read: Read::Client(
        r#"KAFKA_HEAP_OPTS=-Xmx128m /opt/kafka/bin/kafka-console-consumer.sh \
  --bootstrap-server "$SVC_BOOTSTRAP_SERVERS" --topic conformance --from-beginning \
  --max-messages 1 --timeout-ms 30000"#,
    ),
    read_expect: "written-by-client",
    auth: None,
};

pub const KINDS: &[Kind] = &[KAFKA];
