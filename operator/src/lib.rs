//! The DevStack operator: the kube-runtime [`controller`] of the `devstack-operator` binary,
//! which validates and plans each DevStack (`devstack-core`), renders it with the pure
//! Kubernetes renderer (`devstack-render-k8s`, re-exported as [`render`](mod@render)),
//! applies what the renderer returns and reports it in the DevStack status.

#![forbid(unsafe_code)]

pub mod controller;
pub use devstack_render_k8s as render;

pub use render::{render, render_with, to_yaml_stream, K8sObject, RenderError, RenderOptions};
