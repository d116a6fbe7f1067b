//! Support for tests against real components: a local control plane (etcd + kube-apiserver
//! built by `hack/testenv.sh`), certificates, and the fixtures every test shares.
#![forbid(unsafe_code)]

pub mod admission;
pub mod controller;
pub mod fixtures;
pub mod flux;
pub mod forge;
pub mod git;
pub mod http_sink;
pub mod pki;
pub mod procs;
pub mod scenario;
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
