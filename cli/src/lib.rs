//! The `devstack` command line, as a library so its pieces are testable: loading a stack,
//! the local secrets file, the catalog listing, the parity check and the exit codes.

pub mod catalog_list;
pub mod docker_cmd;
pub mod exit;
pub mod host_env;
pub mod load;
pub mod parity;
pub mod secrets;
pub mod state;
