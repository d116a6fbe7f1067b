//! The controller binary (`target/debug/gco-controller`) run as a real process against the
//! local control plane, so tests can SIGKILL it, restart it, and run two replicas.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result};

use crate::{
    procs::{self, Guarded},
    testenv::ControlPlane,
};

/// A running `gco-controller run`; killed when dropped (it is a [`Guarded`] process).
pub struct ControllerProcess {
    process: Guarded,
    log: PathBuf,
}

/// The controller binary of the same build (see [`procs::sibling_binary`]).
pub fn controller_binary() -> Result<PathBuf> {
    procs::sibling_binary("gco-controller", "gco-controller")
}

impl ControllerProcess {
    /// Starts the controller with the admin kubeconfig, a git cache in `work_dir`, and
    /// `extra` flags. Logs go to `work_dir/<name>.log`.
    pub fn start(
        plane: &ControlPlane,
        work_dir: &Path,
        name: &str,
        extra: &[&str],
    ) -> Result<Self> {
        Self::start_as(plane.kubeconfig(), work_dir, name, extra)
    }

    /// As [`start`](Self::start), with another identity's kubeconfig.
    pub fn start_as(
        kubeconfig: &Path,
        work_dir: &Path,
        name: &str,
        extra: &[&str],
    ) -> Result<Self> {
        fs::create_dir_all(work_dir)?;
        let log = work_dir.join(format!("{name}.log"));
        let mut command = Command::new(controller_binary()?);
        command
            .arg("run")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .arg("--cache-dir")
            .arg(work_dir.join(format!("{name}-cache")))
            .args(["--log-format", "text", "--instance", name])
            .args(extra)
            // Endpoints on ports of their own, unless the test chose them.
            .args(
                ["--metrics-addr", "--health-addr"]
                    .into_iter()
                    .filter(|flag| !extra.contains(flag))
                    .flat_map(|flag| [flag, "127.0.0.1:0"]),
            )
            .env("RUST_LOG", "info,gco_controller=debug");
        let process = procs::spawn_logged(&command, Some(&log)).context("start gco-controller")?;
        Ok(Self { process, log })
    }

    /// The process id (setpriv execs the controller, so it is the controller's).
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// SIGTERM, then wait for a graceful exit.
    pub fn terminate(&mut self) -> Result<std::process::ExitStatus> {
        Command::new("kill")
            .args(["-TERM", &self.process.id().to_string()])
            .status()?;
        Ok(self.process.wait()?)
    }

    /// Whether the process has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.process.try_wait().ok().flatten()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}
