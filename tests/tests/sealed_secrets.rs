//! Whole Secrets exported encrypted with SOPS to a policy's age recipients, end to end: the
//! real apiserver, a git server, the controller binary, and the real `sops` and `age-keygen`
//! (built from their Go modules by hack/tools.sh) to make the key and decrypt the export.

use std::time::Duration;

use base64::Engine as _;
use gco_tests::{
    scenario::{CONVERGE, Scenario, gitcommit},
    testenv::TEST_MANAGER,
    tools::tool,
};
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::{Value, json};

/// An age identity made by `age-keygen`: its file and public recipient.
fn age_identity(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let file = dir.join("age.key");
    let output = tool("age-keygen")
        .expect("age-keygen")
        .arg("-o")
        .arg(&file)
        .output()
        .expect("run age-keygen");
    assert!(output.status.success(), "{output:?}");
    let text = std::fs::read_to_string(&file).expect("key file");
    let recipient = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_owned();
    (file, recipient)
}

/// `sops --decrypt` of `text`, with the identity in `key`.
fn sops_decrypt(dir: &std::path::Path, key: &std::path::Path, text: &str) -> Result<Value, String> {
    let file = dir.join("export.yaml");
    std::fs::write(&file, text).expect("write export");
    let output = tool("sops")
        .expect("sops")
        .env("SOPS_AGE_KEY_FILE", key)
        .args(["--decrypt", "--input-type", "yaml", "--output-type", "json"])
        .arg(&file)
        .output()
        .expect("run sops");
    match output.status.success() {
        true => serde_json::from_slice(&output.stdout).map_err(|e| e.to_string()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

/// A GitExportPolicy for this scenario's namespace only, allowing the git daemon's scheme and
/// what `rules` adds; returns the policies' API and its name, to delete it.
async fn apply_policy(
    s: &Scenario,
    suffix: &str,
    rules: Value,
) -> (Api<gco_api::GitExportPolicy>, String) {
    let name = format!("{}-{suffix}", s.namespace);
    let mut spec = json!({
        "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": s.namespace } },
        "allowedSchemes": ["git"],
    });
    for (key, value) in rules.as_object().into_iter().flatten() {
        spec[key] = value.clone();
    }
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": name }, "spec": spec
    });
    let policies = Api::<gco_api::GitExportPolicy>::all(s.client.clone());
    policies
        .patch(
            &name,
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&policy),
        )
        .await
        .expect("policy");
    (policies, name)
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn wait_commits(s: &Scenario, count: usize) {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    while s.history().len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}\n{}",
            s.history(),
            s.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_secret_is_dumped_encrypted_to_the_policys_recipients_and_decrypts_with_sops() {
    let mut s = Scenario::new("sealed").await.expect("scenario");
    let dir = tempfile::tempdir().expect("dir");
    let (key, recipient) = age_identity(dir.path());
    let (policies, policy_name) = apply_policy(
        &s,
        "sealed",
        json!({ "secrets": { "encryption": { "ageRecipients": [recipient] } } }),
    )
    .await;
    s.put_secret("db", &[("password", "hunter2"), ("user", "app")])
        .await
        .expect("secret");
    let digest_key_namespace = s.namespace.clone();
    s.start_controller("c1", &["--digest-key-namespace", &digest_key_namespace])
        .expect("controller");
    let reference = json!({ "apiVersion": "v1", "kind": "Secret", "name": "db",
                            "strategy": "dump", "output": { "path": "secrets/db.yaml" } });
    s.create_gitcommit(gitcommit(
        "backup",
        &s.url(),
        json!({ "resourceReferences": [reference] }),
    ))
    .await
    .expect("create");
    s.wait_ready("backup", "True", Some("Succeeded"))
        .await
        .expect("first run");
    wait_commits(&s, 1).await;
    let exported = s.file("secrets/db.yaml").expect("exported");
    for plaintext in ["hunter2", &b64("hunter2")] {
        assert!(
            !exported.contains(plaintext),
            "plaintext in the export:\n{exported}"
        );
    }
    assert!(exported.contains("ENC[AES256_GCM,data:"), "{exported}");
    assert!(!s.logs().contains("hunter2") && !s.logs().contains(&b64("hunter2")));

    // sops decrypts it with the recipient's identity, into the Secret as dumped.
    let decrypted = sops_decrypt(dir.path(), &key, &exported).expect("sops decrypts");
    assert_eq!(decrypted["kind"], "Secret");
    assert_eq!(decrypted["metadata"]["name"], "db");
    assert_eq!(decrypted["data"]["password"], b64("hunter2"));
    assert_eq!(decrypted["data"]["user"], b64("app"));
    assert!(decrypted.get("sops").is_none(), "{decrypted}");

    // An unchanged Secret exported again, by a restarted controller, at a requested run: no
    // new commit, though encryption never gives the same bytes twice.
    let request =
        json!({ "metadata": { "annotations": { "reconcile.fluxcd.io/requestedAt": "again" } } });
    s.gitcommits()
        .patch("backup", &PatchParams::default(), &Patch::Merge(&request))
        .await
        .expect("request a run");
    s.controllers.clear();
    s.start_controller(
        "c2",
        &[
            "--digest-key-namespace",
            &digest_key_namespace,
            "--secret-poll-seconds",
            "1",
        ],
    )
    .expect("restarted controller");
    s.wait_gitcommit("backup", "a run with no changes", |o| {
        o.status.as_ref().is_some_and(|st| {
            st.history.len() >= 2 && st.history[0].result == gco_api::RunResult::NoChanges
        })
    })
    .await
    .expect("no changes");
    assert_eq!(s.history().len(), 1, "{:?}", s.history());

    // A changed Secret: one new commit, decrypting to the new value.
    s.put_secret("db", &[("password", "correct horse"), ("user", "app")])
        .await
        .expect("change");
    wait_commits(&s, 2).await;
    let exported = s.file("secrets/db.yaml").expect("exported");
    let decrypted = sops_decrypt(dir.path(), &key, &exported).expect("sops decrypts");
    assert_eq!(decrypted["data"]["password"], b64("correct horse"));

    // Without the policy's recipients, a Secret is never dumped.
    policies
        .delete(&policy_name, &Default::default())
        .await
        .expect("delete the policy");
    s.create_gitcommit(gitcommit(
        "no-recipients",
        &s.url(),
        json!({ "resourceReferences": [{ "apiVersion": "v1", "kind": "Secret", "name": "db",
                "strategy": "dump", "output": { "path": "secrets/again.yaml" } }] }),
    ))
    .await
    .expect("create");
    let refused = s
        .wait_ready("no-recipients", "False", Some("PolicyDenied"))
        .await
        .expect("refused");
    let message = refused.status.and_then(|st| st.message).unwrap_or_default();
    assert!(
        message.contains("spec.secrets.encryption.ageRecipients"),
        "{message}"
    );
    assert!(s.file("secrets/again.yaml").is_none());
}

