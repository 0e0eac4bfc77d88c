//! An engine in memory: enough of the Docker API for `up` to run against (images present,
//! networks, volumes and containers kept in maps, every container healthy once started),
//! recording each call, with faults to inject: a start that fails, a host port that is taken.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Mutex;

use bollard::container::LogOutput;
use bollard::errors::Error;
use bollard::exec::{CreateExecOptions, CreateExecResults, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerConfig, ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse,
    ContainerState, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum,
    CreateImageInfo, ExecInspectResponse, Health, HealthConfig, HealthStatusEnum, ImageInspect,
    Network, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkInspect,
    SystemInfo, Volume, VolumeCreateRequest, VolumeListResponse,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, InspectNetworkOptions,
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, LogsOptions,
    RemoveContainerOptions, RemoveVolumeOptions, RenameContainerOptions, StartContainerOptions,
    StopContainerOptions,
};
use futures_util::stream::{self, BoxStream, StreamExt};

use crate::api::{ApiResult, DockerApi};

mod util;

/// A container the mock holds.
#[derive(Clone, Debug)]
struct Container {
    id: String,
    name: String,
    labels: BTreeMap<String, String>,
    env: Vec<String>,
    image: String,
    running: bool,
    /// The health check's test, as created.
    health_test: Option<Vec<String>>,
}

#[derive(Default)]
pub(super) struct State {
    containers: Vec<Container>,
    networks: BTreeMap<String, Labels>,
    volumes: BTreeMap<String, Labels>,
    calls: Vec<String>,
    next_id: u32,
}

/// The in-memory engine (see the module docs).
#[derive(Default)]
pub struct MockDocker {
    pub(super) state: Mutex<State>,
    /// Container names whose start fails with an engine error.
    pub failing_starts: BTreeSet<String>,
    /// Images whose containers fail to start (a changed service that cannot run).
    pub failing_images: BTreeSet<String>,
    /// Container name → a host port its start finds taken.
    pub taken_ports: BTreeMap<String, u16>,
    /// What an exec (the driver's own health probe) does.
    pub exec: ExecBehaviour,
    /// How long each container creation blocks (an engine's real pace, for races).
    pub create_delay: std::time::Duration,
}

/// How the mock's execs behave.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExecBehaviour {
    /// Detached, exit code 0, and every running container reports healthy.
    #[default]
    Healthy,
    /// Never finishes (and containers report no health status).
    Hang,
    /// Prints without end (and containers report no health status).
    Flood,
    /// Exit code 0, but the engine's own health stays `starting` (it checks every interval).
    EngineStarting,
}

use util::{done, not_found, passes, Labels};

impl MockDocker {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn call(&self, call: String) {
        self.with(|s| s.calls.push(call));
    }
}

impl DockerApi for MockDocker {
    fn info(&self) -> impl Future<Output = ApiResult<SystemInfo>> + Send {
        done(Ok(SystemInfo::default()))
    }

    fn list_containers(
        &self,
        options: Option<ListContainersOptions>,
    ) -> impl Future<Output = ApiResult<Vec<ContainerSummary>>> + Send {
        let filters = options.and_then(|o| o.filters);
        let list = self.with(|s| {
            s.containers
                .iter()
                .filter(|c| passes(&c.labels.clone().into_iter().collect(), filters.as_ref()))
                .map(|c| ContainerSummary {
                    id: Some(c.id.clone()),
                    names: Some(vec![format!("/{}", c.name)]),
                    labels: Some(c.labels.clone().into_iter().collect()),
                    state: Some(if c.running {
                        ContainerSummaryStateEnum::RUNNING
                    } else {
                        ContainerSummaryStateEnum::EXITED
                    }),
                    ..ContainerSummary::default()
                })
                .collect()
        });
        done(Ok(list))
    }

    fn inspect_container(
        &self,
        container: &str,
        _options: Option<InspectContainerOptions>,
    ) -> impl Future<Output = ApiResult<ContainerInspectResponse>> + Send {
        self.call(format!("inspect {container}"));
        let found = self.find(container).map(|c| ContainerInspectResponse {
            state: Some(ContainerState {
                status: Some(if c.running {
                    ContainerStateStatusEnum::RUNNING
                } else {
                    ContainerStateStatusEnum::CREATED
                }),
                running: Some(c.running),
                health: match self.exec {
                    ExecBehaviour::Healthy if c.running => Some(HealthStatusEnum::HEALTHY),
                    ExecBehaviour::EngineStarting if c.running && c.health_test.is_some() => {
                        Some(HealthStatusEnum::STARTING)
                    }
                    _ => None,
                }
                .map(|status| Health {
                    status: Some(status),
                    ..Health::default()
                }),
                ..ContainerState::default()
            }),
            config: Some(ContainerConfig {
                healthcheck: Some(HealthConfig {
                    test: c.health_test.clone(),
                    ..HealthConfig::default()
                }),
                ..ContainerConfig::default()
            }),
            ..ContainerInspectResponse::default()
        });
        done(found.ok_or_else(|| not_found("container")))
    }

