//! `devstack build` and `devstack apply`: the cluster side of `build`. The operator cannot
//! build, so the CLI builds each image on the Docker engine (the same content-tagged image
//! `devstack up` runs) and makes it available to the cluster: imported into a node's
//! containerd (`docker save | ctr -n k8s.io images import`, what `kind load docker-image`
//! does), loaded into a Kind cluster, or pushed to `spec.imageRegistry`. `apply` then
//! server-side applies the DevStack with the built tags (and absolute mount sources), so
//! the operator runs exactly those images.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use bollard::query_parameters::PushImageOptionsBuilder;
use clap::ValueEnum;
use devstack_core::plan::{build_repository, StackPlan};
use devstack_core::types::DevStack;
use devstack_docker::build::{build_all, Built};
use devstack_docker::progress::Progress;
use devstack_docker::Engine;
use futures_util::StreamExt;

/// Where `devstack build` puts the images.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Load {
    /// Only build (Docker has them).
    None,
    /// Import into a node's containerd (the local harness node) through `ctr`.
    Node,
    /// `kind load docker-image` into a Kind cluster.
    Kind,
    /// Push to `spec.imageRegistry`.
    Push,
}

/// The local harness node's containerd socket (`--containerd`'s default).
const DEFAULT_CONTAINERD: &str = "/run/devstack-node/containerd.sock";
/// The Kind cluster `kind/up.sh` creates (`--kind-cluster`'s default).
const DEFAULT_KIND_CLUSTER: &str = "devstack";

/// Options of `devstack build` / `apply`.
#[derive(clap::Args, Clone, Debug)]
pub struct BuildArgs {
    /// Where the built images go: none (Docker only), node (a node's containerd), kind
    /// (`kind load docker-image`), push (to spec.imageRegistry).
    #[arg(long, value_enum, default_value_t = Load::None)]
    pub load: Load,
    /// containerd socket of the node, for --load node (the local harness node by default).
    #[arg(long, default_value = DEFAULT_CONTAINERD)]
    pub containerd: String,
    /// Kind cluster name, for --load kind.
    #[arg(long, default_value = DEFAULT_KIND_CLUSTER)]
    pub kind_cluster: String,
}

impl BuildArgs {
    /// The options set away from their defaults: each only matters for a cluster.
    pub fn cluster_options(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.load != Load::None {
            given.push("--load");
        }
        if self.containerd != DEFAULT_CONTAINERD {
            given.push("--containerd");
        }
        if self.kind_cluster != DEFAULT_KIND_CLUSTER {
            given.push("--kind-cluster");
        }
        given
    }
}

/// Builds every `build` image of `plan` and loads it as `args` says; prints one line per
/// service.
pub async fn build(plan: &StackPlan, args: &BuildArgs) -> Result<()> {
    if args.load == Load::Push
        && plan
            .services
            .values()
            .any(|s| s.build.as_ref().is_some_and(|b| !b.pullable))
    {
        bail!("--load push needs spec.imageRegistry: the registry the cluster pulls from (for example registry.local:5000)");
    }
    let engine = Engine::connect().await?;
    let progress = Progress::plain();
    let built = build_all(&engine.docker, plan, &progress).await?;
    for service in plan.active_services() {
        let (Some(_), Some(result)) = (&service.build, built.get(&service.name)) else {
            continue;
        };
        let image = &service.image;
        let how = match result {
            Built::Present { .. } => "unchanged",
            Built::Built { .. } => "built",
        };
        let loaded = match args.load {
            Load::None => "",
            Load::Node => load_node(&engine, image, result.id(), &args.containerd).await?,
            Load::Kind => load_kind(image, &args.kind_cluster)?,
            Load::Push => push(&engine, image).await?,
        };
        eprintln!("{}: {image} {how} ({}){loaded}", service.name, result.id());
    }
    Ok(())
}

