//! The engine calls the driver makes, as a trait: bollard's [`Docker`] client implements it
//! for real engines, and the driver's tests implement it in memory, so ordering, rollback and
//! port conflicts are tested without an engine. The methods mirror bollard's own (names,
//! arguments, results), so the driver reads as plain bollard code.

use std::future::Future;

use bollard::container::LogOutput;
use bollard::errors::Error;
use bollard::exec::{CreateExecOptions, CreateExecResults, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, ContainerCreateResponse, ContainerInspectResponse, ContainerSummary,
    CreateImageInfo, ExecInspectResponse, ImageInspect, Network, NetworkConnectRequest,
    NetworkCreateRequest, NetworkCreateResponse, NetworkInspect, SystemInfo, Volume,
    VolumeCreateRequest, VolumeListResponse,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, InspectNetworkOptions,
    ListContainersOptions, ListNetworksOptions, ListVolumesOptions, LogsOptions,
    RemoveContainerOptions, RemoveVolumeOptions, RenameContainerOptions, StartContainerOptions,
    StopContainerOptions,
};
use bollard::Docker;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

/// A result of an engine call.
pub type ApiResult<T> = Result<T, Error>;

/// The Docker Engine API as far as the driver uses it (see the module docs).
pub trait DockerApi: Sync {
    /// `GET /info`.
    fn info(&self) -> impl Future<Output = ApiResult<SystemInfo>> + Send;
    /// `GET /containers/json`.
    fn list_containers(
        &self,
        options: Option<ListContainersOptions>,
    ) -> impl Future<Output = ApiResult<Vec<ContainerSummary>>> + Send;
    /// `GET /containers/{id}/json`.
    fn inspect_container(
        &self,
        container: &str,
        options: Option<InspectContainerOptions>,
    ) -> impl Future<Output = ApiResult<ContainerInspectResponse>> + Send;
    /// `POST /containers/create`.
    fn create_container(
        &self,
        options: Option<CreateContainerOptions>,
        config: ContainerCreateBody,
    ) -> impl Future<Output = ApiResult<ContainerCreateResponse>> + Send;
    /// `POST /containers/{id}/start`.
    fn start_container(
        &self,
        container: &str,
        options: Option<StartContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send;
    /// `POST /containers/{id}/stop`.
    fn stop_container(
        &self,
        container: &str,
        options: Option<StopContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send;
    /// `POST /containers/{id}/rename`.
    fn rename_container(
        &self,
        container: &str,
        options: RenameContainerOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send;
    /// `DELETE /containers/{id}`.
    fn remove_container(
        &self,
        container: &str,
        options: Option<RemoveContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send;
    /// `GET /containers/{id}/logs`.
    fn logs(
        &self,
        container: &str,
        options: Option<LogsOptions>,
    ) -> BoxStream<'static, ApiResult<LogOutput>>;
    /// `POST /containers/{id}/exec`.
    fn create_exec(
        &self,
        container: &str,
        config: CreateExecOptions<String>,
    ) -> impl Future<Output = ApiResult<CreateExecResults>> + Send;
    /// `POST /exec/{id}/start`.
    fn start_exec(
        &self,
        exec: &str,
        options: Option<StartExecOptions>,
    ) -> impl Future<Output = ApiResult<StartExecResults>> + Send;
    /// `GET /exec/{id}/json`.
    fn inspect_exec(
        &self,
        exec: &str,
    ) -> impl Future<Output = ApiResult<ExecInspectResponse>> + Send;
    /// `GET /images/{name}/json`.
    fn inspect_image(&self, image: &str) -> impl Future<Output = ApiResult<ImageInspect>> + Send;
    /// `POST /images/create` (a pull).
    fn create_image(
        &self,
        options: Option<CreateImageOptions>,
    ) -> BoxStream<'static, ApiResult<CreateImageInfo>>;
    /// `GET /networks`.
    fn list_networks(
        &self,
        options: Option<ListNetworksOptions>,
    ) -> impl Future<Output = ApiResult<Vec<Network>>> + Send;
    /// `GET /networks/{id}`.
    fn inspect_network(
        &self,
        network: &str,
        options: Option<InspectNetworkOptions>,
    ) -> impl Future<Output = ApiResult<NetworkInspect>> + Send;
    /// `POST /networks/create`.
    fn create_network(
        &self,
        config: NetworkCreateRequest,
    ) -> impl Future<Output = ApiResult<NetworkCreateResponse>> + Send;
    /// `POST /networks/{id}/connect`.
    fn connect_network(
        &self,
        network: &str,
        config: NetworkConnectRequest,
    ) -> impl Future<Output = ApiResult<()>> + Send;
    /// `DELETE /networks/{id}`.
    fn remove_network(&self, network: &str) -> impl Future<Output = ApiResult<()>> + Send;
    /// `GET /volumes`.
    fn list_volumes(
        &self,
        options: Option<ListVolumesOptions>,
    ) -> impl Future<Output = ApiResult<VolumeListResponse>> + Send;
    /// `GET /volumes/{name}`.
    fn inspect_volume(&self, volume: &str) -> impl Future<Output = ApiResult<Volume>> + Send;
    /// `POST /volumes/create`.
    fn create_volume(
        &self,
        config: VolumeCreateRequest,
    ) -> impl Future<Output = ApiResult<Volume>> + Send;
    /// `DELETE /volumes/{name}`.
    fn remove_volume(
        &self,
        volume: &str,
        options: Option<RemoveVolumeOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send;
}

impl DockerApi for Docker {
    fn info(&self) -> impl Future<Output = ApiResult<SystemInfo>> + Send {
        Docker::info(self)
    }
    fn list_containers(
        &self,
        options: Option<ListContainersOptions>,
    ) -> impl Future<Output = ApiResult<Vec<ContainerSummary>>> + Send {
        Docker::list_containers(self, options)
    }
    fn inspect_container(
        &self,
        container: &str,
        options: Option<InspectContainerOptions>,
    ) -> impl Future<Output = ApiResult<ContainerInspectResponse>> + Send {
        Docker::inspect_container(self, container, options)
    }
    fn create_container(
        &self,
        options: Option<CreateContainerOptions>,
        config: ContainerCreateBody,
    ) -> impl Future<Output = ApiResult<ContainerCreateResponse>> + Send {
        Docker::create_container(self, options, config)
    }
    fn start_container(
        &self,
        container: &str,
        options: Option<StartContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        Docker::start_container(self, container, options)
    }
    fn stop_container(
        &self,
        container: &str,
        options: Option<StopContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        Docker::stop_container(self, container, options)
    }
    fn rename_container(
        &self,
        container: &str,
        options: RenameContainerOptions,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        Docker::rename_container(self, container, options)
    }
    fn remove_container(
        &self,
        container: &str,
        options: Option<RemoveContainerOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        Docker::remove_container(self, container, options)
    }
    fn logs(
        &self,
        container: &str,
        options: Option<LogsOptions>,
    ) -> BoxStream<'static, ApiResult<LogOutput>> {
        Docker::logs(self, container, options).boxed()
    }
    fn create_exec(
        &self,
        container: &str,
        config: CreateExecOptions<String>,
    ) -> impl Future<Output = ApiResult<CreateExecResults>> + Send {
        Docker::create_exec(self, container, config)
    }
    fn start_exec(
        &self,
        exec: &str,
        options: Option<StartExecOptions>,
    ) -> impl Future<Output = ApiResult<StartExecResults>> + Send {
        Docker::start_exec(self, exec, options)
    }
    fn inspect_exec(
        &self,
        exec: &str,
    ) -> impl Future<Output = ApiResult<ExecInspectResponse>> + Send {
        Docker::inspect_exec(self, exec)
    }
    fn inspect_image(&self, image: &str) -> impl Future<Output = ApiResult<ImageInspect>> + Send {
        Docker::inspect_image(self, image)
    }
    fn create_image(
        &self,
        options: Option<CreateImageOptions>,
    ) -> BoxStream<'static, ApiResult<CreateImageInfo>> {
        Docker::create_image(self, options, None, None).boxed()
    }
    fn list_networks(
        &self,
        options: Option<ListNetworksOptions>,
    ) -> impl Future<Output = ApiResult<Vec<Network>>> + Send {
        Docker::list_networks(self, options)
    }
    fn inspect_network(
        &self,
        network: &str,
        options: Option<InspectNetworkOptions>,
    ) -> impl Future<Output = ApiResult<NetworkInspect>> + Send {
        Docker::inspect_network(self, network, options)
    }
    fn create_network(
        &self,
        config: NetworkCreateRequest,
    ) -> impl Future<Output = ApiResult<NetworkCreateResponse>> + Send {
        Docker::create_network(self, config)
    }
    fn connect_network(
        &self,
        network: &str,
        config: NetworkConnectRequest,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        Docker::connect_network(self, network, config)
    }
    fn remove_network(&self, network: &str) -> impl Future<Output = ApiResult<()>> + Send {
        Docker::remove_network(self, network)
    }
    fn list_volumes(
        &self,
        options: Option<ListVolumesOptions>,
    ) -> impl Future<Output = ApiResult<VolumeListResponse>> + Send {
        Docker::list_volumes(self, options)
    }
    fn inspect_volume(&self, volume: &str) -> impl Future<Output = ApiResult<Volume>> + Send {
        Docker::inspect_volume(self, volume)
    }
    fn create_volume(
        &self,
        config: VolumeCreateRequest,
    ) -> impl Future<Output = ApiResult<Volume>> + Send {
        Docker::create_volume(self, config)
    }
    fn remove_volume(
        &self,
        volume: &str,
        options: Option<RemoveVolumeOptions>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        Docker::remove_volume(self, volume, options)
    }
}