    fn create_container(
        &self,
        options: Option<CreateContainerOptions>,
        config: ContainerCreateBody,
    ) -> impl Future<Output = ApiResult<ContainerCreateResponse>> + Send {
        let name = options.and_then(|o| o.name).unwrap_or_default();
        std::thread::sleep(self.create_delay);
        let id = self.with(|s| {
            s.next_id += 1;
            let id = format!("id{}", s.next_id);
            s.containers.push(Container {
                id: id.clone(),
                name: name.clone(),
                labels: config.labels.unwrap_or_default().into_iter().collect(),
                env: config.env.unwrap_or_default(),
                image: config.image.unwrap_or_default(),
                running: false,
                health_test: config.healthcheck.and_then(|h| h.test),
            });
            s.calls.push(format!("create {name}"));
            id
        });
        done(Ok(ContainerCreateResponse {
            id,
            warnings: Vec::new(),
        }))
    }

    fn start_container(
        &self,
        container: &str,
        _options: Option<StartContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let result = match self.find(container) {
            None => Err(not_found("container")),
            Some(c) => {
                self.call(format!("start {}", c.name));
                if let Some(port) = self.taken_ports.get(&c.name) {
                    Err(Error::DockerResponseServerError {
                        status_code: 500,
                        message: format!("driver failed programming external connectivity on endpoint {}: Bind for 127.0.0.1:{port} failed: port is already allocated", c.name),
                    })
                } else if self.failing_starts.contains(&c.name)
                    || self.failing_images.contains(&c.image)
                {
                    Err(Error::DockerResponseServerError {
                        status_code: 500,
                        message: "OCI runtime create failed".to_string(),
                    })
                } else {
                    self.with(|s| {
                        s.containers
                            .iter_mut()
                            .filter(|x| x.id == c.id)
                            .for_each(|x| x.running = true)
                    });
                    Ok(())
                }
            }
        };
        done(result)
    }

    fn stop_container(
        &self,
        container: &str,
        _options: Option<StopContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        self.with(|s| {
            s.calls.push(format!("stop {container}"));
            s.containers
                .iter_mut()
                .filter(|x| x.id == container || x.name == container)
                .for_each(|x| x.running = false)
        });
        done(Ok(()))
    }

    fn rename_container(
        &self,
        container: &str,
        options: RenameContainerOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let renamed = self.with(|s| {
            s.calls.push(format!("rename {container} {}", options.name));
            let taken = s.containers.iter().any(|x| x.name == options.name);
            let found = s.containers.iter_mut().find(|x| x.id == container);
            match found {
                Some(x) if !taken => {
                    x.name = options.name.clone();
                    true
                }
                _ => false,
            }
        });
        done(if renamed {
            Ok(())
        } else {
            Err(not_found("container, or the name is taken"))
        })
    }

    fn remove_container(
        &self,
        container: &str,
        _options: Option<RemoveContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let found = self.find(container);
        let result = match found {
            None => Err(not_found("container")),
            Some(c) => {
                self.with(|s| {
                    s.containers.retain(|x| x.id != c.id);
                    s.calls.push(format!("remove {}", c.name));
                });
                Ok(())
            }
        };
        done(result)
    }

