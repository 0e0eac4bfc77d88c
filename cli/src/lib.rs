//! The `devstack` command line, as a library so its pieces are testable: loading a stack,
//! the local secrets file, the catalog listing, the parity check and the exit codes.

pub mod catalog_list;
pub mod exit;
pub mod load;
pub mod parity;
pub mod secrets;
