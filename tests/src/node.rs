//! A real single-node cluster (`hack/node.sh`): etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler, containerd, kubelet, kube-proxy and CoreDNS in network, mount and PID
//! namespaces of their own, for tests that install the shipped chart and `config/default` and
//! run the operator's images as pods.
//!
//! One node serves a whole test binary ([`Node::shared`]). It is started through
//! [`crate::procs`], so it cannot outlive the tests: when `hack/node.sh run` dies, the kernel
//! ends every process of the node's PID namespace, and its network and mounts go with it.

use std::{
    collections::HashMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Mutex, OnceLock},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};
use tempfile::TempDir;

use crate::{
    procs::{self, Guarded},
    workspace_root,
};

/// How long the node may take to start once built (it takes about 15 s here).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Temporary folders are named `<prefix><pid>-<random>`, so orphans can be found.
const DIR_PREFIX: &str = "gco-node-";

/// A running node, stopped when its `run` process dies.
pub struct Node {
    dir: TempDir,
    _process: Guarded,
    /// The node's address on its veth: the apiserver listens there (port 6443).
    pub node_ip: String,
    /// The host's address on the node's veth: servers the tests start for pods listen there.
    pub host_ip: String,
    containerd: PathBuf,
    kubeconfig: PathBuf,
}

impl Node {
    /// The node of this test binary, started on first use.
    ///
    /// Panics (failing the calling test with the reason) when it cannot start.
    pub fn shared() -> &'static Node {
        static SHARED: OnceLock<Node> = OnceLock::new();
        SHARED.get_or_init(|| match Node::start() {
            Ok(node) => node,
            Err(error) => panic!("the local node did not start: {error:#}"),
        })
    }

    /// Builds what is missing (`hack/node.sh build`), starts a node and waits until it is Ready.
    pub fn start() -> Result<Self> {
        preflight()?;
        node_script(&["build"])?;
        crate::testenv::binaries()?;
        crate::tools::tools_bin()?;
        sweep_orphaned_dirs();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()?;
        let mut command = Command::new("bash");
        command
            .arg(workspace_root().join("hack/node.sh"))
            .arg("run")
            .arg(dir.path());
        let mut process = procs::spawn_logged(&command, Some(&dir.path().join("run.log")))
            .context("start hack/node.sh run")?;
        let ready = dir.path().join("ready");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !ready.exists() {
            if let Some(status) = process.try_wait()? {
                bail!(
                    "hack/node.sh run exited with {status} during startup:\n{}",
                    startup_logs(dir.path())
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "the node was not ready after {STARTUP_TIMEOUT:?}:\n{}",
                    startup_logs(dir.path())
                );
            }
            thread::sleep(Duration::from_millis(200));
        }
        let env: HashMap<String, String> = fs::read_to_string(dir.path().join("env"))?
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let get = |key: &str| {
            env.get(key)
                .cloned()
                .with_context(|| format!("{key} missing from the node's env file"))
        };
        Ok(Node {
            node_ip: get("NODE_IP")?,
            host_ip: get("HOST_IP")?,
            containerd: get("CONTAINERD")?.into(),
            kubeconfig: get("KUBECONFIG")?.into(),
            _process: process,
            dir,
        })
    }

    /// The admin (`system:masters`) kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// A client with admin rights. Make one per test: a client belongs to the tokio runtime
    /// it was made on.
    pub async fn client(&self) -> Result<Client> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(Client::try_from(config)?)
    }

    /// `kubectl` with the admin kubeconfig.
    pub fn kubectl(&self) -> Command {
        let bin = crate::testenv::binaries().unwrap_or_default();
        let mut command = Command::new(bin.join("kubectl"));
        command.arg("--kubeconfig").arg(&self.kubeconfig);
        command
    }

    /// Runs `kubectl <args>`: its output, or an error with both of its streams.
    pub fn run_kubectl(&self, args: &[&str]) -> Result<Output> {
        crate::tools::run(self.kubectl().args(args))
    }

    /// `helm` (hermetic, see [`crate::tools::tool`]) with the admin kubeconfig.
    pub fn helm(&self) -> Result<Command> {
        let mut command = crate::tools::tool("helm")?;
        command.env("KUBECONFIG", &self.kubeconfig);
        Ok(command)
    }

    /// Builds the controller and webhook images tagged `tag` from the release binaries, as the
    /// Dockerfile does (`hack/node.sh images`), and imports them into the node's containerd.
    /// Returns the image references.
    pub fn import_operator_images(&self, tag: &str) -> Result<Vec<String>> {
        let binaries = release_binaries()?;
        node_script(&["images", tag, &binaries.display().to_string()])?;
        let mut refs = Vec::new();
        for component in ["controller", "webhook"] {
            let archive = images_dir().join(format!("{component}-{tag}.tar"));
            crate::tools::run(
                Command::new("ctr")
                    .arg("--address")
                    .arg(&self.containerd)
                    .args(["-n", "k8s.io", "images", "import"])
                    .arg(&archive),
            )?;
            refs.push(format!(
                "ghcr.io/galos/git-change-operator-{component}:{tag}"
            ));
        }
        Ok(refs)
    }

    /// A private folder inside the node's temporary directory.
    pub fn scratch_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.dir.path().join("scratch").join(name);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// The last lines of a component's log (`kubelet`, `kube-apiserver`, `containerd`, ...).
    pub fn log_tail(&self, component: &str) -> String {
        crate::testenv::tail_of(&self.dir.path().join(format!("{component}.log")))
    }
}

