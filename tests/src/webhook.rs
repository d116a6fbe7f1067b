//! The admission webhook, run in-process on 127.0.0.1 for a whole test binary and registered
//! with the shared control plane through `url` + `caBundle` configurations.
//!
//! The server lives on its own thread and runtime: a `#[tokio::test]` runtime ends with its
//! test, and the apiserver must reach the webhook for every test of the binary.

use std::{
    net::TcpListener as StdListener,
    path::PathBuf,
    sync::{Arc, OnceLock, mpsc},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use gco_webhook::{
    KubeCluster, Webhook,
    server::{self, Limits, Readiness},
    tls::{self, CertStore, files::CertFiles},
};
use k8s_openapi::{
    ByteString,
    api::admissionregistration::v1::{
        MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
    },
};
use kube::{
    Api, Client,
    api::{DynamicObject, Patch, PatchParams, PostParams},
};
use serde_json::json;

use crate::testenv::{ControlPlane, TEST_MANAGER};

/// How often the server re-reads its certificate files (fast, for the rotation test).
const RELOAD_INTERVAL: Duration = Duration::from_millis(100);
/// The mutating webhook is called only when the object leaves something to default or a path
/// to normalise (the same condition as `config/webhook/manifests.yaml`).
pub const NEEDS_DEFAULTS: &str = "!has(object.spec.commit) || !has(object.spec.commit.author) || !has(object.spec.commit.message) || (has(object.spec.resourceReferences) && object.spec.resourceReferences.exists(r, !has(r.namespace) || r.output.path.startsWith('./') || r.output.path.contains('//') || r.output.path.contains('/./') || r.output.path.endsWith('/.'))) || (has(object.spec.files) && object.spec.files.exists(f, f.path.startsWith('./') || f.path.contains('//') || f.path.contains('/./') || f.path.endsWith('/.'))) || (request.kind.kind == 'PullRequest' && !has(object.spec.repository.provider))";
/// Name of both test webhook configurations.
pub const CONFIGURATION: &str = "gco-test-webhook";

/// The webhook binary of the same build (see [`crate::procs::sibling_binary`]), for tests of
/// the process itself: its flags, its ports, its signals.
pub fn webhook_binary() -> Result<PathBuf> {
    crate::procs::sibling_binary("gco-webhook", "gco-webhook")
}

/// The `gco-webhook` binary running as a process, with a serving certificate from the control
/// plane's CA: for tests of the process itself (its ports, its metrics, its signals).
pub struct WebhookProcess {
    pub process: crate::procs::Guarded,
    /// The TLS port the apiserver calls.
    pub tls: std::net::SocketAddr,
    /// The plain port of probes and metrics.
    pub metrics: std::net::SocketAddr,
    /// Where its output goes.
    pub log: PathBuf,
}

impl WebhookProcess {
    /// Starts it with its files (certificate, key, log) in `dir`.
    pub fn start(plane: &ControlPlane, dir: &std::path::Path) -> Result<Self> {
        use crate::procs::{free_port, spawn_logged};
        std::fs::create_dir_all(dir)?;
        let pair = plane.ca().server(&["127.0.0.1"])?;
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, &pair.cert_pem)?;
        std::fs::write(&key, &pair.key_pem)?;
        let tls: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let metrics: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let log = dir.join("webhook.log");
        let mut command = std::process::Command::new(webhook_binary()?);
        command
            .arg(format!("--listen={tls}"))
            .arg(format!("--metrics-listen={metrics}"))
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .args(["--log-format", "text"])
            .env("KUBECONFIG", plane.kubeconfig())
            .env("RUST_LOG", "info,gco_webhook=debug");
        let process = spawn_logged(&command, Some(&log)).context("start gco-webhook")?;
        Ok(Self {
            process,
            tls,
            metrics,
            log,
        })
    }
}

/// The running webhook of this test binary.
pub struct WebhookServer {
    pub port: u16,
    cert_dir: PathBuf,
}

impl WebhookServer {
    /// Starts the webhook on first use; serves with a certificate from the control plane's CA.
    pub fn shared() -> &'static WebhookServer {
        static SHARED: OnceLock<WebhookServer> = OnceLock::new();
        SHARED.get_or_init(|| match WebhookServer::start() {
            Ok(server) => server,
            Err(error) => panic!("the webhook did not start: {error:#}"),
        })
    }

    fn start() -> Result<Self> {
        let plane = ControlPlane::shared();
        let cert_dir = plane.scratch_dir("webhook")?;
        let server = WebhookServer {
            port: StdListener::bind("127.0.0.1:0")?.local_addr()?.port(),
            cert_dir,
        };
        server.rotate()?;
        let (cert, key) = (
            server.cert_dir.join("tls.crt"),
            server.cert_dir.join("tls.key"),
        );
        let port = server.port;
        let (tx, rx) = mpsc::channel::<Result<(), String>>();
        thread::Builder::new()
            .name("webhook".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => return drop(tx.send(Err(error.to_string()))),
                };
                runtime.block_on(async move {
                    if let Err(error) = serve(port, cert, key, &tx).await {
                        let _ = tx.send(Err(format!("{error:#}")));
                    }
                });
            })?;
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(())) => Ok(server),
            Ok(Err(error)) => bail!(error),
            Err(_) => bail!("the webhook did not report ready within 60s"),
        }
    }

    /// Writes a new serving certificate and key (a fresh key pair from the same CA); the
    /// server picks it up within [`RELOAD_INTERVAL`].
    pub fn rotate(&self) -> Result<()> {
        let pair = ControlPlane::shared()
            .ca()
            .server(&["127.0.0.1", "localhost"])?;
        // Key first, certificate last: a reader that sees a mismatched pair keeps the old one.
        let write = |name: &str, text: &str| -> Result<()> {
            let temporary = self.cert_dir.join(format!(".{name}.tmp"));
            std::fs::write(&temporary, text)?;
            std::fs::rename(&temporary, self.cert_dir.join(name))?;
            Ok(())
        };
        write("tls.key", &pair.key_pem)?;
        write("tls.crt", &pair.cert_pem)?;
        Ok(())
    }

    /// `https://127.0.0.1:<port>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

