//! Per type: the real client operation (run in the dependent, with the connection values
//! devstack handed it: `SVC_URL`, `SVC_HOST`, …) and how a refused login looks.

use devstack_e2e::kubectl::ExecResult;

pub struct Kind {
    pub type_name: &'static str,
    /// The catalog's name of its main port.
    pub port_name: &'static str,
    /// The local image the dependent runs (`None`: the type's own image, which has its
    /// client). For images without the tools (the collector is FROM scratch upstream).
    pub client_type: Option<&'static str>,
    /// The connection value compared between `devstack env` / the Secret and the dependent:
    /// the password. `None` for a type without credentials: `devstack env` prints the host's
    /// view of the URL (published port), and the client operation uses the handed URL anyway.
    pub handed_key: Option<&'static str>,
    /// Writes something; its output contains `write_expect`.
    pub write: &'static str,
    pub write_expect: &'static str,
    /// Reads it back; its output contains `read_expect`.
    pub read: Read,
    pub read_expect: &'static str,
    /// How a wrong password is refused; `None` for a type without credentials.
    pub auth: Option<Auth>,
}

/// Where the read-back happens.
pub enum Read {
    /// A script in the dependent.
    Client(&'static str),
    /// The service's own log (the collector's debug exporter prints what it received).
    ServiceLog,
}

pub struct Auth {
    /// Logs in with the handed host, port and user but a wrong password.
    pub wrong_password: &'static str,
    /// Whether the wrong-password attempt was refused (and how it failed otherwise).
    pub refused: fn(&ExecResult) -> Result<(), String>,
}

const PSQL_WRONG: &str =
    "psql \"postgresql://$SVC_USER:wrong-password@$SVC_HOST:$SVC_PORT/$SVC_DB\" -tAc 'select 1'";

fn psql_refused(r: &ExecResult) -> Result<(), String> {
    if !r.ok && r.stderr.contains("password authentication failed") {
        Ok(())
    } else {
        Err(format!("a wrong password was not refused: {r}"))
    }
}

/// redis-cli / valkey-cli print the error and exit 0 on WRONGPASS: the reply is what counts.
fn redis_refused(r: &ExecResult) -> Result<(), String> {
    let all = format!("{}{}", r.stdout, r.stderr);
    if !all.contains("PONG") && (all.contains("WRONGPASS") || all.contains("NOAUTH")) {
        Ok(())
    } else {
        Err(format!("a wrong password was not refused: {r}"))
    }
}

const POSTGRES: Kind = Kind {
    type_name: "postgres",
    port_name: "postgres",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    write: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"create table if not exists conformance (v text); insert into conformance values ('written-by-client'); select 'inserted'\"",
    write_expect: "inserted",
    read: Read::Client("psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc 'select v from conformance'"),
    read_expect: "written-by-client",
    auth: Some(Auth {
        wrong_password: PSQL_WRONG,
        refused: psql_refused,
    }),
};

const PGVECTOR: Kind = Kind {
    type_name: "pgvector",
    port_name: "postgres",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    write: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"create extension if not exists vector; create table if not exists conformance (v text, e vector(3)); insert into conformance values ('written-by-client', '[1,2,3]'); select 'inserted'\"",
    write_expect: "inserted",
    read: Read::Client("psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"select v || ':' || (e <-> '[1,2,4]') from conformance order by e <-> '[1,2,4]' limit 1\""),
    read_expect: "written-by-client:1",
    auth: Some(Auth {
        wrong_password: PSQL_WRONG,
        refused: psql_refused,
    }),
};

const TIMESCALEDB: Kind = Kind {
    type_name: "timescaledb",
    port_name: "postgres",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    write: "psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"create table if not exists conformance (t timestamptz not null, v text); select create_hypertable('conformance', by_range('t'), if_not_exists => true); insert into conformance values (now(), 'written-by-client'); select 'inserted'\"",
    write_expect: "inserted",
    read: Read::Client("psql \"$SVC_URL\" -v ON_ERROR_STOP=1 -tAc \"select v || ':' || (select count(*) from timescaledb_information.hypertables where hypertable_name = 'conformance') from conformance\""),
    read_expect: "written-by-client:1",
    auth: Some(Auth {
        wrong_password: PSQL_WRONG,
        refused: psql_refused,
    }),
};

const REDIS: Kind = Kind {
    type_name: "redis",
    port_name: "redis",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    write: "redis-cli -u \"$SVC_URL\" --no-auth-warning set conformance written-by-client",
    write_expect: "OK",
    read: Read::Client("redis-cli -u \"$SVC_URL\" --no-auth-warning get conformance"),
    read_expect: "written-by-client",
    auth: Some(Auth {
        wrong_password: "redis-cli -u \"redis://default:wrong-password@$SVC_HOST:$SVC_PORT/0\" --no-auth-warning ping 2>&1",
        refused: redis_refused,
    }),
};

const VALKEY: Kind = Kind {
    type_name: "valkey",
    port_name: "redis",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    write: "valkey-cli -u \"$SVC_URL\" --no-auth-warning set conformance written-by-client",
    write_expect: "OK",
    read: Read::Client("valkey-cli -u \"$SVC_URL\" --no-auth-warning get conformance"),
    read_expect: "written-by-client",
    auth: Some(Auth {
        wrong_password: "valkey-cli -u \"redis://default:wrong-password@$SVC_HOST:$SVC_PORT/0\" --no-auth-warning ping 2>&1",
        refused: redis_refused,
    }),
};

/// A NATS request with bash's `/dev/tcp` (the image has no NATS client; the protocol is text):
/// `bash -s SUBJECT PAYLOAD [PASSWORD]` connects as `$SVC_USER`, publishes with a reply inbox
/// and prints the reply's payload (or the server's `-ERR`).
macro_rules! nats_request {
    ($args:literal) => {
        concat!(
            "bash -s ",
            $args,
            r#" <<'EOF'
set -u
subject=$1 payload=$2 pass=${3-$SVC_PASSWORD}
exec 3<>"/dev/tcp/$SVC_HOST/$SVC_PORT" || exit 1
read -r -t 5 info <&3
trap '' PIPE
# Log in first: a refused login ends the connection with -ERR.
printf 'CONNECT {"user":"%s","pass":"%s","verbose":false,"pedantic":false}\r\nPING\r\n' \
  "$SVC_USER" "$pass" >&3
while read -r -t 10 line <&3; do
  line=${line%$'\r'}
  case $line in
    PONG) break ;;
    -ERR*) echo "$line"; exit 1 ;;
  esac
done
printf 'SUB _INBOX.conf 1\r\nPUB %s _INBOX.conf %d\r\n%s\r\nPING\r\n' \
  "$subject" "${#payload}" "$payload" >&3
while read -r -t 10 line <&3; do
  line=${line%$'\r'}
  case $line in
    MSG*) read -r -t 5 data <&3; echo "${data%$'\r'}"; exit 0 ;;
    -ERR*) echo "$line"; exit 1 ;;
  esac
