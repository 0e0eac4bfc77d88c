//! Kafka (the Kafka tools of its own image: a topic, one message produced and consumed),
//! chroma (the chromadb PyPI client of its own image: a collection, one vector added and
//! queried) — types without credentials in the catalog — and the S3 gateway (curl's SigV4
//! signing: a bucket, one object put and got back, a wrong secret refused).

use devstack_e2e::kubectl::ExecResult;

use crate::kinds::{Auth, Kind, Read};

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

/// The chromadb client of the image's venv, with the handed URL; explicit embeddings (the
/// default embedding function would download a model).
macro_rules! chroma_client {
    ($body:literal) => {
        concat!(
            r#"python3 - <<'EOF'
import os
from urllib.parse import urlparse
import chromadb
from chromadb.config import Settings
u = urlparse(os.environ["SVC_URL"])
client = chromadb.HttpClient(host=u.hostname, port=u.port, settings=Settings(anonymized_telemetry=False))
col = client.get_or_create_collection("conformance", embedding_function=None)
"#,
            $body,
            "\nEOF\n"
        )
    };
}

/// A collection, one vector with its document, the nearest neighbour of a query vector.
const CHROMA: Kind = Kind {
    type_name: "chroma",
    port_name: "http",
    client_type: None,
    handed_key: None,
    write: chroma_client!(
        r#"col.upsert(ids=["c1"], embeddings=[[1.0, 2.0, 3.0]], documents=["written-by-client"])
print("added", col.count())"#
    ),
    write_expect: "added 1",
    read: Read::Client(chroma_client!(
        r#"r = col.query(query_embeddings=[[1.0, 2.0, 4.0]], n_results=1)
print(r["documents"][0][0], r["distances"][0][0])"#
    )),
    read_expect: "written-by-client 1.0",
    auth: None,
};

/// `curl` signing with AWS SigV4 as `$SVC_ACCESS_KEY` and the given secret (region from the
/// handed `REGION`), path-style.
macro_rules! s3 {
    ($secret:literal, $rest:literal) => {
        concat!(
            r#"curl -sS --aws-sigv4 "aws:amz:$SVC_REGION:s3" --user "$SVC_ACCESS_KEY:"#,
            $secret,
            r#"" "#,
            $rest
        )
    };
}

fn s3_refused(r: &ExecResult) -> Result<(), String> {
    if !r.stdout.contains("written-by-client") && r.stdout.contains("SignatureDoesNotMatch") {
        Ok(())
    } else {
        Err(format!("a wrong secret key was not refused: {r}"))
    }
}

const VERSITYGW: Kind = Kind {
    type_name: "versitygw",
    port_name: "s3",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    write: concat!(
        "set -e\n",
        s3!("$SVC_SECRET_KEY", r#"-f -X PUT "$SVC_URL/conformance""#),
        "\nprintf written-by-client | ",
        s3!(
            "$SVC_SECRET_KEY",
            r#"-f -X PUT --data-binary @- "$SVC_URL/conformance/object.txt""#
        ),
        "\necho put-ok"
    ),
    write_expect: "put-ok",
    read: Read::Client(s3!(
        "$SVC_SECRET_KEY",
        r#"-f "$SVC_URL/conformance/object.txt""#
    )),
    read_expect: "written-by-client",
    auth: Some(Auth {
        wrong_password: s3!("wrong-secret-key", r#""$SVC_URL/conformance/object.txt""#),
        refused: s3_refused,
    }),
};

pub const KINDS: &[Kind] = &[KAFKA, CHROMA, VERSITYGW];
