//! Kubernetes renderer.