done
echo "no reply"; exit 1
EOF
"#
        )
    };
}

fn nats_refused(r: &ExecResult) -> Result<(), String> {
    if !r.ok && r.stdout.contains("Authorization Violation") {
        Ok(())
    } else {
        Err(format!("a wrong password was not refused: {r}"))
    }
}

/// JetStream: a file-backed stream, one message published to it, read back by subject
/// (`written-by-client` in base64).
const NATS: Kind = Kind {
    type_name: "nats",
    port_name: "client",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    // Two requests (a heredoc each): the stream, then the message; `set -e` stops at a failure.
    write: concat!(
        "set -e\n",
        nats_request!(
            r#"'$JS.API.STREAM.CREATE.CONF' '{"name":"CONF","subjects":["conf.>"],"storage":"file"}'"#
        ),
        nats_request!("conf.x written-by-client")
    ),
    write_expect: r#""stream":"CONF""#,
    read: Read::Client(nats_request!(
        r#"'$JS.API.STREAM.MSG.GET.CONF' '{"last_by_subj":"conf.x"}'"#
    )),
    read_expect: "d3JpdHRlbi1ieS1jbGllbnQ=",
    auth: Some(Auth {
        wrong_password: nats_request!("conf.y nope wrong-password"),
        refused: nats_refused,
    }),
};

/// A request to RabbitMQ's management API with bash's `/dev/tcp` (HTTP/1.0, basic auth as
/// `$SVC_USER`; the image has no HTTP client): `bash -s METHOD PATH BODY [PASSWORD]` prints the
/// response, status line first.
macro_rules! rabbitmq_http {
    ($args:literal) => {
        concat!(
            "bash -s ",
            $args,
            r#" <<'EOF'
set -u
method=$1 path=$2 body=$3 pass=${4-$SVC_PASSWORD}
hostport=${SVC_MANAGEMENT_URL#http://}
hostport=${hostport%%/*}
auth=$(printf '%s:%s' "$SVC_USER" "$pass" | base64 -w0)
exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || exit 1
printf '%s %s HTTP/1.0\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
  "$method" "$path" "$hostport" "$auth" "${#body}" "$body" >&3
response=$(timeout 10 cat <&3)
echo "$response"
case ${response%%$'\r'*} in
  "HTTP/1."[01]" 2"*) exit 0 ;;
  *) exit 1 ;;
esac
EOF
"#
        )
    };
}

fn rabbitmq_refused(r: &ExecResult) -> Result<(), String> {
    if !r.ok && r.stdout.contains(" 401 ") {
        Ok(())
    } else {
        Err(format!("a wrong password was not refused: {r}"))
    }
}

/// A durable queue, a persistent message published to it, fetched back (and requeued).
const RABBITMQ: Kind = Kind {
    type_name: "rabbitmq",
    port_name: "amqp",
    client_type: None,
    handed_key: Some("SVC_PASSWORD"),
    write: concat!(
        "set -e\n",
        rabbitmq_http!(r#"PUT /api/queues/%2F/conformance '{"durable":true}'"#),
        rabbitmq_http!(
            r#"POST /api/exchanges/%2F/amq.default/publish '{"properties":{"delivery_mode":2},"routing_key":"conformance","payload":"written-by-client","payload_encoding":"string"}'"#
        )
    ),
    write_expect: r#""routed":true"#,
    read: Read::Client(rabbitmq_http!(
        r#"POST /api/queues/%2F/conformance/get '{"count":1,"ackmode":"ack_requeue_true","encoding":"auto"}'"#
    )),
    read_expect: "written-by-client",
    auth: Some(Auth {
        wrong_password: rabbitmq_http!("GET /api/whoami '' wrong-password"),
        refused: rabbitmq_refused,
    }),
};

const KINDS: &[Kind] = &[
    POSTGRES,
    PGVECTOR,
    TIMESCALEDB,
    REDIS,
    VALKEY,
    NATS,
    RABBITMQ,
];

pub fn kind(type_name: &str) -> Option<&'static Kind> {
    KINDS
        .iter()
        .chain(crate::telemetry::KINDS)
        .chain(crate::more::KINDS)
        .chain(crate::ai::KINDS)
        .find(|k| k.type_name == type_name)
}
