//! `docs/api.md` must be exactly what the CRD schemas generate.

use std::{fs, path::Path};

#[test]
fn the_committed_api_reference_matches_the_crds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    let crds: Vec<_> = gco_api::crd::all()
        .into_iter()
        .map(|(_, crd)| crd)
        .collect();
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == gco_api::reference::markdown(&crds),
        "docs/api.md is stale: run `make crds` and commit the result"
    );
}
