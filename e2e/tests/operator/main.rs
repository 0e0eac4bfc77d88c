//! The `devstack-operator` binary against the real local control plane (`e2e/cluster.sh up`):
//! each test starts the operator as a child process, works in throwaway namespaces, and checks
//! what the API server holds. Without a cluster every test fails; none skips.
//!
//! `realnode` runs on the harness's real kubelet node (run-time behaviour); the others work in
//! kwok namespaces (API behaviour, readiness from the fake node).
//!
//! The tests of this binary share the cluster ([`shared`]: own namespaces, own operator),
//! except those that need it to themselves ([`exclusive`]): two count the API server's
//! requests, which any other test would disturb, and host ports (node ports) are cluster-wide.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod app_values;
mod devloop;
mod devsync;
mod examples;
mod invalid;
mod leader;
mod lifecycle;
mod node_ports;
mod order;
mod ownership;
mod realnode;
mod restart_reads;
mod retention;
mod trust;

pub use harness::*;
