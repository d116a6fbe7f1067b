//! `git daemon`: the git:// protocol, with pushes enabled.

use std::{path::Path, process::Command};

use crate::procs::{Guarded, free_port, spawn_logged, wait_for_port};

/// A running `git daemon` serving the repositories under a root; stopped on drop.
pub struct GitDaemon {
    port: u16,
    _process: Guarded,
}

impl GitDaemon {
    pub fn start(root: &Path) -> Self {
        let port = free_port();
        // The daemon binary itself: `git daemon` would run it as a grandchild, out of reach of
        // the parent-death signal.
        let mut command = Command::new("/usr/lib/git-core/git-daemon");
        command
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .arg("--reuseaddr")
            .arg("--export-all")
            .arg("--enable=receive-pack")
            .arg("--listen=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root);
        // Its log (a "hung up" line per readiness probe) goes to a file beside the repositories.
        let log = root.with_extension("git-daemon.log");
        let process = spawn_logged(&command, Some(&log)).expect("start git daemon");
        wait_for_port(port, "git daemon");
        GitDaemon {
            port,
            _process: process,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("git://127.0.0.1:{}/{name}", self.port)
    }
}
