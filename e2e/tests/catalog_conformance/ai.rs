//! Weaviate (curl against its REST and GraphQL API with the handed API key: a class, one object
//! with its vector written, read back by id and as the nearest neighbour, a wrong key refused)
//! and Ollama (its own CLI against the handed URL: no model can be pulled here, so the client
//! creates a model from a tiny GGUF file it writes — blob upload, GGUF parse, manifest — and
//! lists it; the server's `/api/version` answers the CLI's version query).

use devstack_e2e::kubectl::ExecResult;

use crate::kinds::{Auth, Kind, Read};

/// The object's id (any fixed UUID: the write is retried, so it replaces its own object).
macro_rules! weaviate_id {
    () => {
        "6f1c0d3e-0000-4000-8000-000000000017"
    };
}

fn weaviate_refused(r: &ExecResult) -> Result<(), String> {
    if r.stdout.trim() == "401" {
        Ok(())
    } else {
        Err(format!("a wrong API key was not refused: {r}"))
    }
}

const WEAVIATE: Kind = Kind {
    type_name: "weaviate",
    port_name: "http",
    client_type: None,
    handed_key: Some("SVC_API_KEY"),
    write: concat!(
        r#"set -e
auth="Authorization: Bearer $SVC_API_KEY"
json="Content-Type: application/json"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$auth" "$SVC_URL/v1/schema/Conformance")
if [ "$code" != 200 ]; then
  curl -sSf -H "$auth" -H "$json" -X POST "$SVC_URL/v1/schema" \
    -d '{"class":"Conformance","vectorizer":"none","properties":[{"name":"v","dataType":["text"]}]}' >/dev/null
fi
curl -sS -o /dev/null -H "$auth" -X DELETE "$SVC_URL/v1/objects/Conformance/"#,
        weaviate_id!(),
        r#""
curl -sSf -H "$auth" -H "$json" -X POST "$SVC_URL/v1/objects" \
  -d '{"class":"Conformance","id":""#,
        weaviate_id!(),
        r#"","properties":{"v":"written-by-client"},"vector":[1,2,3]}' >/dev/null
echo written"#
    ),
    write_expect: "written",
    read: Read::Client(concat!(
        r#"set -e
auth="Authorization: Bearer $SVC_API_KEY"
curl -sSf -H "$auth" "$SVC_URL/v1/objects/Conformance/"#,
        weaviate_id!(),
        r#"" | grep -q '"v":"written-by-client"'
curl -sSf -H "$auth" -H "Content-Type: application/json" -X POST "$SVC_URL/v1/graphql" \
  -d '{"query":"{Get{Conformance(nearVector:{vector:[1,2,4]},limit:1){v}}}"}'"#
    )),
    read_expect: r#"[{"v":"written-by-client"}]"#,
    auth: Some(Auth {
        wrong_password: concat!(
            r#"curl -sS -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong-api-key' "$SVC_URL/v1/objects/Conformance/"#,
            weaviate_id!(),
            "\""
        ),
        refused: weaviate_refused,
    }),
};

/// `ollama create` from a GGUF file of one key (`general.architecture = llama`, no tensors):
/// enough for the server to take the blob, parse it and write a model manifest; it cannot run.
const OLLAMA: Kind = Kind {
    type_name: "ollama",
    port_name: "http",
    client_type: None,
    handed_key: None,
    write: r#"set -e
export OLLAMA_HOST="$SVC_URL"
d=$(mktemp -d)
printf 'GGUF\003\000\000\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000' >"$d/conformance.gguf"
printf '\024\000\000\000\000\000\000\000general.architecture\010\000\000\000\005\000\000\000\000\000\000\000llama' >>"$d/conformance.gguf"
printf 'FROM ./conformance.gguf\n' >"$d/Modelfile"
cd "$d"
ollama create conformance -f Modelfile
echo created"#,
    write_expect: "created",
    read: Read::Client(
        r#"export OLLAMA_HOST="$SVC_URL"
v=$(ollama --version 2>&1)
case $v in *"ollama version is "*) ;; *) echo "no version from the server: $v"; exit 1 ;; esac
case $v in *Warning*) echo "$v"; exit 1 ;; esac
ollama list"#,
    ),
    read_expect: "conformance:latest",
    auth: None,
};

pub const KINDS: &[Kind] = &[WEAVIATE, OLLAMA];
