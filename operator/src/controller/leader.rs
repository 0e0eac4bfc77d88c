//! Leader election on a `coordination.k8s.io` Lease (kube-lease-manager): with several
//! replicas only the holder runs the controller, so only one of them writes. A standby
//! waits for the Lease; a holder that loses it stops (and is restarted by its Deployment).

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

/// Seconds a Lease stays valid after its last renewal.
const LEASE_SECONDS: u64 = 15;
/// Seconds before expiry at which the holder renews.
const GRACE_SECONDS: u64 = 5;

/// A held Lease: `lost()` resolves when it is lost.
pub struct Leadership {
    state: watch::Receiver<bool>,
    _task: JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

impl Leadership {
    /// Resolves when this process no longer holds the Lease.
    pub async fn lost(mut self) {
        while *self.state.borrow_and_update() {
            if self.state.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Waits until this process (`identity`) holds Lease `name` in `namespace`.
pub async fn acquire(
    client: Client,
    namespace: &str,
    name: &str,
    identity: &str,
) -> kube_lease_manager::Result<Leadership> {
    let manager = LeaseManagerBuilder::new(client, name)
        .with_namespace(namespace)
        .with_parameters(LeaseParams::new(identity, LEASE_SECONDS, GRACE_SECONDS))
        .build()
        .await?;
    info!(
        lease = name,
        namespace, identity, "waiting for the leader Lease"
    );
    let (mut state, task) = manager.watch().await;
    while !*state.borrow_and_update() {
        if state.changed().await.is_err() {
            break;
        }
    }
    info!(lease = name, identity, "holding the leader Lease");
    Ok(Leadership { state, _task: task })
}
