//! The `kubectl-gco` plugin binary (`target/debug/kubectl-gco`) run as a real process against
//! the local control plane, the way a user runs it.

use std::{path::Path, process::ExitStatus};

use anyhow::{Context as _, Result};

use crate::procs;

/// What one run of the plugin printed, and how it exited.
#[derive(Debug)]
pub struct CliRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// Everything it printed, for assertion messages.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `kubectl-gco --kubeconfig KUBECONFIG ARGS…` to its end.
pub async fn kubectl_gco(kubeconfig: &Path, args: &[&str]) -> Result<CliRun> {
    let binary = procs::sibling_binary("kubectl-gco", "gco-cli")?;
    let output = tokio::process::Command::new(binary)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .context("run kubectl-gco")?;
    Ok(CliRun {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}
