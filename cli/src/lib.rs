//! devstack CLI library.
