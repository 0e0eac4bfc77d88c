//! The inner loop the Compose way: `build:` (so `docker compose up --build` builds what
//! `devstack up` builds) and bind mounts for host `mounts` and for `sync` directories (a bind
//! mount is already live on Docker: an edit is visible in the container at once).

use std::collections::BTreeMap;

use devstack_core::plan::ServicePlan;
use serde::Serialize;

use crate::model::VolumeMount;
use crate::text::escape;

/// A service's `build`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Build {
    /// Context directory.
    pub context: String,
    /// Dockerfile, relative to the context.
    pub dockerfile: String,
    /// Multi-stage target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Build arguments.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<String, String>,
}

/// The `build` of `service`, if it has one.
pub fn build(service: &ServicePlan) -> Option<Build> {
    let build = service.build.as_ref()?;
    Some(Build {
        context: escape(&build.context),
        dockerfile: escape(&build.dockerfile),
        target: build.target.as_deref().map(escape),
        args: build
            .args
            .iter()
            .map(|(k, v)| (k.clone(), escape(v)))
            .collect(),
    })
}

/// Bind mounts for `service`'s host mounts, then its sync directories (read-write).
pub fn binds(service: &ServicePlan) -> impl Iterator<Item = VolumeMount> + '_ {
    let mounts = service.mounts.iter().map(|m| VolumeMount {
        kind: "bind".to_string(),
        source: escape(&m.source),
        target: escape(&m.target),
        read_only: m.read_only,
    });
    let sync = service.sync.iter().map(|s| VolumeMount {
        kind: "bind".to_string(),
        source: escape(&s.source),
        target: escape(&s.target),
        read_only: false,
    });
    mounts.chain(sync)
}

#[cfg(test)]
mod tests {
    use devstack_core::plan::{plan, PlanOptions};
    use devstack_core::test_support::{manifest, stack_yaml};

    use crate::render::project;

    #[test]
    fn build_mounts_and_sync_render_as_compose_build_and_binds() {
        let stack = stack_yaml(&manifest(
            "demo",
            "services:\n  api:\n    build: {context: ./app, dockerfile: Dockerfile.dev, target: dev, args: {V: '1$x'}}\n    mounts: [{source: /srv/docs, target: /mnt/docs, readOnly: true}]\n    sync: [{source: ./app/src, target: /app/src}]\n",
        ));
        let options = PlanOptions {
            base_dir: Some("/work/stack".into()),
            build_tags: [("api".to_string(), "c0ffee".to_string())].into(),
            ..PlanOptions::default()
        };
        let plan = plan(&stack, &options).expect("plans");
        let yaml = devstack_core::yaml::to_string(&project(&plan).services["api"]).expect("yaml");
        let want = "image: demo/api:c0ffee\nbuild:\n  context: /work/stack/app\n  dockerfile: Dockerfile.dev\n  target: dev\n  args:\n    V: 1$$x\n";
        assert!(yaml.starts_with(want), "{yaml}");
        assert!(
            yaml.contains("volumes:\n- type: bind\n  source: /srv/docs\n  target: /mnt/docs\n  read_only: true\n- type: bind\n  source: /work/stack/app/src\n  target: /app/src\n"),
            "{yaml}"
        );
    }
}
