//! The `<stack>-credentials` Secret: generated in the cluster with a CSPRNG, created once, and
//! never regenerated while it exists (an operator restart, a requeue, a spec edit all read it
//! back). A service added later gets its new keys added; existing keys are never rewritten,
//! and keys of services deactivated later stay (they still open those services' data).
//!
//! The Secret carries **no owner reference**: the garbage collector never deletes it, whatever
//! the deletion mode (`--cascade=foreground`, the operator down while the DevStack goes), so
//! retained data never outlives its credentials. The finalizer deletes it when the stack
//! retains no data; a re-created stack of the same name reads it back. It is read and written
//! only when it is the stack's own (labelled for it); a same-named foreign Secret is a
//! conflict.
//!
//! A reset ([`super::ANNOTATION_RESET`]) replaces every value; the Secret records the reset
//! it carries out in [`ANNOTATION_LAST_RESET`], in the same write as the new values, so the
//! record lives exactly as long as the credentials it describes (a restored DevStack without
//! its status does not reset again).

use std::collections::BTreeMap;

use devstack_core::plan::StackPlan;
use devstack_core::secrets;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use tracing::info;

use devstack_core::types::DevStack;
use kube::ResourceExt;

use super::error::{is_conflict, Error};
use super::observe::Observed;
use super::ownership::Claim;
use super::reset::{self, recorded_reset, ANNOTATION_LAST_RESET};
use super::rotate;
use super::write::{Tie, Writer};
use super::{Metrics, ANNOTATION_RESET};

/// The credentials the stack will use.
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    /// Values by secret id, for the renderer.
    pub values: BTreeMap<String, String>,
    /// Everything the Secret holds after the write: `values` and the keys of services no
    /// longer active.
    stored: BTreeMap<String, String>,
    /// The reset value recorded on the Secret.
    last_reset: Option<String>,
    /// Whether the values were generated anew (no own Secret, or a reset).
    fresh: bool,
    /// The rotate value recorded on the Secret (see [`super::rotate`]).
    last_rotate: Option<String>,
}

impl Credentials {
    /// Whether these values were generated anew rather than read back.
    pub(crate) fn fresh(&self) -> bool {
        self.fresh
    }

    /// The reset recorded with these credentials.
    pub(crate) fn last_reset(&self) -> Option<&str> {
        self.last_reset.as_deref()
    }
}

/// What the credentials step found.
pub(crate) struct Found {
    /// The credentials to render with and write.
    pub credentials: Credentials,
    /// The reset value requested and not carried out yet.
    pub reset: Option<String>,
    /// Whether the stack's own credentials Secret exists.
    pub own: bool,
    /// Whether the Secret was taken as absent without a read (see [`read`]): the values are
    /// fresh and `own` is `false` only as far as the watch cache knows. The create of the
    /// Secret then fails (409) on any Secret of that name, and the caller reads it before
    /// anything else is decided from its absence.
    pub unread: bool,
}

/// Reads the credentials Secret (as listed, else by name) and decides the credentials.
///
/// With `may_skip`, a Secret the watch caches do not hold is taken as absent without a read
/// (a new stack's: one GET per stack less), but only when the stack asks for no reset and no
/// rotation: those are decided from what the Secret records and must never act on a cache
/// that lags. Such credentials are never written over existing ones: they are created with a
/// POST, which fails on a Secret of that name ([`Found::unread`]).
pub(crate) async fn read(
    stack: &DevStack,
    plan: &StackPlan,
    observed: &mut Observed,
    writer: &Writer<'_>,
    may_skip: bool,
) -> Result<Found, Error> {
    let name = plan.credentials_secret_name();
    let annotations = stack.annotations();
    let unread = may_skip
        && observed.cached()
        && observed.get::<Secret>(&name).is_none()
        && !annotations.contains_key(ANNOTATION_RESET)
        && !annotations.contains_key(rotate::ANNOTATION_ROTATE);
    let live = if unread {
        None
    } else {
        observed
            .read::<Secret>(writer.client(), writer.namespace(), &name)
            .await?
    };
    let claim = live.map(|s| writer.claim(s));
    let own = live.filter(|_| claim == Some(Claim::Ours));
    let reset = reset::pending(stack, own);
    let requested = stack
        .annotations()
        .get(ANNOTATION_RESET)
        .map(String::as_str);
    let mut credentials = decide(plan, live.zip(claim), reset.as_deref(), requested);
    let rotate = rotate::pending(stack, own);
    if let Some(value) = &rotate {
        rotate::apply(plan, &mut credentials.values, value);
        credentials.stored.extend(credentials.values.clone());
    }
    credentials.last_rotate = rotate.or_else(|| own.and_then(rotate::recorded).map(str::to_string));
    Ok(Found {
        credentials,
        reset,
        own: own.is_some(),
        unread,
    })
}

