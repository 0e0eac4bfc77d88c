//! Generators of DevStack files for the fuzz target: well-formed stacks with tricky values,
//! hostile ones with anything in every field, and text mutations for the YAML reader.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Strings readers and renderers get wrong: YAML 1.1 scalars, shell and template syntax,
/// delimiters of URLs, control characters.
const TRICKY: &[&str] = &[
    "yes",
    "off",
    "~",
    "null",
    "",
    " ",
    "0777",
    "1:20",
    "1e3",
    ".inf",
    "2001-12-14",
    "<<",
    "- a",
    "a: b",
    "#x",
    "x #y",
    "'q'",
    "\"q\"",
    "[a]",
    "{a: b}",
    "&a",
    "*a",
    "!t",
    "%x",
    "@x",
    "|",
    ">",
    "---",
    "a\nb",
    "\ttab",
    "\u{85}",
    "\u{2028}",
    "\u{feff}bom",
    "\\",
    "$(X)",
    "$$",
    "${X}",
    "$(id)",
    "u:x@attacker.example:5432/db?a=",
    "a/b",
    "a b",
    "\u{0}",
    "\r\n",
    "é",
    "🙂",
];

fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(TRICKY).prop_map(str::to_string),
        3 => "[ -~]{0,10}",
        1 => any::<String>().prop_map(|s| s.chars().take(12).collect()),
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(&["db", "api", "cache", "ch", "ch-http", "web", "q", "x1"][..])
            .prop_map(str::to_string),
        2 => "[a-z][a-z0-9-]{0,10}",
        1 => tricky(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(&[
            0i64, 1, 22, 80, 1023, 1024, 2379, 5432, 5433, 6379, 6443, 8080, 8200, 10250, 16,
            17, 64, 65, 100, 101, 3600, 3601, 30000, 32767, 65535, 65536, -1, 2_147_483_647,
            2_000_000_000, 9_999_999_999,
        ][..]).prop_map(Value::from),
        2 => (-10i64..70_000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => tricky().prop_map(Value::from),
    ]
}

fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(
            &[
                "250m",
                "1",
                "0",
                "-1",
                "20000000000",
                "1Gi",
                "6Mi",
                "5Mi",
                "1e3",
                "x",
                "0.5",
                "18446744073709551616Ei"
            ][..]
        )
        .prop_map(Value::from),
        tricky().prop_map(Value::from),
        number(),
    ]
}

fn type_name() -> impl Strategy<Value = String> {
    let types: Vec<String> = devstack_core::catalog::type_names()
        .map(str::to_string)
        .collect();
    prop_oneof![
        8 => prop::sample::select(types),
        1 => Just("nope".to_string()),
        1 => tricky(),
    ]
}

/// Puts `value` under `key` when present.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_string(), value);
    }
}

fn healthcheck() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(&["tcp", "http", "exec", "both"][..]),
        name(),
        proptest::option::of(number()),
        proptest::option::of(number()),
    )
        .prop_map(|(kind, port, interval, retries)| {
            let mut h = Map::new();
            match kind {
                "tcp" => put(&mut h, "tcp", Some(json!({"port": port}))),
                "http" => put(&mut h, "http", Some(json!({"path": "/x", "port": port}))),
                "exec" => put(&mut h, "exec", Some(json!({"command": [port]}))),
                _ => {
                    put(&mut h, "tcp", Some(json!({"port": port})));
                    put(&mut h, "exec", Some(json!({"command": []})));
                }
            }
            put(&mut h, "intervalSeconds", interval);
            put(&mut h, "retries", retries);
            Value::Object(h)
        })
}

