//! The git engine against real git servers on 127.0.0.1: `file://`, `git daemon`, smart
//! HTTP(S) through `git http-backend` with basic and bearer auth, and `sshd`.
//!
//! One test binary (one link of git2) for all of it; each scenario makes its own repositories.

/// Real git servers and repository helpers, shared with the other integration tests.
use gco_tests::git as support;

mod auth_http;
mod auth_ssh;
mod branches;
mod cache_bound;
mod concurrency;
mod exactly_once;
mod lanes;
mod local;
mod lookback;
mod preview_cli;
mod seeds;
mod signing;

use std::{
    io::Write,
    path::Path,
    sync::{Mutex, OnceLock},
};

use gco_api::{WriteMode, paths::check_path};
use gco_controller::{
    git::{Author, Change, GitEngine, ObjectRef, RunId},
    render::PlannedWrite,
};

/// Every log line any test produced, for the check that no credential is ever logged.
pub static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct LogCapture;

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut logs) = LOGS.lock() {
            logs.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the log capture (once per binary), at the most verbose level.
pub fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| LogCapture)
            .try_init();
    });
}

/// An engine with its own cache folder (keep the `TempDir` alive as long as the engine).
pub fn engine() -> (tempfile::TempDir, GitEngine) {
    capture_logs();
    let dir = tempfile::tempdir().expect("cache dir");
    let engine = GitEngine::new(dir.path().join("cache"));
    (dir, engine)
}

pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

pub fn write(path: &str, content: &str, mode: WriteMode) -> PlannedWrite {
    PlannedWrite {
        path: check_path(path).expect("safe test path"),
        content: content.as_bytes().to_vec(),
        mode: mode.into(),
    }
}

/// A change for GitCommit `name` in namespace `ns`.
pub fn change(name: &str, run: &str, writes: Vec<PlannedWrite>) -> Change {
    Change {
        object: ObjectRef {
            namespace: "ns".into(),
            kind: "GitCommit".into(),
            name: name.into(),
        },
        run: RunId::new(run).expect("valid run id"),
        author: Author::parse("Test Bot <bot@example.com>").expect("author"),
        message: format!("Update {name}"),
        writes,
        signing: None,
        at: jiff::Timestamp::now(),
        recover: None,
    }
}
