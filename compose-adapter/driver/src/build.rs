//! Building a service's image through the Engine API: the context as a tar
//! ([`crate::context`]), tagged with the content tag the plan carries, build output streamed to
//! the progress view. An image whose content tag the engine already has is not rebuilt.

use std::collections::HashMap;

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;

use devstack_core::plan::{BuildPlan, StackPlan};

use crate::context::{BuildContext, ContextError};
use crate::progress::Progress;
use crate::{is_not_found, DriverError};

/// What building one service's image did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Built {
    /// The engine already had the image of this content tag.
    Present {
        /// Image id.
        id: String,
    },
    /// The image was built.
    Built {
        /// Image id.
        id: String,
    },
}

impl Built {
    /// The image id.
    pub fn id(&self) -> &str {
        match self {
            Built::Present { id } | Built::Built { id } => id,
        }
    }
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The context could not be read (exit 2: the spec names a wrong path).
    #[error("spec.services.{service}.build.{}: {source}", source.field())]
    Context {
        /// The service.
        service: String,
        /// What is wrong.
        #[source]
        source: ContextError,
    },
    /// The engine failed the build (the Dockerfile's step output says why).
    #[error("service {service:?}: building {image} failed: {message}")]
    Failed {
        /// The service.
        service: String,
        /// The image reference.
        image: String,
        /// The engine's message.
        message: String,
    },
    /// The engine could not be asked.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// Builds the image of every active service with `build` whose content tag the engine does
/// not have yet, one after the other (builds share the engine's CPUs anyway).
pub async fn build_all(
    docker: &Docker,
    plan: &StackPlan,
    progress: &Progress,
) -> Result<HashMap<String, Built>, BuildError> {
    let mut out = HashMap::new();
    for service in plan.active_services() {
        let Some(build) = &service.build else {
            continue;
        };
        let built = build_one(docker, &service.name, build, progress).await?;
        out.insert(service.name.clone(), built);
    }
    Ok(out)
}

/// Builds `build` as `<repository>:<tag>` unless the engine has that image already.
pub async fn build_one(
    docker: &Docker,
    service: &str,
    build: &BuildPlan,
    progress: &Progress,
) -> Result<Built, BuildError> {
    let image = format!("{}:{}", build.repository, build.tag);
    match docker.inspect_image(&image).await {
        Ok(found) => {
            return Ok(Built::Present {
                id: found.id.unwrap_or_default(),
            })
        }
        Err(e) if is_not_found(&e) => {}
        Err(e) => return Err(DriverError::docker(format!("inspecting image {image}"), e).into()),
    }
    let context_err = |source| BuildError::Context {
        service: service.to_string(),
        source,
    };
    let context = BuildContext::open(build).map_err(context_err)?;
    let tar = context.tar().map_err(context_err)?;
    progress.step(service, &format!("building {image}"));
    let args: HashMap<String, String> = build.args.clone().into_iter().collect();
    let mut options = BuildImageOptionsBuilder::new()
        .dockerfile(&build.dockerfile)
        .t(&image)
        .rm(true)
        .forcerm(true)
        .buildargs(&args);
    if let Some(target) = &build.target {
        options = options.target(target);
    }
    let failed = |message: String| BuildError::Failed {
        service: service.to_string(),
        image: image.clone(),
        message,
    };
    let mut stream =
        docker.build_image(options.build(), None, Some(bollard::body_full(tar.into())));
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| failed(e.to_string()))?;
        if let Some(detail) = info.error_detail {
            return Err(failed(detail.message.unwrap_or_default()));
        }
        if let Some(line) = info
            .stream
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            progress.step(service, line);
        }
    }
    let found = docker
        .inspect_image(&image)
        .await
        .map_err(|e| failed(format!("the image is missing after the build: {e}")))?;
    Ok(Built::Built {
        id: found.id.unwrap_or_default(),
    })
}