fn service() -> impl Strategy<Value = Value> {
    let kind = (
        proptest::option::of(type_name()),
        proptest::option::of(prop_oneof![Just("example.org/app:1".to_string()), tricky()]),
        proptest::option::of(prop_oneof![Just("17.2".to_string()), tricky()]),
    );
    let ports = (
        proptest::collection::btree_map(name(), number(), 0..3),
        proptest::option::of(proptest::collection::vec(
            (name(), number(), proptest::option::of(number())),
            0..4,
        )),
    );
    let counts = (
        proptest::option::of(number()),
        proptest::option::of(number()),
        proptest::option::of(healthcheck()),
        proptest::option::of((quantity(), quantity())),
    );
    let text = (
        proptest::collection::btree_map("[A-Z_][A-Z0-9_]{0,6}|[ -~]{0,4}", tricky(), 0..4),
        proptest::collection::vec(name(), 0..3),
        proptest::option::of(proptest::collection::vec(tricky(), 0..3)),
        proptest::collection::vec(prop_oneof![Just("core".to_string()), name()], 0..2),
    );
    (kind, ports, counts, text).prop_map(
        |(
            (type_, image, version),
            (host_ports, ports),
            (replicas, gpu, health, cpu_mem),
            (env, depends, args, profiles),
        )| {
            let mut s = Map::new();
            put(&mut s, "type", type_.map(Value::from));
            put(&mut s, "image", image.map(Value::from));
            put(&mut s, "version", version.map(Value::from));
            if !host_ports.is_empty() {
                s.insert(
                    "hostPorts".into(),
                    Value::Object(host_ports.into_iter().collect()),
                );
            }
            put(
                &mut s,
                "ports",
                ports.map(|ps| {
                    Value::Array(
                        ps.into_iter()
                            .map(|(n, c, h)| {
                                let mut p = Map::new();
                                p.insert("name".into(), n.into());
                                p.insert("containerPort".into(), c);
                                put(&mut p, "hostPort", h);
                                Value::Object(p)
                            })
                            .collect(),
                    )
                }),
            );
            put(&mut s, "replicas", replicas);
            put(&mut s, "gpu", gpu);
            put(&mut s, "healthcheck", health);
            put(
                &mut s,
                "resources",
                cpu_mem.map(|(cpu, memory)| json!({"limits": {"cpu": cpu, "memory": memory}})),
            );
            if !env.is_empty() {
                s.insert(
                    "env".into(),
                    Value::Object(env.into_iter().map(|(k, v)| (k, v.into())).collect()),
                );
            }
            if !depends.is_empty() {
                s.insert("dependsOn".into(), depends.into());
            }
            put(&mut s, "args", args.map(Value::from));
            if !profiles.is_empty() {
                s.insert("profiles".into(), profiles.into());
            }
            Value::Object(s)
        },
    )
}

/// One mutation of the text, to reach the YAML reader's error paths.
#[derive(Clone, Debug)]
pub enum Mutation {
    None,
    Insert(usize, char),
    Delete(usize, usize),
    Truncate(usize),
    DuplicateLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        12 => Just(Mutation::None),
        2 => (any::<usize>(), prop::sample::select(&[':', '-', '{', '[', '"', '\'', '\t', '&', '*', '!', '\n', ' ', '#', '\u{0}', '\u{ff}'][..]))
            .prop_map(|(at, c)| Mutation::Insert(at, c)),
        1 => (any::<usize>(), 1usize..20).prop_map(|(at, n)| Mutation::Delete(at, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => any::<usize>().prop_map(Mutation::DuplicateLine),
    ]
}

pub fn mutate(text: &str, mutation: &Mutation) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    let len = chars.len().max(1);
    match *mutation {
        Mutation::None => {}
        Mutation::Insert(at, c) => chars.insert(at % len, c),
        Mutation::Delete(at, n) => {
            let start = at % len;
            let end = (start + n).min(chars.len());
            chars.drain(start..end);
        }
        Mutation::Truncate(at) => chars.truncate(at % len),
        Mutation::DuplicateLine(at) => {
            let lines: Vec<&str> = text.lines().collect();
            let i = at % lines.len().max(1);
            let mut out: Vec<&str> = lines.clone();
            if let Some(line) = lines.get(i) {
                out.insert(i, line);
            }
            return out.join("\n");
        }
    }
    chars.into_iter().collect()
}

