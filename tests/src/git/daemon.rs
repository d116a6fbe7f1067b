//! `git daemon`: the git:// protocol, with pushes enabled.

use std::{path::Path, process::Command};

use crate::procs::{Guarded, free_port, spawn_logged, wait_for_addr};

/// A running `git daemon` serving the repositories under a root; stopped on drop.
pub struct GitDaemon {
    host: String,
    port: u16,
    _process: Guarded,
}

impl GitDaemon {
    pub fn start(root: &Path) -> Self {
        Self::start_on(root, "127.0.0.1")
    }

    /// Listens on `host` (an address of this machine), e.g. the host side of the local node's
    /// veth, which its pods can reach and loopback they cannot.
    pub fn start_on(root: &Path, host: &str) -> Self {
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
            .arg(format!("--listen={host}"))
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root);
        // Its log (a "hung up" line per readiness probe) goes to a file beside the repositories.
        let log = root.with_extension("git-daemon.log");
        let process = spawn_logged(&command, Some(&log)).expect("start git daemon");
        wait_for_addr(host, port, "git daemon");
        GitDaemon {
            host: host.to_owned(),
            port,
            _process: process,
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("git://{}:{}/{name}", self.host, self.port)
    }
}
