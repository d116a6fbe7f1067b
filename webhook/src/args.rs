//! Command-line flags, and the wiring they select.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context as _, bail};
use clap::Parser;
use gco_runtime::{Limits, LogFormat, Readiness, Shutdown, telemetry};
use kube::Client;
use tokio::net::TcpListener;
use tracing::info;

use crate::{
    cluster::KubeCluster,
    review::Webhook,
    server,
    tls::{self, CertStore, files::CertFiles, self_managed::SelfManaged},
};

/// The git-change-operator admission webhook.
#[derive(Debug, Parser)]
#[command(name = "gco-webhook", version)]
pub struct Args {
    /// Address of the HTTPS server the apiserver calls.
    #[arg(long, env = "GCO_WEBHOOK_LISTEN", default_value = "0.0.0.0:9443")]
    pub listen: SocketAddr,
    /// Optional plain-HTTP address for `/metrics`, `/healthz` and `/readyz` (never the
    /// admission routes, which are served over TLS only).
    #[arg(long, env = "GCO_WEBHOOK_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// PEM serving certificate (cert-manager's `tls.crt`); re-read when it changes.
    #[arg(long, requires = "tls_key_file", conflicts_with = "self_managed")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key (cert-manager's `tls.key`).
    #[arg(long, requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// How often the certificate files are checked for changes, in seconds.
    #[arg(long, default_value_t = 5)]
    pub cert_reload_seconds: u64,
    /// Generate and rotate the CA and serving certificate, keep them in a Secret and patch
    /// the webhook configurations' `caBundle`.
    #[arg(long)]
    pub self_managed: bool,
    /// Namespace of the certificate Secret and the Service.
    #[arg(long, env = gco_runtime::POD_NAMESPACE_ENV, default_value = gco_runtime::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Name of the Secret holding the self-managed certificates.
    #[arg(long, default_value = "gco-webhook-tls")]
    pub secret_name: String,
    /// Name of the webhook Service (the certificate names `<service>.<namespace>.svc`).
    #[arg(long, default_value = "gco-webhook")]
    pub service_name: String,
    /// Extra DNS names or IP addresses for the serving certificate.
    #[arg(long, value_delimiter = ',')]
    pub extra_names: Vec<String>,
    /// MutatingWebhookConfiguration whose `caBundle` is patched.
    #[arg(long, default_value = "gco-mutating-webhook")]
    pub mutating_webhook: String,
    /// ValidatingWebhookConfiguration whose `caBundle` is patched.
    #[arg(long, default_value = "gco-validating-webhook")]
    pub validating_webhook: String,
    /// Lifetime of a self-managed serving certificate, in hours (the CA lives ten times longer).
    #[arg(long, default_value_t = 90 * 24)]
    pub cert_lifetime_hours: i64,
    /// Renew a self-managed certificate when less than this is left, in hours.
    #[arg(long, default_value_t = 30 * 24)]
    pub renew_before_hours: i64,
    /// Log format: `text` or `json`.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

impl Args {
    /// Parses the command line and runs the webhook until the process is stopped.
    pub async fn parse_and_run() -> anyhow::Result<()> {
        Self::parse().run().await
    }

    /// Runs the webhook with these flags.
    pub async fn run(self) -> anyhow::Result<()> {
        // Only fails when a subscriber is installed already, which then logs instead.
        let _ = telemetry::init(self.log_format);
        let files_given = self.tls_cert_file.is_some() && self.tls_key_file.is_some();
        if files_given == self.self_managed {
            bail!("give either --tls-cert-file and --tls-key-file, or --self-managed");
        }
        let client = Client::try_default()
            .await
            .context("cannot build a Kubernetes client")?;
        // Filled before anything is served, and never emptied again: a loaded certificate is
        // not part of readiness below.
        let store = Arc::new(CertStore::default());
        match (&self.tls_cert_file, &self.tls_key_file, self.self_managed) {
            (Some(cert), Some(key), false) => {
                let files = CertFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                    interval: Duration::from_secs(self.cert_reload_seconds.max(1)),
                };
                files
                    .load(&store)
                    .await
                    .context("cannot load the serving certificate")?;
                tokio::spawn(files.watch(store.clone()));
            }
            (None, None, true) => {
                let manager = self.self_managed_certs(client.clone());
                manager
                    .ensure(&store)
                    .await
                    .context("cannot set up self-managed certificates")?;
                tokio::spawn(manager.run(store.clone()));
            }
            _ => bail!("give either --tls-cert-file and --tls-key-file, or --self-managed"),
        }
        let cluster = Arc::new(KubeCluster::start(client));
        let webhook = Arc::new(Webhook::new(cluster.clone()));
        let readiness = Readiness::default();
        if let Some(addr) = self.metrics_listen {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let probes = server::probe_routes(&webhook, readiness.clone());
            tokio::spawn(gco_runtime::serve_plain_on(
                listener,
                probes,
                Limits::default(),
            ));
        }
        let listener = TcpListener::bind(self.listen)
            .await
            .with_context(|| format!("cannot listen on {}", self.listen))?;
        let tls = tls::server_config(store).context("cannot build the TLS configuration")?;
        let router = server::router(webhook, readiness.clone());
        let mut shutdown = Shutdown::listen().context("cannot handle stop signals")?;
        let serving = tokio::spawn(server::serve_tls(listener, tls, router, Limits::default()));
        info!(listen = %self.listen, "admission webhook serving");
        // Ready once the policies and namespaces are listed, unless told to stop first: in
        // this order, a stop can never be followed by "ready".
        let stopped = tokio::select! {
            () = cluster.wait_until_ready() => false,
            () = shutdown.wait() => true,
        };
        if !stopped {
            readiness.set_ready();
            shutdown.wait().await;
        }
        // Keep answering while the Service endpoints drop this pod: the apiserver may still
        // send reviews here for a moment, and a refused connection fails an admission.
        info!(drain = ?DRAIN, "shutting down: not ready, draining");
        readiness.set_not_ready();
        tokio::time::sleep(DRAIN).await;
        serving.abort();
        Ok(())
    }

    fn self_managed_certs(&self, client: Client) -> SelfManaged {
        let service = format!("{}.{}.svc", self.service_name, self.namespace);
        let mut names = vec![service.clone(), format!("{service}.cluster.local")];
        names.extend(self.extra_names.iter().cloned());
        SelfManaged {
            client,
            namespace: self.namespace.clone(),
            secret_name: self.secret_name.clone(),
            names,
            mutating_webhook: Some(self.mutating_webhook.clone()).filter(|n| !n.is_empty()),
            validating_webhook: Some(self.validating_webhook.clone()).filter(|n| !n.is_empty()),
            lifetime: self.cert_lifetime_hours.saturating_mul(3600),
            renew_before: self.renew_before_hours.saturating_mul(3600),
            interval: Duration::from_secs(60),
            propagation: Duration::from_secs(5),
        }
    }
}

/// How long the webhook keeps serving after SIGTERM, while it reports not ready.
const DRAIN: Duration = Duration::from_secs(5);