/// A stack that is mostly valid: services `s0`, `s1`, … of catalog types or a custom image,
/// dependencies only on earlier services, tricky env values and arguments. Rendering and the
/// YAML readers are exercised on these.
fn well_formed() -> impl Strategy<Value = Value> {
    let types: Vec<String> = devstack_core::catalog::type_names()
        .map(str::to_string)
        .collect();
    let one = (
        proptest::option::of(prop::sample::select(types)),
        proptest::collection::btree_map("[A-Z][A-Z0-9_]{0,5}", tricky(), 0..4),
        proptest::option::of(proptest::collection::vec(tricky(), 0..3)),
        any::<u8>(),
        proptest::option::of(1024u16..=29999),
    );
    (
        proptest::collection::vec(one, 1..5),
        prop::sample::select(&["strict", "open"][..]),
    )
        .prop_map(|(services, isolation)| {
            let mut map = Map::new();
            for (i, (type_, env, args, deps, host_port)) in services.into_iter().enumerate() {
                let mut s = Map::new();
                match type_ {
                    Some(t) => put(&mut s, "type", Some(t.into())),
                    None => {
                        s.insert("image".into(), "example.org/app:1".into());
                        let mut port = json!({"name": "http", "containerPort": 8080});
                        if let Some(h) = host_port {
                            port["hostPort"] = (u32::from(h) + i as u32).into();
                        }
                        s.insert("ports".into(), json!([port]));
                        put(&mut s, "args", args.map(Value::from));
                    }
                }
                if !env.is_empty() {
                    s.insert(
                        "env".into(),
                        Value::Object(env.into_iter().map(|(k, v)| (k, v.into())).collect()),
                    );
                }
                let depends: Vec<String> = (0..i)
                    .filter(|j| deps & (1 << j) != 0)
                    .map(|j| format!("s{j}"))
                    .collect();
                if !depends.is_empty() {
                    s.insert("dependsOn".into(), depends.into());
                }
                map.insert(format!("s{i}"), Value::Object(s));
            }
            json!({"isolation": isolation, "services": map})
        })
}

pub fn manifest() -> impl Strategy<Value = (String, Mutation)> {
    prop_oneof![
        1 => (well_formed(), mutation()).prop_map(|(spec, mutation)| {
            let doc = json!({
                "apiVersion": "devstack.dev/v1alpha1",
                "kind": "DevStack",
                "metadata": {"name": "fuzz", "namespace": "fuzz"},
                "spec": spec,
            });
            (devstack_core::yaml::to_string(&doc).unwrap(), mutation)
        }),
        1 => hostile(),
    ]
}

/// A stack built from anything, valid or not, in every field.
fn hostile() -> impl Strategy<Value = (String, Mutation)> {
    let spec = (
        proptest::collection::btree_map(name(), service(), 0..6),
        prop::sample::select(&["strict", "open", "closed"][..]),
        proptest::option::of(prop_oneof![
            Just("registry.local:5000/m".to_string()),
            tricky()
        ]),
        proptest::collection::vec(prop_oneof![Just("core".to_string()), name()], 0..2),
    );
    let meta = (
        prop_oneof![4 => name(), 1 => Just(String::new())],
        proptest::option::of(name()),
    );
    (spec, meta, mutation()).prop_map(
        |((services, isolation, registry, profiles), (stack, namespace), mutation)| {
            let mut spec = Map::new();
            spec.insert(
                "services".into(),
                Value::Object(services.into_iter().collect()),
            );
            spec.insert("isolation".into(), isolation.into());
            put(&mut spec, "imageRegistry", registry.map(Value::from));
            if !profiles.is_empty() {
                spec.insert("profiles".into(), profiles.into());
            }
            let mut metadata = Map::new();
            metadata.insert("name".into(), stack.into());
            put(&mut metadata, "namespace", namespace.map(Value::from));
            let doc = json!({
                "apiVersion": "devstack.dev/v1alpha1",
                "kind": "DevStack",
                "metadata": metadata,
                "spec": spec,
            });
            (devstack_core::yaml::to_string(&doc).unwrap(), mutation)
        },
    )
}
