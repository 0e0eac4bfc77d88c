//! `devstack crd`: the DevStack CustomResourceDefinition (identical to
//! `crds/devstack.dev_devstacks.yaml`).

use anyhow::Result;

use crate::output;

/// Prints the CRD.
pub fn run() -> Result<()> {
    output::print(&devstack_core::crdgen::crd_yaml()?)
}