/// The name containerd's CRI looks `image` up by (`docker.io/library/x`, `docker.io/a/b`).
pub fn cri_name(image: &str) -> String {
    let first = image.split('/').next().unwrap_or_default();
    if !image.contains('/') {
        format!("docker.io/library/{image}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        image.to_string()
    } else {
        format!("docker.io/{image}")
    }
}

fn ctr(address: &str) -> Command {
    let mut cmd = Command::new("ctr");
    cmd.args(["--address", address, "-n", "k8s.io"]);
    cmd
}

/// The image ID (config digest) that `full` names in the node's containerd, if it names one.
fn node_image_id(address: &str, full: &str) -> Result<Option<String>> {
    let listed = ctr(address)
        .args(["images", "ls", &format!("name=={full}")])
        .output()
        .context("running ctr (containerd's client) to reach the node")?;
    if !listed.status.success() {
        bail!(
            "ctr --address {address}: {}; is the node's containerd running (--containerd)?",
            String::from_utf8_lossy(&listed.stderr).trim()
        );
    }
    // REF TYPE DIGEST SIZE …: the digest of the image's manifest (or index).
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    let Some(mut digest) = text
        .lines()
        .skip(1)
        .find_map(|l| l.split_whitespace().nth(2).map(str::to_string))
    else {
        return Ok(None);
    };
    // An index names manifests, a manifest names its config: follow at most two levels.
    for _ in 0..2 {
        let content = ctr(address)
            .args(["content", "get", &digest])
            .output()
            .context("running ctr content get")?;
        let json: serde_json::Value = serde_json::from_slice(&content.stdout).unwrap_or_default();
        if let Some(config) = json["config"]["digest"].as_str() {
            return Ok(Some(config.to_string()));
        }
        match json["manifests"][0]["digest"].as_str() {
            Some(next) => digest = next.to_string(),
            None => break,
        }
    }
    Ok(None)
}

async fn load_node(
    engine: &Engine,
    image: &str,
    docker_id: &str,
    address: &str,
) -> Result<&'static str> {
    let full = cri_name(image);
    // The same tag may name an older build on the node (a build is not byte-reproducible):
    // only the same image ID counts as present.
    if node_image_id(address, &full)?.as_deref() == Some(docker_id) {
        return Ok(", already on the node");
    }
    let mut import = ctr(address)
        .args(["images", "import", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("running ctr images import")?;
    let mut stdin = import.stdin.take().context("ctr stdin")?;
    let mut save = engine.docker.export_image(image);
    while let Some(chunk) = save.next().await {
        stdin
            .write_all(&chunk.with_context(|| format!("docker save {image}"))?)
            .context("writing to ctr images import")?;
    }
    drop(stdin);
    if !import.wait()?.success() {
        bail!("ctr images import of {image} failed");
    }
    let named = ctr(address)
        .args(["images", "ls", "-q", &format!("name=={full}")])
        .output()?;
    if String::from_utf8_lossy(&named.stdout).trim().is_empty() {
        // Older importers keep the short name; the CRI resolves the normalised one.
        let tagged = ctr(address)
            .args(["images", "tag", "--force", image, &full])
            .output()?;
        if !tagged.status.success() {
            bail!("naming {image} {full} in the node's containerd failed");
        }
    }
    Ok(", imported into the node")
}

fn load_kind(image: &str, cluster: &str) -> Result<&'static str> {
    let status = Command::new("kind")
        .args(["load", "docker-image", image, "--name", cluster])
        .status()
        .context("running kind (install it, or use --load node / push)")?;
    if !status.success() {
        bail!("kind load docker-image {image} --name {cluster} failed");
    }
    Ok(", loaded into Kind")
}

async fn push(engine: &Engine, image: &str) -> Result<&'static str> {
    let (repo, tag) = image.rsplit_once(':').unwrap_or((image, "latest"));
    let options = PushImageOptionsBuilder::new().tag(tag).build();
    let mut stream = engine.docker.push_image(repo, Some(options), None);
    while let Some(item) = stream.next().await {
        let info = item.with_context(|| format!("pushing {image}"))?;
        if let Some(detail) = info.error_detail {
            bail!("pushing {image}: {}", detail.message.unwrap_or_default());
        }
    }
    Ok(", pushed")
}