/// The folder of the release binaries the images are built from: `target/release` beside the
/// running test's profile folder, or `GCO_IMAGE_BINARIES`.
pub fn release_binaries() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("GCO_IMAGE_BINARIES") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe()?;
    // target/debug/deps/<test> -> target
    let target = exe
        .ancestors()
        .nth(3)
        .context("the test binary lives in <target>/<profile>/deps")?;
    let dir = target.join("release");
    for name in ["gco-controller", "gco-webhook"] {
        if !dir.join(name).exists() {
            bail!(
                "{} is missing: the node tests build the images from the release binaries; \
                 run `cargo build --release --locked -p gco-controller -p gco-webhook` \
                 (make test does)",
                dir.join(name).display()
            );
        }
    }
    Ok(dir)
}

/// Where `hack/node.sh` keeps its image archives.
pub fn images_dir() -> PathBuf {
    std::env::var_os("NODE_BIN")
        .map_or_else(|| workspace_root().join("bin/node"), PathBuf::from)
        .join("images")
}

/// The node needs root (namespaces, mounts, iptables, cgroups): say so plainly instead of
/// failing deep inside the script.
fn preflight() -> Result<()> {
    let uid = crate::tools::run(Command::new("id").arg("-u"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        bail!("the local node needs root (network and mount namespaces, iptables, cgroups)");
    }
    Ok(())
}

/// `hack/node.sh <args>`, failing with its output. `build` runs once per test binary.
fn node_script(args: &[&str]) -> Result<()> {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if args == ["build"] && *built {
        return Ok(());
    }
    crate::tools::run(
        Command::new("bash")
            .arg(workspace_root().join("hack/node.sh"))
            .args(args),
    )?;
    if args == ["build"] {
        *built = true;
    }
    Ok(())
}

fn startup_logs(dir: &Path) -> String {
    let mut text = String::new();
    for name in [
        "run",
        "node",
        "kube-apiserver",
        "containerd",
        "kubelet",
        "kube-proxy",
        "coredns",
    ] {
        let log = crate::testenv::tail_of(&dir.join(format!("{name}.log")));
        text.push_str(&format!("--- {name}.log\n{log}\n"));
    }
    text
}

/// Removes the folders of nodes whose test binary has exited (a shared node lives in a static,
/// which is never dropped). Containerd's content store and snapshots are in there.
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
        // The node's `run` process writes its pid beside the test's; either alive keeps it.
        let run_pid = fs::read_to_string(entry.path().join("host-pid")).unwrap_or_default();
        let alive = |pid: &str| !pid.is_empty() && Path::new(&format!("/proc/{pid}")).exists();
        if !alive(&pid.to_string()) && !alive(run_pid.trim()) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}
