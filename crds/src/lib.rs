//! The DevStack API, `devstack.dev/v1alpha1`: the resource types with their schema and CEL
//! rules ([`types`]), reading a `DevStack` from YAML with errors that name the field
//! ([`parse`], over the one YAML dialect of the project, [`yaml`]) and the generated
//! CustomResourceDefinition ([`crdgen`], committed as `crds/devstack.dev_devstacks.yaml`).
//!
//! Nothing else lives here: the catalog, the validated plan and the conventions the renderers
//! share are `devstack-core`.

pub mod app;
pub mod crdgen;
pub mod devloop;
pub mod files;
pub mod limits;
pub mod observability;
pub mod parse;
pub mod types;
pub mod yaml;

pub use types::{DevStack, DevStackSpec, DevStackStatus, ServiceSpec};
