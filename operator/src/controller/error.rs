//! Reconcile errors. Each one is transient (the reconcile is retried with backoff); an invalid
//! spec is not an error here but a status (`Stalled`, reason `InvalidSpec`) that waits for a
//! change. Messages never contain a secret value.

use crate::RenderError;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed.
    #[error("failed to {action} {kind} {name:?}: {source}")]
    Kube {
        /// What was attempted (`apply`, `read`, `delete`, …).
        action: &'static str,
        /// Object kind.
        kind: String,
        /// Object name.
        name: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// The renderer refused the plan (a bug: the plan's validation should have caught it).
    #[error("failed to render the stack: {0}")]
    Render(#[from] RenderError),
    /// A rendered object lacks a label the operator relies on to find and prune it.
    #[error("rendered {kind} {name:?} lacks the required label {label}={value}")]
    MissingLabel {
        /// Object kind.
        kind: String,
        /// Object name.
        name: String,
        /// The label.
        label: &'static str,
        /// Its expected value.
        value: String,
    },
    /// An object could not be turned into JSON.
    #[error("failed to serialize {kind} {name:?}: {source}")]
    Serialize {
        /// Object kind.
        kind: String,
        /// Object name.
        name: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// Another writer created the credentials Secret between our read and our create.
    #[error("the credentials Secret {name:?} was created concurrently; reading it again")]
    CredentialsRace {
        /// Secret name.
        name: String,
    },
    /// A write or delete was about to hit an object that is not the stack's own (the
    /// reconcile reports conflicts before writing; this is the write path's own check).
    #[error("{kind} {name:?} is not this stack's own ({owner}); refusing to write it")]
    Conflict {
        /// Object kind.
        kind: String,
        /// Object name.
        name: String,
        /// Why it is not ours (`controlled by DevStack other`, `not labelled …`).
        owner: String,
    },
    /// The DevStack is not namespaced (the API server never sends such an object).
    #[error("DevStack {0:?} has no namespace")]
    NoNamespace(String),
    /// Adding or removing the finalizer failed.
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// A short, stable label for metrics (`devstack_reconcile_failures_total{reason=…}`).
    pub fn metric_label(&self) -> String {
        match self {
            Error::Kube { action, kind, .. } => {
                format!("{action}_{}", kind.to_ascii_lowercase())
            }
            Error::Render(_) => "render".into(),
            Error::MissingLabel { .. } => "missing_label".into(),
            Error::Serialize { .. } => "serialize".into(),
            Error::CredentialsRace { .. } => "credentials_race".into(),
            Error::Conflict { .. } => "conflict".into(),
            Error::NoNamespace(_) => "no_namespace".into(),
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.metric_label(),
                _ => "finalizer".into(),
            },
        }
    }

    /// Builds a [`Error::Kube`].
    pub(crate) fn kube(
        action: &'static str,
        kind: impl Into<String>,
        name: impl Into<String>,
    ) -> impl FnOnce(kube::Error) -> Error {
        let kind = kind.into();
        let name = name.into();
        move |source| Error::Kube {
            action,
            kind,
            name,
            source,
        }
    }
}

/// Whether `error` is the API server's 404.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 404)
}

/// Whether `error` is the API server's 409 AlreadyExists / Conflict.
pub(crate) fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 409)
}
