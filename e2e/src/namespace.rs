//! [`TestNamespace`]: a fresh, uniquely named namespace for one test, deleted afterwards.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, ObjectMeta, PostParams};
use kube::{Api, Client, Config};

use crate::{
    client_from_config, config, kubectl, poll_until_gone, unique_name, TEST_NAMESPACE_LABEL,
};

/// A fresh namespace for one test, deleted afterwards.
///
/// Call [`TestNamespace::cleanup`] at the end of the test; if the test panics first, `Drop`
/// deletes the namespace on a best-effort basis.
pub struct TestNamespace {
    name: String,
    client: Client,
    config: Config,
    cleaned: bool,
}

impl TestNamespace {
    /// Creates a namespace named `<prefix>-<unique suffix>` with the admin client. Its pods
    /// run on the real node (when the cluster has one).
    pub async fn new(prefix: &str) -> Result<Self> {
        Self::create(prefix, Vec::new()).await
    }

    /// Like [`TestNamespace::new`], but every pod of the namespace goes to the kwok node (Ready
    /// without running; any image), whoever creates it.
    pub async fn on_kwok(prefix: &str) -> Result<Self> {
        Self::create(prefix, kubectl::kwok_namespace_annotations()).await
    }

    async fn create(prefix: &str, annotations: Vec<(String, String)>) -> Result<Self> {
        let config = config().await?;
        let client = client_from_config(config.clone()).await?;
        let name = unique_name(prefix);
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some([(TEST_NAMESPACE_LABEL.to_string(), "true".to_string())].into()),
                annotations: (!annotations.is_empty()).then(|| annotations.into_iter().collect()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .with_context(|| format!("creating test namespace {name}"))?;
        Ok(Self {
            name,
            client,
            config,
            cleaned: false,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin client (cheap to clone).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A namespaced API handle for `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace (without waiting for it to disappear).
    pub async fn cleanup(mut self) -> Result<()> {
        self.cleaned = true;
        delete_namespace(&self.client, &self.name).await
    }

    /// Deletes the namespace and waits until it is gone.
    pub async fn delete_and_wait(mut self, timeout: Duration) -> Result<()> {
        self.cleaned = true;
        delete_namespace(&self.client, &self.name).await?;
        let api = Api::<Namespace>::all(self.client.clone());
        poll_until_gone(&api, &self.name, timeout).await
    }
}

async fn delete_namespace(client: &Client, name: &str) -> Result<()> {
    match Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(anyhow!(e).context(format!("deleting test namespace {name}"))),
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // The test's runtime may be going away (a panic unwinds through it), so delete from
        // a separate thread with its own runtime and a fresh connection.
        let config = self.config.clone();
        let name = self.name.clone();
        let worker = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(client) = Client::try_from(config) {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        delete_namespace(&client, &name),
                    )
                    .await;
                }
            });
        });
        let _ = worker.join();
    }
}
