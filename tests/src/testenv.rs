//! A real local control plane: etcd and kube-apiserver built from the Go module proxy by
//! `hack/testenv.sh`, started on free 127.0.0.1 ports with envtest-style flags.
//!
//! One control plane serves a whole test binary ([`ControlPlane::shared`]); each test takes a
//! fresh namespace ([`ControlPlane::namespace`]). Every process is started through
//! [`crate::procs`], so nothing outlives the tests, not even after a panic or a SIGKILL of the
//! test binary, where no `Drop` runs.

use std::{
    fs,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{
        OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{
    Api, Client, Config, ResourceExt,
    api::{Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{conditions, wait::await_condition},
};
use tempfile::TempDir;

use crate::{
    pki::Ca,
    procs::{self, Guarded},
    workspace_root,
};

/// How long etcd and kube-apiserver may take to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);
/// Temporary folders are named `<prefix><pid>-<random>`, so orphans can be found.
const DIR_PREFIX: &str = "gco-testenv-";
/// The field manager the tests apply with.
pub const TEST_MANAGER: &str = "gco-tests";

/// A running etcd + kube-apiserver, stopped when dropped.
pub struct ControlPlane {
    dir: TempDir,
    server: String,
    ca: Ca,
    kubeconfig: PathBuf,
    processes: Vec<Guarded>,
}

impl ControlPlane {
    /// The control plane of this test binary, started on first use.
    ///
    /// Panics (failing the calling test with the reason) when it cannot start.
    pub fn shared() -> &'static ControlPlane {
        static SHARED: OnceLock<ControlPlane> = OnceLock::new();
        SHARED.get_or_init(|| match ControlPlane::start() {
            Ok(plane) => plane,
            Err(error) => panic!("the local control plane did not start: {error:#}"),
        })
    }

    /// Starts etcd and kube-apiserver and waits until the apiserver is ready.
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    /// As [`start`](Self::start), with `apiserver_flags` added to kube-apiserver's (for
    /// example a feature gate turned off, as another Kubernetes release has it).
    pub fn start_with(apiserver_flags: &[&str]) -> Result<Self> {
        let bin = binaries()?;
        sweep_orphaned_dirs();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()?;
        let root = dir.path().to_path_buf();
        let path = |name: &str| root.join(name);

        let ca = Ca::new("gco-testenv-ca")?;
        let serving = ca.server(&["localhost", "127.0.0.1"])?;
        let admin = ca.client("admin", Some("system:masters"))?;
        let service_accounts = rcgen::KeyPair::generate()?;
        fs::write(path("ca.crt"), ca.cert_pem())?;
        fs::write(path("apiserver.crt"), &serving.cert_pem)?;
        fs::write(path("apiserver.key"), &serving.key_pem)?;
        fs::write(path("sa.key"), service_accounts.serialize_pem())?;
        fs::write(path("sa.pub"), service_accounts.public_key_pem())?;

        let mut plane = ControlPlane {
            server: String::new(),
            kubeconfig: path("kubeconfig"),
            ca,
            processes: Vec::new(),
            dir,
        };

        let (etcd_client, etcd_peer, secure_port) =
            (procs::free_port(), procs::free_port(), procs::free_port());
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        plane.spawn(
            "etcd",
            Command::new(bin.join("etcd")).args([
                "--name=default",
                &format!("--data-dir={}", path("etcd").display()),
                &format!("--listen-client-urls={etcd_url}"),
                &format!("--advertise-client-urls={etcd_url}"),
                &format!("--listen-peer-urls={peer_url}"),
                &format!("--initial-advertise-peer-urls={peer_url}"),
                &format!("--initial-cluster=default={peer_url}"),
                "--unsafe-no-fsync",
                "--log-level=warn",
            ]),
        )?;

        plane.server = format!("https://127.0.0.1:{secure_port}");
        let file = |name: &str| path(name).display().to_string();
        plane.spawn(
            "kube-apiserver",
            Command::new(bin.join("kube-apiserver"))
                .args([
                    &format!("--etcd-servers={etcd_url}"),
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    &format!("--secure-port={secure_port}"),
                    &format!("--cert-dir={}", file("certs")),
                    &format!("--tls-cert-file={}", file("apiserver.crt")),
                    &format!("--tls-private-key-file={}", file("apiserver.key")),
                    &format!("--client-ca-file={}", file("ca.crt")),
                    "--authorization-mode=RBAC",
                    "--service-cluster-ip-range=10.0.0.0/24",
                    "--allow-privileged=true",
                    "--disable-admission-plugins=ServiceAccount",
                    &format!("--service-account-issuer={}/", plane.server),
                    &format!("--service-account-key-file={}", file("sa.pub")),
                    &format!("--service-account-signing-key-file={}", file("sa.key")),
                    "--enable-priority-and-fairness=false",
                    "--v=0",
                ])
                .args(apiserver_flags),
        )?;

        plane.write_kubeconfig("admin", &admin)?;
        plane.wait_ready()?;
        Ok(plane)
    }

    /// `https://127.0.0.1:<port>` of the apiserver.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The admin (`system:masters`) kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The CA that signed the apiserver's certificate and the client certificates.
    pub fn ca(&self) -> &Ca {
        &self.ca
    }

    /// A private folder inside the control plane's temporary directory.
    pub fn scratch_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir.path().join("scratch").join(name);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// A client with admin rights. Make one per test: a client belongs to the tokio runtime
    /// it was made on.
    pub async fn client(&self) -> Result<Client> {
        client_from(&self.kubeconfig).await
    }

    /// A client for a user authenticated by client certificate, with an optional group.
    pub async fn user_client(&self, user: &str, group: Option<&str>) -> Result<Client> {
        client_from(&self.user_kubeconfig(user, group)?).await
    }

    /// The kubeconfig of a user authenticated by client certificate, with an optional group,
    /// for a process (kubectl, kubectl-gco) run as that user.
    pub fn user_kubeconfig(&self, user: &str, group: Option<&str>) -> Result<PathBuf> {
        let pair = self.ca.client(user, group)?;
        self.write_kubeconfig(user, &pair)
    }

    /// A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's, from
    /// `kubectl create token`).
    pub fn token_kubeconfig(&self, name: &str, token: &str) -> Result<PathBuf> {
        let path = self.dir.path().join(format!("{name}.token.kubeconfig"));
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {name}\n  user:\n    token: {token}\ncontexts:\n- name: testenv\n  context:\n    cluster: testenv\n    user: {name}\ncurrent-context: testenv\n",
            server = self.server,
            ca = self.dir.path().join("ca.crt").display(),
        );
        fs::write(&path, yaml)?;
        Ok(path)
    }

    /// `kubectl` with the admin kubeconfig.
    pub fn kubectl(&self) -> Command {
        let mut cmd =
            Command::new(binaries().map_or_else(|_| "kubectl".into(), |b| b.join("kubectl")));
        cmd.arg("--kubeconfig").arg(&self.kubeconfig);
        cmd
    }

    /// Runs `kubectl <args>` with the admin kubeconfig: its output, or an error with both of
    /// its streams unless it succeeds.
    pub fn run_kubectl(&self, args: &[&str]) -> Result<Output> {
        crate::tools::run(self.kubectl().args(args))
    }

    /// A new namespace with a unique name that starts with `prefix`.
    pub async fn namespace(&self, client: &Client, prefix: &str) -> Result<String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ensure_namespace(client, &name).await?;
        Ok(name)
    }

    /// The last lines of a process's log, for error messages.
    pub fn log_tail(&self, process: &str) -> String {
        tail(&self.dir.path().join(format!("{process}.log")))
    }

    fn spawn(&mut self, name: &str, command: &mut Command) -> Result<()> {
        let log = self.dir.path().join(format!("{name}.log"));
        let process = procs::spawn_logged(command, Some(&log)).with_context(|| {
            format!(
                "start {name} ({})",
                Path::new(command.get_program()).display()
            )
        })?;
        self.processes.push(process);
        Ok(())
    }

    fn write_kubeconfig(&self, user: &str, pair: &crate::pki::CertPair) -> Result<PathBuf> {
        let path = |name: &str| self.dir.path().join(name);
        let (cert, key) = (path(&format!("{user}.crt")), path(&format!("{user}.key")));
        fs::write(&cert, &pair.cert_pem)?;
        fs::write(&key, &pair.key_pem)?;
        let kubeconfig = if user == "admin" {
            self.kubeconfig.clone()
        } else {
            path(&format!("{user}.kubeconfig"))
        };
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: testenv\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: testenv\n  context:\n    cluster: testenv\n    user: {user}\n    namespace: default\ncurrent-context: testenv\n",
            server = self.server,
            ca = path("ca.crt").display(),
            cert = cert.display(),
            key = key.display(),
        );
        fs::write(&kubeconfig, yaml)?;
        Ok(kubeconfig)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            for (child, name) in self.processes.iter_mut().zip(["etcd", "kube-apiserver"]) {
                if let Some(status) = child.try_wait()? {
                    bail!(
                        "{name} exited with {status} during startup; its log ends with:\n{}",
                        tail(&self.dir.path().join(format!("{name}.log")))
                    );
                }
            }
            let ready = self
                .kubectl()
                .args(["get", "--raw", "/readyz"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?
                .success();
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "kube-apiserver not ready after {STARTUP_TIMEOUT:?}; its log ends with:\n{}",
                    self.log_tail("kube-apiserver")
                );
            }
            thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // The apiserver first, so it does not log a storm of etcd errors on the way down.
        for process in self.processes.iter_mut().rev() {
            process.kill();
        }
    }
}

