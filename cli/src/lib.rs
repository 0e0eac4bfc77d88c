//! The `devstack` command line, as a library so its pieces are testable: one module per
//! command ([`commands`]), loading a stack ([`load`]), output ([`output`]) and the exit codes
//! ([`exit`]). It links the renderers, parity and the Docker driver; never the controller.

pub mod commands;
pub mod devloop;
pub mod devwatch;
pub mod exit;
pub mod ksync;
pub mod load;
pub mod logtail;
pub mod output;
