//! The connection to the Docker engine: `DOCKER_HOST` or the default socket, the API version
//! negotiated with the engine (Debian's Docker 20.10 speaks 1.41; sid's 28.5 speaks 1.51), and
//! what the engine can offer (`start_interval`, GPUs).

use std::time::Duration;

use bollard::Docker;

use super::DriverError;
use crate::api::DockerApi;

/// The default engine address when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long the first answer of the engine may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first Engine API version with `healthcheck.start_interval` (Docker Engine 25).
const START_INTERVAL_API: (usize, usize) = (1, 44);

/// A connected engine: bollard's client by default, anything that speaks [`DockerApi`] in
/// tests.
#[derive(Clone, Debug)]
pub struct Engine<D = Docker> {
    /// The client, speaking the negotiated API version.
    pub docker: D,
    /// The address, for messages.
    pub host: String,
    /// What the engine's API version offers beyond the oldest engine devstack supports.
    pub features: Features,
}

/// What an engine offers that the Compose model is rendered for (the same on every command of
/// a stack: the containers' config hashes depend on it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// `healthcheck.start_interval` (Docker Engine 25 and later, API 1.44): see
    /// [`devstack_render_compose::health::with_start_interval`].
    pub start_interval: bool,
}

impl Features {
    /// What an engine speaking API `major.minor` offers.
    pub fn of_api(major: usize, minor: usize) -> Features {
        Features {
            start_interval: (major, minor) >= START_INTERVAL_API,
        }
    }
}

impl<D: DockerApi> Engine<D> {
    /// An engine over an API client that is already connected (the oldest engine's features).
    pub fn with(docker: D, host: impl Into<String>) -> Engine<D> {
        Engine {
            docker,
            host: host.into(),
            features: Features::default(),
        }
    }
}

impl Engine {
    /// Connects through `DOCKER_HOST` (or the default socket) and negotiates the API version.
    /// Fails with the fix when no engine answers.
    pub async fn connect() -> Result<Engine, DriverError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_string());
        let unreachable = |reason: String| DriverError::EngineUnreachable {
            host: host.clone(),
            reason,
        };
        let docker = Docker::connect_with_host(&host).map_err(|e| unreachable(e.to_string()))?;
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| unreachable(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| unreachable(e.to_string()))?;
        let version = docker.client_version();
        let features = Features::of_api(version.major_version, version.minor_version);
        Ok(Engine {
            docker,
            host,
            features,
        })
    }
}

impl<D: DockerApi> Engine<D> {
    /// Whether the engine can serve GPU device requests: an NVIDIA runtime is installed or
    /// CDI has discovered NVIDIA devices.
    pub async fn gpu_support(&self) -> Result<bool, DriverError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| DriverError::docker("reading the engine's info", e))?;
        let nvidia_runtime = info
            .runtimes
            .as_ref()
            .is_some_and(|r| r.keys().any(|k| k.contains("nvidia")));
        let cdi_gpu = info.discovered_devices.as_ref().is_some_and(|devices| {
            devices.iter().any(|d| {
                d.source.as_deref() == Some("cdi")
                    && d.id.as_deref().is_some_and(|id| id.contains("gpu"))
            })
        });
        Ok(nvidia_runtime || cdi_gpu)
    }
}

#[cfg(test)]
mod tests {
    use super::Features;

    #[test]
    fn start_interval_comes_with_engine_25() {
        assert!(!Features::of_api(1, 41).start_interval, "Debian 12's 20.10");
        assert!(!Features::of_api(1, 43).start_interval, "Engine 24");
        assert!(Features::of_api(1, 44).start_interval, "Engine 25");
        assert!(Features::of_api(1, 51).start_interval, "sid's 28.5");
        assert!(Features::of_api(2, 0).start_interval);
    }
}
