//! Flux's real notification-controller (built by `hack/tools.sh`) run out of cluster against the
//! local control plane, its CRDs applied from the Go module cache with our Alert patch
//! (`config/flux/alert-kinds`), and an HTTPS sink standing in for Slack.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
};

use anyhow::{Context as _, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Bytes, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::{
    pki::Ca,
    procs::{self, Guarded},
    testenv::ControlPlane,
    tools::{run, tools_bin},
    workspace_root,
};

/// The Go module of notification-controller, as pinned in hack/tools/flux.
const MODULE: &str = "github.com/fluxcd/notification-controller";

/// The folder of the pinned notification-controller module in the Go module cache.
pub fn module_dir() -> Result<PathBuf> {
    tools_bin()?;
    let output = run(Command::new("go")
        .args(["list", "-m", "-f", "{{.Dir}}", MODULE])
        .current_dir(workspace_root().join("hack/tools/flux"))
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=readonly"))?;
    Ok(PathBuf::from(
        String::from_utf8(output.stdout)?.trim().to_owned(),
    ))
}

/// Applies notification-controller's CRDs from the module cache, with the Alert CRD patched by
/// the `config/flux/alert-kinds` Component, exactly as a user's kustomization would.
pub fn install_crds(plane: &ControlPlane) -> Result<()> {
    install_crds_with(|| plane.kubectl(), &plane.scratch_dir("flux-crds")?)
}

/// As [`install_crds`], into the cluster `kubectl()` talks to, staging the files in `dir`.
pub fn install_crds_with(kubectl: impl Fn() -> Command, dir: &Path) -> Result<()> {
    let bases = module_dir()?.join("config/crd/bases");
    let dir = dir.to_path_buf();
    fs::create_dir_all(&dir)?;
    let mut resources = Vec::new();
    for entry in fs::read_dir(&bases)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        fs::copy(entry.path(), dir.join(&name))?;
        resources.push(format!("  - {name}\n"));
    }
    resources.sort();
    // Kustomize refuses absolute paths: the Component is copied next to the CRDs, unchanged.
    let component = dir.join("alert-kinds");
    fs::create_dir_all(&component)?;
    for entry in fs::read_dir(workspace_root().join("config/flux/alert-kinds"))? {
        let entry = entry?;
        fs::copy(entry.path(), component.join(entry.file_name()))?;
    }
    fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{}components:\n  - alert-kinds\n",
            resources.concat(),
        ),
    )?;
    run(kubectl().args(["apply", "--server-side", "-k"]).arg(&dir))?;
    run(kubectl().args([
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/alerts.notification.toolkit.fluxcd.io",
        "crd/providers.notification.toolkit.fluxcd.io",
    ]))?;
    Ok(())
}

/// A running notification-controller, killed when dropped.
pub struct NotificationController {
    _process: Guarded,
    events_host: String,
    events_port: u16,
    log: PathBuf,
}

impl NotificationController {
    /// Starts it with the admin kubeconfig, every listener on a free 127.0.0.1 port.
    pub fn start(plane: &ControlPlane, work: &Path) -> Result<Self> {
        Self::start_with(plane.kubeconfig(), "127.0.0.1", work)
    }

    /// Starts it with `kubeconfig`, its events listener on `events_host` (an address of this
    /// machine: the host side of the local node's veth lets pods reach it) and the others on
    /// 127.0.0.1.
    pub fn start_with(kubeconfig: &Path, events_host: &str, work: &Path) -> Result<Self> {
        let events_port = procs::free_port();
        let addr = |port: u16| format!("127.0.0.1:{port}");
        let log = work.join("notification-controller.log");
        let mut command = Command::new(tools_bin()?.join("notification-controller"));
        command
            .env("KUBECONFIG", kubeconfig)
            .arg(format!("--events-addr={events_host}:{events_port}"))
            .arg(format!("--receiverAddr={}", addr(procs::free_port())))
            .arg(format!("--metrics-addr={}", addr(procs::free_port())))
            .arg(format!("--health-addr={}", addr(procs::free_port())))
            .args(["--watch-all-namespaces=true", "--log-level=debug"])
            // One event per test object and message: the default 5 minutes would be fine too,
            // but a short interval keeps a retried test from being suppressed.
            .arg("--rate-limit-interval=1s");
        let process =
            procs::spawn_logged(&command, Some(&log)).context("start notification-controller")?;
        let controller = Self {
            _process: process,
            events_host: events_host.to_owned(),
            events_port,
            log,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect((events_host, events_port)).is_err() {
            if std::time::Instant::now() > deadline {
                bail!(
                    "notification-controller did not listen on {events_port}:\n{}",
                    controller.log()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(controller)
    }

    /// The address to give `gco-controller run --events-addr`.
    pub fn events_url(&self) -> String {
        format!("http://{}:{}/", self.events_host, self.events_port)
    }

    /// The port of the events listener.
    pub fn events_port(&self) -> u16 {
        self.events_port
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// An HTTPS server on 127.0.0.1 that records the JSON bodies POSTed to it, with a certificate
/// from its own CA (which notification-controller trusts through the Provider's certSecretRef).
pub struct HttpsSink {
    port: u16,
    ca_pem: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl HttpsSink {
    /// Starts serving on the current tokio runtime.
    pub async fn start() -> Result<Self> {
        let ca = Ca::new("gco-test-slack-ca")?;
        let pair = ca.server(&["127.0.0.1", "localhost"])?;
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes()).collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes())?;
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, sink) = (acceptor.clone(), sink.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let sink = sink.clone();
                        async move {
                            let body = request.into_body().collect().await?.to_bytes();
                            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            if let Ok(mut sink) = sink.lock() {
                                sink.push(json);
                            }
                            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from("ok"))))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(Self {
            port,
            ca_pem: ca.cert_pem(),
            received,
        })
    }

    /// `https://127.0.0.1:<port>/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.port)
    }

    /// The PEM CA certificate that signed the sink's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Every JSON body received so far.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