/// The DevStack to apply: `stack` with each built service's `image` set to its content tag
/// and mount sources (and build contexts) absolute, as the plan resolved them.
pub fn applied_stack(mut stack: DevStack, plan: &StackPlan) -> DevStack {
    let name = plan.name.clone();
    for (service_name, spec) in stack.spec.services.iter_mut() {
        let Some(planned) = plan.services.get(service_name) else {
            continue;
        };
        if let (Some(build), Some(spec_build)) = (&planned.build, spec.build.as_mut()) {
            let repository = build_repository(&name, service_name, spec.image.as_deref());
            spec.image = Some(format!("{repository}:{}", build.tag));
            spec_build.context = build.context.clone();
        }
        for (mount, planned) in spec.mounts.iter_mut().zip(&planned.mounts) {
            mount.source = planned.source.clone();
        }
        for (sync, planned) in spec.sync.iter_mut().zip(&planned.sync) {
            sync.source = planned.source.clone();
        }
    }
    stack.metadata.namespace = plan.namespace.clone();
    stack.metadata.managed_fields = None;
    stack.metadata.resource_version = None;
    stack.status = None;
    stack
}

/// `devstack apply`: plans `stack` (in `namespace` when given), builds and loads its images
/// as `args` says and server-side applies the DevStack with the built tags; the plan applied.
pub async fn apply_file(
    stack: &super::StackArgs,
    args: &BuildArgs,
    namespace: Option<&str>,
) -> Result<StackPlan> {
    let mut plan = stack.plan()?;
    if let Some(namespace) = namespace {
        plan.namespace = Some(crate::load::check_namespace(namespace.to_string())?);
    }
    build(&plan, args).await?;
    let text = crate::load::read_text(&stack.file)?;
    let parsed = devstack_core::parse::parse_devstack(&text)?;
    apply(&applied_stack(parsed, &plan)).await?;
    Ok(plan)
}

/// Server-side applies `stack` (field manager `devstack`).
pub async fn apply(stack: &DevStack) -> Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("no Kubernetes client configuration (KUBECONFIG)")?;
    let namespace = stack
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = stack.metadata.name.clone().unwrap_or_default();
    let api = kube::Api::<DevStack>::namespaced(client, &namespace);
    let params = kube::api::PatchParams::apply("devstack").force();
    api.patch(&name, &params, &kube::api::Patch::Apply(stack))
        .await
        .with_context(|| format!("applying DevStack {namespace}/{name}"))?;
    eprintln!("devstack {namespace}/{name} applied; kubectl wait --for=condition=Ready -n {namespace} devstack/{name}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use devstack_core::plan::{plan, PlanOptions};
    use devstack_core::test_support::{manifest, stack_yaml};

    #[test]
    fn the_applied_stack_carries_the_built_tag_and_absolute_paths() {
        let stack = stack_yaml(&manifest(
            "demo",
            "services:\n  api:\n    image: team/api\n    build: {context: ./app}\n    mounts: [{source: ./docs, target: /docs}]\n  web:\n    build: {context: ./web}\n",
        ));
        let options = PlanOptions {
            base_dir: Some("/src/stack".into()),
            build_tags: [("api".into(), "aaaa".into()), ("web".into(), "bbbb".into())].into(),
            ..PlanOptions::default()
        };
        let mut stack_mirrored = stack.clone();
        stack_mirrored.spec.image_registry = Some("mirror.local".into());
        let planned = plan(&stack_mirrored, &options).unwrap();
        let applied = applied_stack(stack_mirrored, &planned);
        let api = &applied.spec.services["api"];
        // The spec keeps the repository as written: the operator applies the mirror itself.
        assert_eq!(api.image.as_deref(), Some("team/api:aaaa"));
        assert_eq!(api.build.as_ref().unwrap().context, "/src/stack/app");
        assert_eq!(api.mounts[0].source, "/src/stack/docs");
        assert_eq!(
            applied.spec.services["web"].image.as_deref(),
            Some("demo/web:bbbb")
        );
        // Planned again without tags (as the operator does), the images are the built ones.
        let again = plan(&applied, &PlanOptions::default()).unwrap();
        assert_eq!(again.services["api"].image, planned.services["api"].image);
        assert_eq!(again.services["web"].image, "mirror.local/demo/web:bbbb");
    }

    #[test]
    fn cri_names_are_normalised_like_containerd_does() {
        assert_eq!(cri_name("redis"), "docker.io/library/redis");
        assert_eq!(cri_name("demo/api:1"), "docker.io/demo/api:1");
        assert_eq!(cri_name("reg.local:5000/a:1"), "reg.local:5000/a:1");
        assert_eq!(cri_name("localhost/a"), "localhost/a");
    }
}
