//! `gco-controller render`: the offline preview, run as the binary users run.

use std::{path::Path, process::Command};

use serde_json::Value;

use crate::{
    seeds::{fixture_object, seed_files},
    support::repos,
};

fn gco(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_gco-controller"))
        .args(args)
        .output()
        .expect("run gco-controller");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Writes fixture objects for every reference of the seed at `seed` into `dir`.
fn write_objects(seed: &Path, dir: &Path) {
    let manifest: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(seed).expect("seed")).expect("yaml");
    let namespace = manifest
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let spec: gco_api::ExportSpec = serde_json::from_value(manifest["spec"].clone()).expect("spec");
    let objects: Vec<Value> = spec
        .resource_references
        .iter()
        .map(|r| fixture_object(r, namespace))
        .collect();
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects});
    std::fs::write(dir.join("objects.json"), list.to_string()).expect("objects");
}

#[test]
fn render_prints_files_and_the_diff() {
    let seed = seed_files()
        .into_iter()
        .find(|p| p.ends_with("disaster-recovery-backup.yaml"))
        .expect("seed");
    let dir = tempfile::tempdir().expect("dir");
    write_objects(&seed, dir.path());
    let bare = repos::bare_repo(dir.path(), "r.git");
    repos::seed(
        &bare,
        "backups/production",
        &[("README", "backups\n")],
        "seed",
    );
    let seed_arg = seed.display().to_string();
    let objects = dir.path().display().to_string();
    let at = "2026-11-22T13:00:00Z";

    let (ok, out, err) = gco(&["render", "-f", &seed_arg, "--objects", &objects, "--at", at]);
    assert!(ok, "{err}");
    assert!(
        out.contains("=== backups/20261122/configmaps/app-config.yaml (overwrite"),
        "{out}"
    );
    assert!(
        out.contains("=== backup-metadata/20261122/cluster-info.yaml"),
        "{out}"
    );
    assert!(!out.contains("resourceVersion"), "{out}");

    let repo = bare.display().to_string();
    let (ok, out, err) = gco(&[
        "render",
        "-f",
        &seed_arg,
        "--objects",
        &objects,
        "--at",
        at,
        "--repo",
        &repo,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("diff against backups/production at "), "{out}");
    assert!(
        out.contains("+++ b/backups/20261122/storage/database-pvc.yaml"),
        "{out}"
    );
}

#[test]
fn render_refuses_unsafe_paths_and_unknown_placeholders() {
    let dir = tempfile::tempdir().expect("dir");
    for (path, expected) in [
        ("../outside.txt", "`..`"),
        ("$(whoami)/x", "$(date +FORMAT)"),
        (".GIT/config", "`.git`"),
    ] {
        let spec = dir.path().join("bad.yaml");
        std::fs::write(
            &spec,
            format!("apiVersion: gco.galos.one/v1\nkind: GitCommit\nmetadata: {{name: bad}}\nspec:\n  repository: {{url: https://example.com/r.git}}\n  auth: {{secretName: s}}\n  files:\n    - path: \"{path}\"\n      content: x\n"),
        )
        .expect("spec");
        let (ok, _, err) = gco(&["render", "-f", &spec.display().to_string()]);
        assert!(!ok, "{path} was accepted");
        assert!(
            err.contains("spec.files[0].path") && err.contains(expected),
            "{path}: {err}"
        );
    }
}

#[test]
fn render_applies_the_rules_and_the_given_policies() {
    let dir = tempfile::tempdir().expect("dir");
    let spec_file = |name: &str, body: &str| {
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            format!("apiVersion: gco.galos.one/v1\nkind: GitCommit\nmetadata: {{name: {name}}}\nspec:\n  repository: {{url: https://example.com/r.git}}\n{body}"),
        )
        .expect("spec");
        path.display().to_string()
    };
    // The two examples: a backtick in a path, a shell command in the message.
    let backtick = spec_file(
        "backtick",
        "  files:\n    - {path: \"x-`id`.txt\", content: x}\n",
    );
    let (ok, _, err) = gco(&["render", "-f", &backtick]);
    assert!(
        !ok && err.contains("spec.files[0].path") && err.contains("(rule placeholder)"),
        "{err}"
    );
    let shell = spec_file(
        "shell",
        "  commit: {message: \"$(rm -rf /)\"}\n  files:\n    - {path: a.txt, content: x}\n",
    );
    let (ok, _, err) = gco(&["render", "-f", &shell]);
    assert!(
        !ok && err.contains("spec.commit.message") && err.contains("(rule placeholder)"),
        "{err}"
    );

    // A policy's prefixes and defaults apply as in the cluster.
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: gco.galos.one/v1\nkind: GitExportPolicy\nmetadata: {name: team}\nspec:\n  paths: {allowedPrefixes: [exports/]}\n  defaults: {writeMode: append}\n",
    )
    .expect("policy");
    let policy = policy.display().to_string();
    let outside = spec_file("outside", "  files:\n    - {path: a.txt, content: x}\n");
    let (ok, out, err) = gco(&["render", "-f", &outside]);
    assert!(ok && out.contains("=== a.txt (overwrite"), "{err}");
    let (ok, _, err) = gco(&["render", "-f", &outside, "--policy", &policy]);
    assert!(!ok && err.contains("(rule path-prefix)"), "{err}");
    let inside = spec_file(
        "inside",
        "  files:\n    - {path: exports/a.yaml, content: \"a: 1\"}\n",
    );
    let (ok, out, err) = gco(&["render", "-f", &inside, "--policy", &policy]);
    assert!(ok, "{err}");
    assert!(
        out.contains("=== exports/a.yaml (append as a YAML document"),
        "the policy's writeMode: {out}"
    );
}
