//! Runs a local control plane for a person (`make up`) or the demo, until SIGINT or SIGTERM.
//!
//! Usage: `gco-testenv [STATE_DIR]` (default `.cache/testenv`). Writes `STATE_DIR/kubeconfig`,
//! installs the CRDs, then writes `STATE_DIR/pid`; `make down` sends SIGTERM to that pid.
use std::{fs, path::PathBuf};

use anyhow::{Context as _, Result};
use gco_tests::testenv::{ControlPlane, install_crds};
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let state = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| ".cache/testenv".into()),
    );
    fs::create_dir_all(&state)?;
    let _ = fs::remove_file(state.join("pid"));

    let plane = ControlPlane::start().context("start the local control plane")?;
    let client = plane.client().await?;
    install_crds(&client).await?;
    let kubeconfig = state.join("kubeconfig");
    fs::copy(plane.kubeconfig(), &kubeconfig)?;
    fs::write(state.join("pid"), std::process::id().to_string())?;
    eprintln!(
        "control plane ready at {}\n  export KUBECONFIG={}\nstop it with `make down` (or Ctrl-C)",
        plane.server(),
        fs::canonicalize(&kubeconfig)?.display()
    );

    let (mut interrupt, mut terminate) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    );
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    let _ = fs::remove_file(state.join("pid"));
    drop(plane);
    eprintln!("control plane stopped");
    Ok(())
}