    fn logs(
        &self,
        _container: &str,
        _options: Option<LogsOptions>,
    ) -> BoxStream<'static, ApiResult<LogOutput>> {
        stream::empty().boxed()
    }

    fn create_exec(
        &self,
        _container: &str,
        _config: CreateExecOptions<String>,
    ) -> impl Future<Output = ApiResult<CreateExecResults>> + Send {
        done(Ok(CreateExecResults {
            id: "exec".to_string(),
        }))
    }

    fn start_exec(
        &self,
        _exec: &str,
        _options: Option<StartExecOptions>,
    ) -> impl Future<Output = ApiResult<StartExecResults>> + Send {
        let input =
            || -> std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>> { Box::pin(Vec::new()) };
        done(Ok(match self.exec {
            ExecBehaviour::Healthy | ExecBehaviour::EngineStarting => StartExecResults::Detached,
            ExecBehaviour::Hang => StartExecResults::Attached {
                output: stream::pending().boxed(),
                input: input(),
            },
            ExecBehaviour::Flood => StartExecResults::Attached {
                output: stream::repeat_with(|| {
                    Ok(LogOutput::StdOut {
                        message: vec![b'x'; 8192].into(),
                    })
                })
                .boxed(),
                input: input(),
            },
        }))
    }

    fn inspect_exec(
        &self,
        _exec: &str,
    ) -> impl Future<Output = ApiResult<ExecInspectResponse>> + Send {
        done(Ok(ExecInspectResponse {
            // A flooding check is still running when the reader stops.
            exit_code: (!matches!(self.exec, ExecBehaviour::Hang | ExecBehaviour::Flood))
                .then_some(0),
            ..ExecInspectResponse::default()
        }))
    }

    fn inspect_image(&self, image: &str) -> impl Future<Output = ApiResult<ImageInspect>> + Send {
        done(Ok(ImageInspect {
            id: Some(format!("sha256:{image}")),
            ..ImageInspect::default()
        }))
    }

    fn create_image(
        &self,
        _options: Option<CreateImageOptions>,
    ) -> BoxStream<'static, ApiResult<CreateImageInfo>> {
        stream::empty().boxed()
    }

    fn list_networks(
        &self,
        options: Option<ListNetworksOptions>,
    ) -> impl Future<Output = ApiResult<Vec<Network>>> + Send {
        let filters = options.and_then(|o| o.filters);
        let list = self.with(|s| {
            s.networks
                .iter()
                .filter(|(_, l)| passes(l, filters.as_ref()))
                .map(|(n, _)| Network {
                    name: Some(n.clone()),
                    ..Network::default()
                })
                .collect()
        });
        done(Ok(list))
    }

    fn inspect_network(
        &self,
        network: &str,
        _options: Option<InspectNetworkOptions>,
    ) -> impl Future<Output = ApiResult<NetworkInspect>> + Send {
        self.call(format!("inspect network {network}"));
        let found = self.with(|s| s.networks.get(network).cloned());
        done(
            found
                .ok_or_else(|| not_found("network"))
                .map(|labels| NetworkInspect {
                    labels: Some(labels),
                    ..NetworkInspect::default()
                }),
        )
    }

    fn create_network(
        &self,
        config: NetworkCreateRequest,
    ) -> impl Future<Output = ApiResult<NetworkCreateResponse>> + Send {
        self.with(|s| {
            s.calls.push(format!("create network {}", config.name));
            let labels = config.labels.clone().unwrap_or_default();
            s.networks.insert(config.name.clone(), labels);
        });
        done(Ok(NetworkCreateResponse::default()))
    }

    fn connect_network(
        &self,
        network: &str,
        _config: NetworkConnectRequest,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let known = self.with(|s| s.networks.contains_key(network));
        done(if known {
            Ok(())
        } else {
            Err(not_found("network"))
        })
    }

    fn remove_network(&self, network: &str) -> impl Future<Output = ApiResult<()>> + Send {
        let removed = self.with(|s| {
            s.calls.push(format!("remove network {network}"));
            s.networks.remove(network).is_some()
        });
        done(if removed {
            Ok(())
        } else {
            Err(not_found("network"))
        })
    }

    fn list_volumes(
        &self,
        options: Option<ListVolumesOptions>,
    ) -> impl Future<Output = ApiResult<VolumeListResponse>> + Send {
        let filters = options.and_then(|o| o.filters);
        let volumes = self.with(|s| {
            s.volumes
                .iter()
                .filter(|(_, l)| passes(l, filters.as_ref()))
                .map(|(v, labels)| Volume {
                    name: v.clone(),
                    labels: labels.clone(),
                    ..Volume::default()
                })
                .collect()
        });
        done(Ok(VolumeListResponse {
            volumes: Some(volumes),
            ..VolumeListResponse::default()
        }))
    }

    fn inspect_volume(&self, volume: &str) -> impl Future<Output = ApiResult<Volume>> + Send {
        self.call(format!("inspect volume {volume}"));
        let found = self.with(|s| s.volumes.get(volume).cloned());
        done(
            found
                .ok_or_else(|| not_found("volume"))
                .map(|labels| Volume {
                    name: volume.to_string(),
                    labels,
                    ..Volume::default()
                }),
        )
    }

    fn create_volume(
        &self,
        config: VolumeCreateRequest,
    ) -> impl Future<Output = ApiResult<Volume>> + Send {
        let name = config.name.unwrap_or_default();
        self.with(|s| {
            s.calls.push(format!("create volume {name}"));
            s.volumes
                .insert(name.clone(), config.labels.clone().unwrap_or_default());
        });
        done(Ok(Volume {
            name,
            ..Volume::default()
        }))
    }

    fn remove_volume(
        &self,
        volume: &str,
        _options: Option<RemoveVolumeOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        let removed = self.with(|s| {
            s.calls.push(format!("remove volume {volume}"));
            s.volumes.remove(volume).is_some()
        });
        done(if removed {
            Ok(())
        } else {
            Err(not_found("volume"))
        })
    }
}