/// Decides the credentials from the live Secret (`live`, with its claim): its values with
/// missing ids generated, or every value generated when there is none of ours or `reset`
/// asks for new ones. A foreign Secret is never read (the conflict stops the reconcile).
/// `requested`: the reset value on the DevStack; new credentials satisfy it, so a Secret
/// generated from scratch records it too (a later restore without the status finds it done).
pub(crate) fn decide(
    plan: &StackPlan,
    live: Option<(&Secret, Claim)>,
    reset: Option<&str>,
    requested: Option<&str>,
) -> Credentials {
    let own = live.and_then(|(secret, claim)| (claim == Claim::Ours).then_some(secret));
    let existing = match own {
        Some(secret) if reset.is_none() => decode(secret),
        _ => BTreeMap::new(),
    };
    let values = secrets::fill(plan, &existing, &mut rand::rng());
    let mut stored = existing;
    stored.extend(values.clone());
    let last_reset = match (reset, own) {
        (Some(token), _) => Some(token),
        (None, Some(secret)) => recorded_reset(secret),
        (None, None) => requested,
    };
    let last_reset = last_reset.map(str::to_string);
    Credentials {
        values,
        stored,
        last_reset,
        fresh: own.is_none() || reset.is_some(),
        last_rotate: None,
    }
}

fn decode(secret: &Secret) -> BTreeMap<String, String> {
    secret
        .data
        .iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), String::from_utf8(v.0.clone()).ok()?)))
        .collect()
}

/// Writes the credentials (server-side apply, no owner reference) unless the Secret already
/// holds them. An existing Secret is written with its resourceVersion, so a concurrent writer
/// is never overwritten (409, retried with a fresh read).
pub(crate) async fn write(
    writer: &Writer<'_>,
    rendered: Secret,
    credentials: &Credentials,
    live: Option<&Secret>,
    metrics: &Metrics,
) -> Result<Secret, Error> {
    let mut secret = rendered;
    let name = secret.metadata.name.clone().unwrap_or_default();
    secret.string_data = None;
    secret.data = Some(
        credentials
            .stored
            .iter()
            .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
            .collect(),
    );
    if let Some(token) = &credentials.last_reset {
        secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(ANNOTATION_LAST_RESET.to_string(), token.clone());
    }
    if let Some(value) = &credentials.last_rotate {
        secret
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(rotate::ANNOTATION_LAST_ROTATE.to_string(), value.clone());
    }
    let written = match writer.apply(secret, live, Tie::Unowned, true).await {
        Err(Error::Kube { source, .. }) if is_conflict(&source) => {
            return Err(Error::CredentialsRace { name })
        }
        other => other?,
    };
    if credentials.fresh
        && written.metadata.resource_version
            != live.and_then(|l| l.metadata.resource_version.clone())
    {
        info!(secret = %name, keys = credentials.stored.len(), "generated credentials");
        metrics.credentials_generated.inc();
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use devstack_core::test_support::plan_spec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn secret(values: &[(&str, &str)], reset: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                annotations: reset
                    .map(|r| [(ANNOTATION_LAST_RESET.to_string(), r.to_string())].into()),
                ..ObjectMeta::default()
            },
            data: Some(
                values
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn own_values_are_kept_and_old_keys_stay() {
        let plan = plan_spec("services:\n  db: {type: postgres}\n");
        let live = secret(
            &[
                ("DEVSTACK_DB_PASSWORD", "kept"),
                ("DEVSTACK_OLD_PASSWORD", "x"),
            ],
            Some("1"),
        );
        let c = decide(&plan, Some((&live, Claim::Ours)), None, Some("1"));
        assert_eq!(c.values["DEVSTACK_DB_PASSWORD"], "kept");
        assert_eq!(c.stored["DEVSTACK_OLD_PASSWORD"], "x");
        assert_eq!(c.last_reset(), Some("1"));
        assert!(!c.fresh());
    }

    #[test]
    fn a_reset_or_a_foreign_secret_gives_new_values() {
        let plan = plan_spec("services:\n  db: {type: postgres}\n");
        let live = secret(&[("DEVSTACK_DB_PASSWORD", "old")], None);
        let reset = decide(&plan, Some((&live, Claim::Ours)), Some("2"), Some("2"));
        assert_ne!(reset.values["DEVSTACK_DB_PASSWORD"], "old");
        assert_eq!(reset.stored.len(), 1);
        assert_eq!(reset.last_reset(), Some("2"));
        let foreign = decide(&plan, Some((&live, Claim::Foreign("x".into()))), None, None);
        assert_ne!(foreign.values["DEVSTACK_DB_PASSWORD"], "old");
        assert!(foreign.fresh());
        // Generated from scratch under a reset value already carried out: recorded too.
        let new = decide(&plan, None, None, Some("3"));
        assert_eq!(new.last_reset(), Some("3"));
    }
}
