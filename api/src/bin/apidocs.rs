//! Writes the API reference generated from the CRDs to the file given (default `docs/api.md`).
use std::{env, fs, process::ExitCode};

fn main() -> ExitCode {
    let path = env::args().nth(1).unwrap_or_else(|| "docs/api.md".into());
    let crds: Vec<_> = gco_api::crd::all()
        .into_iter()
        .map(|(_, crd)| crd)
        .collect();
    match fs::write(&path, gco_api::reference::markdown(&crds)) {
        Ok(()) => {
            eprintln!("apidocs: wrote {path}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("apidocs: cannot write {path}: {error}");
            ExitCode::FAILURE
        }
    }
}
