//! Writes the CRDs to every folder given as an argument (default: `config/crd/bases` and the
//! Helm chart's `charts/git-change-operator/crds`, so the chart ships the generated CRDs and
//! never a copy that can drift).
use std::{env, fs, path::PathBuf, process::ExitCode};

/// Where `make crds` writes the CRDs, relative to the workspace root.
const DEFAULT_DIRS: [&str; 2] = ["config/crd/bases", "charts/git-change-operator/crds"];

fn main() -> ExitCode {
    let mut dirs: Vec<PathBuf> = env::args().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        dirs = DEFAULT_DIRS.iter().map(PathBuf::from).collect();
    }
    for dir in &dirs {
        for (file, crd) in gco_api::crd::all() {
            let path = dir.join(file);
            let written = gco_api::crd::to_yaml(&crd)
                .map_err(|e| e.to_string())
                .and_then(|yaml| fs::write(&path, yaml).map_err(|e| e.to_string()));
            if let Err(error) = written {
                eprintln!("crdgen: cannot write {}: {error}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("crdgen: wrote {}", path.display());
        }
    }
    ExitCode::SUCCESS
}
