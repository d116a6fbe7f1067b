//! The images the node tests run (built by `hack/node.sh images` from the release binaries)
//! match the Dockerfile users build from: user, entrypoint, command and contents.

use std::process::Command;

use anyhow::{Context as _, Result};
use gco_tests::workspace_root;
use serde_json::{Value, json};

#[test]
fn the_local_images_match_the_dockerfile() {
    let node_sh = workspace_root().join("hack/node.sh");
    let dockerfile = std::fs::read_to_string(workspace_root().join("Dockerfile")).expect("read");
    let binaries = gco_tests::node::release_binaries().expect("release binaries");
    gco_tests::tools::run(Command::new("bash").arg(&node_sh).args([
        "images",
        "match",
        &binaries.display().to_string(),
    ]))
    .expect("build the images");
    for component in ["controller", "webhook"] {
        let stage = dockerfile_stage(&dockerfile, component);
        let archive = gco_tests::node::images_dir().join(format!("{component}-match.tar"));
        let image = read_image(&archive).expect("read the image");
        let config = &image.config["config"];
        let user = stage_value(&stage, "USER");
        assert_eq!(config["User"], json!(user), "{component}: USER");
        let entrypoint: Value =
            serde_json::from_str(&stage_value(&stage, "ENTRYPOINT")).expect("ENTRYPOINT");
        assert_eq!(config["Entrypoint"], entrypoint, "{component}: ENTRYPOINT");
        let cmd = stage
            .iter()
            .find(|l| l.starts_with("CMD "))
            .map(|l| serde_json::from_str::<Value>(&l[4..]).expect("CMD"));
        assert_eq!(config["Cmd"], cmd.unwrap_or(json!([])), "{component}: CMD");
        // Contents: the binary where the Dockerfile copies it, and the runtime libraries
        // distroless cc ships; no shell.
        let copy = stage.iter().find(|l| l.starts_with("COPY ")).expect("COPY");
        let target = copy.split_whitespace().last().expect("COPY target");
        assert!(
            image.files.iter().any(|f| f == &format!(".{target}")),
            "{component}: {target} in the image: {:?}",
            image.files
        );
        for needed in [
            "./usr/lib/x86_64-linux-gnu/libc.so.6",
            "./usr/lib/x86_64-linux-gnu/libgcc_s.so.1",
            "./usr/lib64/ld-linux-x86-64.so.2",
            "./etc/ssl/certs/ca-certificates.crt",
            "./etc/passwd",
        ] {
            assert!(
                image.files.iter().any(|f| f == needed),
                "{component}: {needed} missing"
            );
        }
        assert!(
            !image.files.iter().any(|f| f.ends_with("/bin/sh")),
            "{component}: distroless has no shell"
        );
    }
}

/// The lines of a Dockerfile stage (from its `FROM ... AS <name>` to the next `FROM`).
fn dockerfile_stage(dockerfile: &str, name: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in dockerfile.lines() {
        if line.starts_with("FROM ") {
            inside = line.split_whitespace().last() == Some(name);
            continue;
        }
        if inside {
            lines.push(line.to_owned());
        }
    }
    assert!(!lines.is_empty(), "no stage {name} in the Dockerfile");
    lines
}

fn stage_value(stage: &[String], instruction: &str) -> String {
    stage
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{instruction} ")))
        .unwrap_or_else(|| panic!("no {instruction} in the stage"))
        .trim()
        .to_owned()
}

struct Image {
    config: Value,
    files: Vec<String>,
}

/// The config and the file list of a single-layer OCI archive, read with `tar`.
fn read_image(archive: &std::path::Path) -> Result<Image> {
    let dir = tempfile::tempdir()?;
    gco_tests::tools::run(
        Command::new("tar")
            .arg("-xf")
            .arg(archive)
            .arg("-C")
            .arg(dir.path()),
    )?;
    let blob = |digest: &str| {
        dir.path()
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index: Value = serde_json::from_slice(&std::fs::read(dir.path().join("index.json"))?)?;
    let manifest_digest = index["manifests"][0]["digest"].as_str().context("index")?;
    let manifest: Value = serde_json::from_slice(&std::fs::read(blob(manifest_digest))?)?;
    let config: Value = serde_json::from_slice(&std::fs::read(blob(
        manifest["config"]["digest"].as_str().context("config")?,
    ))?)?;
    let layer = blob(manifest["layers"][0]["digest"].as_str().context("layer")?);
    let listing = gco_tests::tools::run(Command::new("tar").arg("-tf").arg(&layer))?;
    let files = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(|l| l.trim_end_matches('/').to_owned())
        .collect();
    Ok(Image { config, files })
}