async fn serve(
    port: u16,
    cert: PathBuf,
    key: PathBuf,
    ready: &mpsc::Sender<Result<(), String>>,
) -> Result<()> {
    let client = ControlPlane::shared().client().await?;
    let store = Arc::new(CertStore::default());
    let files = CertFiles {
        cert,
        key,
        interval: RELOAD_INTERVAL,
    };
    files.load(&store).await?;
    tokio::spawn(files.watch(store.clone()));
    let cluster = KubeCluster::start(client);
    cluster.wait_until_ready().await;
    let readiness = Readiness::default();
    readiness.set_ready();
    let router = server::router(Arc::new(Webhook::new(cluster)), readiness);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let config = tls::server_config(store)?;
    let _ = ready.send(Ok(()));
    server::serve_tls(listener, config, router, Limits::default()).await;
    Ok(())
}

/// Registers the shared webhook with the apiserver (idempotent) and waits until the apiserver
/// calls it.
pub async fn register(client: &Client) -> Result<&'static WebhookServer> {
    let server = WebhookServer::shared();
    let ca = ControlPlane::shared().ca().cert_pem();
    register_at(client, &format!("https://127.0.0.1:{}", server.port), &ca).await?;
    Ok(server)
}

/// Registers a webhook served at `base` (`https://127.0.0.1:<port>`, a certificate signed by
/// `ca_pem`) for the gco.galos.one resources, and waits until the apiserver calls it.
pub async fn register_at(client: &Client, base: &str, ca_pem: &str) -> Result<()> {
    let ca = ByteString(ca_pem.as_bytes().to_vec());
    let rules = |resources: &[&str]| {
        json!([{
            "apiGroups": ["gco.galos.one"], "apiVersions": ["v1"],
            "operations": ["CREATE", "UPDATE"], "resources": resources, "scope": "*"
        }])
    };
    let webhook = |name: &str, path: &str, resources: &[&str]| {
        json!({
            "name": name,
            "clientConfig": {"url": format!("{base}{path}"), "caBundle": ca},
            "rules": rules(resources),
            "failurePolicy": "Fail", "sideEffects": "None", "timeoutSeconds": 5,
            "admissionReviewVersions": ["v1"], "matchPolicy": "Equivalent"
        })
    };
    let mut mutate = webhook(
        "mutate.gco.galos.one",
        "/mutate",
        &["gitcommits", "pullrequests"],
    );
    mutate["matchConditions"] = json!([{"name": "needs-defaults", "expression": NEEDS_DEFAULTS}]);
    let mutating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION},
        "webhooks": [mutate]
    });
    let validating = json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION},
        "webhooks": [webhook("validate.gco.galos.one", "/validate", &["gitcommits", "pullrequests", "gitexportpolicies"])]
    });
    let params = PatchParams::apply(TEST_MANAGER).force();
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(CONFIGURATION, &params, &Patch::Apply(&mutating))
        .await
        .context("apply the MutatingWebhookConfiguration")?;
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(CONFIGURATION, &params, &Patch::Apply(&validating))
        .await
        .context("apply the ValidatingWebhookConfiguration")?;
    wait_until_called(client).await
}

/// Polls a dry-run create that only the webhook refuses until the webhook refuses it.
async fn wait_until_called(client: &Client) -> Result<()> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &gco_api_resource("GitCommit"));
    let probe: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
        "metadata": {"name": "webhook-probe"},
        "spec": {"repository": {"url": "https://github.com/a/b"}, "files": [{"path": "../probe", "content": ""}]}
    }))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &probe,
            )
            .await
        {
            Err(kube::Error::Api(status)) if status.message.contains("path-safety") => {
                return Ok(());
            }
            other if Instant::now() > deadline => {
                bail!("the apiserver does not call the webhook: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// The `ApiResource` of one of our kinds.
pub fn gco_api_resource(kind: &str) -> kube::api::ApiResource {
    let plural = match kind {
        "GitCommit" => "gitcommits",
        "PullRequest" => "pullrequests",
        _ => "gitexportpolicies",
    };
    kube::api::ApiResource {
        group: "gco.galos.one".into(),
        version: "v1".into(),
        api_version: "gco.galos.one/v1".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}
