//! The generated CustomResourceDefinition, as committed under `crds/`.

use kube::CustomResourceExt;

use crate::types::DevStack;

/// The CRD as YAML, exactly as `devstack crd` prints it and `crds/devstack.dev_devstacks.yaml`
/// holds it.
pub fn crd_yaml() -> Result<String, crate::yaml::YamlError> {
    crate::yaml::to_string(&DevStack::crd())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_crd_matches_the_code() {
        let generated = crd_yaml().expect("CRD serializes");
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/devstack.dev_devstacks.yaml");
        if std::env::var_os("DEVSTACK_BLESS_CRD").is_some() {
            std::fs::write(path, &generated).expect("write CRD");
        }
        let committed = std::fs::read_to_string(path).expect("read committed CRD");
        assert!(
            generated == committed,
            "crds/devstack.dev_devstacks.yaml drifted from the code; regenerate it with `cargo run -p devstack-cli -- crd > crds/devstack.dev_devstacks.yaml`"
        );
    }
}
