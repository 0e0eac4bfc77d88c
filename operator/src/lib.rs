//! The DevStack operator crate.
//!
//! - [`render()`]: the Kubernetes renderer, a pure function from the resolved
//!   [`devstack_crds::plan::StackPlan`] to typed `k8s-openapi` objects (`devstack render k8s`
//!   prints it).
//! - [`controller`]: the kube-runtime controller of the `devstack-operator` binary, which
//!   applies what the renderer returns and reports it in the DevStack status.

#![forbid(unsafe_code)]

pub mod controller;
pub mod render;

pub use render::{render, render_with, to_yaml_stream, K8sObject, RenderError, RenderOptions};