/// The folder holding kube-apiserver, etcd and kubectl, built on demand (a no-op when fresh).
/// `GCO_TESTENV_BIN` points elsewhere.
pub fn binaries() -> Result<PathBuf> {
    crate::go_built("hack/testenv.sh", "bin/testenv", "GCO_TESTENV_BIN")
}

async fn client_from(kubeconfig: &Path) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(kubeconfig)?;
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

/// Server-side applies `object` (its name from `metadata.name`) as the tests' field manager,
/// taking over any field another manager set.
pub async fn apply<K>(api: &Api<K>, object: &serde_json::Value) -> Result<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object["metadata"]["name"]
        .as_str()
        .context("the object to apply has no metadata.name")?;
    api.patch(
        name,
        &PatchParams::apply(TEST_MANAGER).force(),
        &Patch::Apply(object),
    )
    .await
    .with_context(|| format!("apply {name}"))
}

/// Creates a namespace unless it exists.
pub async fn ensure_namespace(client: &Client, name: &str) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let mut namespace = Namespace::default();
    namespace.metadata.name = Some(name.to_owned());
    match namespaces.create(&PostParams::default(), &namespace).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(error) => Err(error).with_context(|| format!("create namespace {name}")),
    }
}

/// Applies the committed CRDs of `config/crd/bases/` and waits until each is Established.
pub async fn install_crds(client: &Client) -> Result<Vec<CustomResourceDefinition>> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut installed = Vec::new();
    let dir = workspace_root().join("config/crd/bases");
    let mut files: Vec<_> = fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
    files.sort_by_key(|entry| entry.file_name());
    for entry in files {
        let yaml = fs::read_to_string(entry.path())?;
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&yaml)
            .with_context(|| format!("parse {}", entry.path().display()))?;
        let name = crd.name_any();
        let applied = crds
            .patch(
                &name,
                &PatchParams::apply(TEST_MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .with_context(|| format!("apply CRD {name}"))?;
        let established = await_condition(crds.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(30), established)
            .await
            .with_context(|| format!("CRD {name} not Established within 30s"))??;
        installed.push(applied);
    }
    Ok(installed)
}

/// Removes the folders of control planes whose test binary has exited. A shared control plane
/// lives in a static, which is never dropped, so its folder outlives the process.
fn sweep_orphaned_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(DIR_PREFIX)
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The last few KiB of a log file, for error messages.
pub fn tail_of(path: &Path) -> String {
    tail(path)
}

fn tail(path: &Path) -> String {
    const TAIL_BYTES: u64 = 4000;
    let Ok(mut file) = fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)));
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    text
}
