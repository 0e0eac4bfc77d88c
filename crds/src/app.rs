//! What a team's own program reads from the stack: generated app secrets (`secrets`) and
//! connection values under the program's own names (`connectionEnv`). The types live here,
//! apart from [`crate::types`], so the fields that use them stay one line each there.

use std::collections::BTreeMap;

use schemars::{json_schema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// Generated app secrets of a service: a list of env var names (`[JWT_SECRET]`), or a map from
/// env var name to options (`{JWT_SECRET: {length: 64, alphabet: hex}}`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(untagged)]
pub enum AppSecrets {
    /// Env var names, each a 32-character alphanumeric secret.
    Names(Vec<String>),
    /// Env var name -> options.
    Options(BTreeMap<String, AppSecretOptions>),
}

impl AppSecrets {
    /// Every secret with its options (defaults for a list entry), in spec order.
    pub fn entries(&self) -> Vec<(String, AppSecretOptions)> {
        match self {
            AppSecrets::Names(names) => names
                .iter()
                .map(|n| (n.clone(), AppSecretOptions::default()))
                .collect(),
            AppSecrets::Options(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        }
    }
}

/// How an app secret is generated.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSecretOptions {
    /// Length in characters (16-256, default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<i64>,
    /// Characters it is drawn from (default `alphanumeric`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alphabet: Option<Alphabet>,
}

/// The characters of a generated secret.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    /// `A-Z a-z 0-9`.
    #[default]
    Alphanumeric,
    /// `0-9 a-f` (for programs that want a hex key).
    Hex,
    /// `a-z 0-9`.
    Lowercase,
}

/// Shortest app secret.
pub const MIN_SECRET_LENGTH: i64 = 16;
/// Longest app secret.
pub const MAX_SECRET_LENGTH: i64 = 256;
/// Default app secret length.
pub const DEFAULT_SECRET_LENGTH: i64 = 32;
/// App secrets of one service.
pub const MAX_APP_SECRETS: usize = 32;

/// The schema of `secrets`: a list of names or a map of options. A structural schema cannot
/// say "array or object", so the field keeps unknown fields and the plan (run by the CLI and
/// the operator alike) checks it.
pub fn app_secrets_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-preserve-unknown-fields": true
    })
}
