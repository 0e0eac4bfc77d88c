//! DevStack API types, the service catalog, validation and the resolved stack plan.
//!
//! One spec, one plan, two renderers: everything here is pure (no I/O), so the operator, the
//! Compose adapter and the CLI share exactly the same decisions.

pub mod catalog;
pub mod crdgen;
pub mod error;
pub mod parse;
pub mod plan;
pub mod quantity;
pub mod secrets;
pub mod template;
pub mod types;
pub mod yaml;

pub use error::{FieldError, ValidationErrors};
pub use plan::{plan, PlanOptions, StackPlan};
pub use types::{DevStack, DevStackSpec, DevStackStatus, ServiceSpec};
