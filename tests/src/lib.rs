//! Support for tests against real components: a local control plane (etcd + kube-apiserver
//! built by `hack/testenv.sh`), certificates, and the fixtures every test shares.
#![forbid(unsafe_code)]

pub mod admission;
pub mod attacker;
pub mod cli;
pub mod controller;
pub mod fixtures;
pub mod flux;
pub mod forge;
pub mod git;
pub mod http_client;
pub mod http_sink;
pub mod install;
pub mod node;
pub mod pki;
pub mod procs;
pub mod promql;
pub mod rbac;
pub mod scenario;
pub mod signing;
pub mod testenv;
pub mod tools;
pub mod webhook;

use std::path::PathBuf;

/// The root of the workspace, for committed files such as `config/crd/bases/`.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// A folder of Go-built binaries under `bin/`, built on demand by its `hack/` script (a no-op
/// when fresh), once per test binary; the environment variable `env_override` points elsewhere.
pub fn go_built(script: &str, folder: &str, env_override: &str) -> anyhow::Result<PathBuf> {
    use std::{collections::HashMap, process::Command, sync::Mutex};
    if let Some(dir) = std::env::var_os(env_override) {
        return Ok(PathBuf::from(dir));
    }
    static BUILT: Mutex<Option<HashMap<String, Result<PathBuf, String>>>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let answer = built
        .get_or_insert_with(HashMap::new)
        .entry(script.to_owned())
        .or_insert_with(|| {
            let root = workspace_root();
            let status = Command::new("bash")
                .arg(root.join(script))
                .status()
                .map_err(|e| format!("cannot run {script}: {e}"))?;
            if !status.success() {
                return Err(format!("{script} failed with {status}"));
            }
            Ok(root.join(folder))
        });
    answer.clone().map_err(anyhow::Error::msg)
}
