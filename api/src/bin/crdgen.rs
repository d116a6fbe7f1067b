//! Writes the CRDs to the folder given as the first argument (default `config/crd/bases`).
use std::{env, fs, path::PathBuf, process::ExitCode};

fn main() -> ExitCode {
    let dir = PathBuf::from(
        env::args()
            .nth(1)
            .unwrap_or_else(|| "config/crd/bases".into()),
    );
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
    ExitCode::SUCCESS
}
