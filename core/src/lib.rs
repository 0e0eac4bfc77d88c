//! The core of devstack: the catalog, the validated plan and the conventions both renderers
//! share, over the API of `devstack-crds` (re-exported here as [`types`], [`parse`], [`yaml`]
//! and [`crdgen`], so one crate names everything a renderer reads).
//!
//! One spec, one plan, two renderers: everything here is pure (no I/O), so the operator, the
//! Compose renderer, the Docker driver and the CLI share exactly the same decisions. The
//! layers, in order:
//!
//! 1. spec: [`types`] (the `DevStack` resource), [`parse`] (YAML in), [`crdgen`] (the CRD out);
//! 2. [`catalog`]: what each service type's image expects;
//! 3. [`plan()`]: the spec validated against the catalog and resolved into a [`StackPlan`]
//!    (with [`quantity`], [`template`], [`secrets`] for generated credentials, and [`error`]);
//! 4. [`conventions`]: names, labels and text rules that the renderers
//!    (`devstack-render-k8s`, `devstack-render-compose`) write with and `devstack-parity`
//!    reads back with.

pub use devstack_crds::{app, crdgen, limits, parse, types, yaml};

pub mod catalog;
pub mod conventions;
pub mod error;
pub mod plan;
pub mod quantity;
pub mod secrets;
pub mod template;
#[cfg(any(test, feature = "test-support"))]
pub mod test_support;

pub use error::{FieldError, ValidationErrors};
pub use plan::{plan, PlanOptions, StackPlan};
pub use types::{DevStack, DevStackSpec, DevStackStatus, ServiceSpec};