/// `age --decrypt` of `text` with `identity` (an age or OpenSSH key file).
fn age_decrypt(
    dir: &std::path::Path,
    identity: &std::path::Path,
    text: &str,
) -> Result<String, String> {
    let file = dir.join("file.age");
    std::fs::write(&file, text).expect("write");
    let output = tool("age")
        .expect("age")
        .arg("--decrypt")
        .arg("-i")
        .arg(identity)
        .arg(&file)
        .output()
        .expect("run age");
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

#[tokio::test]
async fn files_are_encrypted_with_age_to_recipients_the_policy_allows_only() {
    let mut s = Scenario::new("age-files").await.expect("scenario");
    let dir = tempfile::tempdir().expect("dir");
    let (key, recipient) = age_identity(dir.path());
    let ssh_key = dir.path().join("id_ed25519");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(&ssh_key)
        .output()
        .expect("ssh-keygen");
    assert!(keygen.status.success(), "{keygen:?}");
    let ssh_recipient = std::fs::read_to_string(ssh_key.with_extension("pub"))
        .expect("public key")
        .trim()
        .to_owned();
    let (policies, policy_name) = apply_policy(
        &s,
        "age",
        json!({ "encryption": { "ageRecipients": [recipient, ssh_recipient] } }),
    )
    .await;
    s.put_configmap("app", &[("token", "abc123")])
        .await
        .expect("cm");
    let namespace = s.namespace.clone();
    s.start_controller("c1", &["--digest-key-namespace", &namespace])
        .expect("controller");
    s.create_gitcommit(gitcommit(
        "encrypted",
        &s.url(),
        json!({
            "files": [{ "path": "notes/plan.txt", "content": "classified\n",
                        "encryption": { "age": [recipient] } }],
            "resourceReferences": [{ "apiVersion": "v1", "kind": "ConfigMap", "name": "app",
                "strategy": "fields",
                "output": { "path": "cfg/", "encryption": { "age": [ssh_recipient] } } }]
        }),
    ))
    .await
    .expect("create");
    s.wait_ready("encrypted", "True", Some("Succeeded"))
        .await
        .expect("first run");
    wait_commits(&s, 1).await;
    let plan = s.file("notes/plan.txt").expect("file");
    assert!(
        plan.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{plan}"
    );
    assert_eq!(
        age_decrypt(dir.path(), &key, &plan).as_deref(),
        Ok("classified\n")
    );
    let token = s.file("cfg/token").expect("file");
    assert!(!token.contains("abc123"));
    assert_eq!(
        age_decrypt(dir.path(), &ssh_key, &token).as_deref(),
        Ok("abc123")
    );

    // Asked again, with nothing changed: the files stay as they are.
    let request =
        json!({ "metadata": { "annotations": { "reconcile.fluxcd.io/requestedAt": "again" } } });
    s.gitcommits()
        .patch(
            "encrypted",
            &PatchParams::default(),
            &Patch::Merge(&request),
        )
        .await
        .expect("request a run");
    s.wait_gitcommit("encrypted", "a run with no changes", |o| {
        o.status.as_ref().is_some_and(|st| {
            st.history.len() >= 2 && st.history[0].result == gco_api::RunResult::NoChanges
        })
    })
    .await
    .expect("no changes");
    assert_eq!(s.history().len(), 1);

    // A recipient the policy does not list: refused, nothing written.
    let (_, stranger) = age_identity(&{
        let other = dir.path().join("stranger");
        std::fs::create_dir_all(&other).expect("dir");
        other
    });
    s.create_gitcommit(gitcommit(
        "exfiltrate",
        &s.url(),
        json!({ "files": [{ "path": "loot.txt", "content": "x",
                            "encryption": { "age": [stranger] } }] }),
    ))
    .await
    .expect("create");
    let refused = s
        .wait_ready("exfiltrate", "False", Some("PolicyDenied"))
        .await
        .expect("refused");
    let message = refused.status.and_then(|st| st.message).unwrap_or_default();
    assert!(
        message.contains("spec.files[0].encryption.age[0]")
            && message.contains("(rule encryption)"),
        "{message}"
    );
    assert!(s.file("loot.txt").is_none());
    policies
        .delete(&policy_name, &Default::default())
        .await
        .expect("delete the policy");
}
