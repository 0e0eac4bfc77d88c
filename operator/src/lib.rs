//! The DevStack operator crate.
//!
//! Today it holds the Kubernetes renderer ([`render()`]): a pure function from the resolved
//! [`devstack_crds::plan::StackPlan`] to typed `k8s-openapi` objects. The controller applies
//! what it returns; `devstack render k8s` prints it. The Compose renderer is its mirror image,
//! and `devstack parity` compares the two.

#![forbid(unsafe_code)]

pub mod render;

pub use render::{render, to_yaml_stream, K8sObject, RenderError};
