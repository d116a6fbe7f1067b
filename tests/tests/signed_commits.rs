//! Signed commits end to end: keys made by the real `gpg` and `ssh-keygen` in Secrets, the
//! controller binary committing through `git daemon`, and `git verify-commit` judging what
//! reached the branch, with a gpg keyring and with an allowed-signers file.

use gco_tests::{
    scenario::{Scenario, condition, gitcommit},
    signing::{Keyring, SshKey, signature_of, verified},
};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

const PASSPHRASE: &str = "sign-me-please-42";

/// A GitCommit writing one file, signed with the key of Secret `key` (none: unsigned).
fn signed(s: &Scenario, name: &str, key: Option<&str>) -> serde_json::Value {
    let mut object = gitcommit(
        name,
        &s.url(),
        json!({ "files": [{ "path": format!("{name}.txt"), "content": format!("{name}\n") }] }),
    );
    if let Some(key) = key {
        object["spec"]["commit"]["signingKey"] = json!({ "secretName": key });
    }
    object
}

/// The commit a Ready GitCommit's status names.
async fn committed(s: &Scenario, name: &str) -> String {
    let ready = s
        .wait_ready(name, "True", Some("Succeeded"))
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    ready
        .status
        .and_then(|st| st.commit_sha)
        .unwrap_or_else(|| panic!("{name} names its commit"))
}

#[tokio::test]
async fn commits_verify_with_the_gpg_keyring_and_the_allowed_signers_of_their_own_keys() {
    let mut s = Scenario::new("signed").await.expect("scenario");
    let keyring = Keyring::new().expect("keyring");
    let gpg = keyring
        .generate("Export Bot <bot@example.com>", Some(PASSPHRASE), false)
        .expect("gpg key");
    let ssh = SshKey::generate("bot@example.com", Some(PASSPHRASE)).expect("ssh key");
    // Flux image automation's Secret, and an ssh auth Secret's keys.
    s.put_secret(
        "gpg-key",
        &[("git.asc", &gpg.armored), ("passphrase", PASSPHRASE)],
    )
    .await
    .expect("gpg secret");
    s.put_secret(
        "ssh-key",
        &[("identity", &ssh.private), ("password", PASSPHRASE)],
    )
    .await
    .expect("ssh secret");
    s.start_controller("c1", &[]).expect("controller");

    // Two objects with different keys on one branch, handed in together: whether or not
    // they meet in one batch, each commit carries its own key's signature.
    for (name, key) in [("pgp", "gpg-key"), ("ssh", "ssh-key")] {
        s.create_gitcommit(signed(&s, name, Some(key)))
            .await
            .expect("create");
    }
    let pgp = committed(&s, "pgp").await;
    let sshsig = committed(&s, "ssh").await;
    assert_ne!(pgp, sshsig, "different keys never share a commit");

    verified(&keyring.verify_commit(&s.repo, &pgp)).expect("gpg verifies the OpenPGP commit");
    assert!(!ssh.verify_commit(&s.repo, &pgp).status.success());
    verified(&ssh.verify_commit(&s.repo, &sshsig)).expect("ssh verifies the SSH commit");
    assert!(!keyring.verify_commit(&s.repo, &sshsig).status.success());
    let header = signature_of(&s.repo, &sshsig).expect("signed");
    assert!(
        header.starts_with("-----BEGIN SSH SIGNATURE-----"),
        "{header}"
    );

    // A later change of the same object is signed too.
    let change = json!({ "spec": { "files": [{ "path": "pgp.txt", "content": "pgp, again\n" }] } });
    s.gitcommits()
        .patch("pgp", &PatchParams::default(), &Patch::Merge(&change))
        .await
        .expect("change");
    let changed = s
        .wait_gitcommit("pgp", "committed again", |o| {
            o.status
                .as_ref()
                .is_some_and(|st| st.commit_sha.as_deref().is_some_and(|c| c != pgp))
        })
        .await
        .expect("second run");
    let second = changed.status.and_then(|st| st.commit_sha).expect("commit");
    verified(&keyring.verify_commit(&s.repo, &second)).expect("the next commit is signed");
}

#[tokio::test]
async fn a_policy_requiring_signatures_refuses_an_unsigned_spec_at_reconcile() {
    let mut s = Scenario::new("sign-policy").await.expect("scenario");
    let name = format!("{}-signed", s.namespace);
    let policy = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": { "name": name },
        "spec": {
            "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": s.namespace } },
            "repositories": [{ "url": s.url(), "requireSignedCommits": true }]
        }
    });
    let policies = Api::<gco_api::GitExportPolicy>::all(s.client.clone());
    policies
        .patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&policy),
        )
        .await
        .expect("policy");
    let ssh = SshKey::generate("bot@example.com", None).expect("ssh key");
    s.put_secret("ssh-key", &[("identity", &ssh.private)])
        .await
        .expect("secret");
    // Started after the policy: the controller judges nothing before its caches hold it.
    s.start_controller("c1", &[]).expect("controller");
    // Created as if the webhook had been off.
    s.create_gitcommit(signed(&s, "unsigned", None))
        .await
        .expect("create");
    let refused = s
        .wait_ready("unsigned", "False", Some("PolicyDenied"))
        .await
        .expect("refused");
    let message = refused.status.and_then(|st| st.message).unwrap_or_default();
    for part in [
        "spec.commit.signingKey.secretName",
        "requireSignedCommits",
        "rule signed-commits",
        "fix: set `spec.commit.signingKey.secretName`",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert_eq!(s.file("unsigned.txt"), None, "nothing pushed");

    s.create_gitcommit(signed(&s, "signed", Some("ssh-key")))
        .await
        .expect("create");
    let commit = committed(&s, "signed").await;
    verified(&ssh.verify_commit(&s.repo, &commit)).expect("signed and admitted");
    policies
        .delete(&name, &Default::default())
        .await
        .expect("delete the policy");
}

#[tokio::test]
async fn a_wrong_passphrase_fails_naming_the_field_and_never_the_key() {
    let mut s = Scenario::new("sign-wrong").await.expect("scenario");
    let keyring = Keyring::new().expect("keyring");
    let gpg = keyring
        .generate("Export Bot <bot@example.com>", Some(PASSPHRASE), false)
        .expect("gpg key");
    let wrong = "not-the-passphrase-7";
    s.put_secret(
        "gpg-key",
        &[("git.asc", &gpg.armored), ("passphrase", wrong)],
    )
    .await
    .expect("secret");
    s.start_controller("c1", &[]).expect("controller");
    s.create_gitcommit(signed(&s, "locked", Some("gpg-key")))
        .await
        .expect("create");
    let failed = s
        .wait_gitcommit("locked", "failed on its key", |o| {
            condition(o, "Ready").is_some_and(|(status, reason)| {
                status == "False" && reason == "AuthenticationFailed"
            })
        })
        .await
        .expect("failed");
    let message = failed
        .status
        .as_ref()
        .and_then(|st| st.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("spec.commit.signingKey.secretName")
            && message.contains("Secret \"gpg-key\"")
            && message.contains("`passphrase` does not unlock the key in `git.asc`"),
        "{message}"
    );
    assert_eq!(s.file("locked.txt"), None, "nothing pushed unsigned");

    // Nowhere a human reads: status, events, the controller's log.
    let events: Vec<Event> = Api::namespaced(s.client.clone(), &s.namespace)
        .list(&ListParams::default())
        .await
        .expect("events")
        .items;
    let mut texts = vec![
        serde_json::to_string(&failed.status).unwrap_or_default(),
        s.logs(),
    ];
    texts.extend(events.iter().filter_map(|e| e.note.clone()));
    let key_lines = gpg
        .armored
        .lines()
        .filter(|line| line.len() > 16 && !line.starts_with("-----"));
    let secrets: Vec<&str> = [PASSPHRASE, wrong].into_iter().chain(key_lines).collect();
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(secret), "key material leaked: {text}");
        }
    }
    assert!(
        texts.iter().any(|t| t.contains("does not unlock")),
        "the failure is told somewhere: {texts:?}"
    );
}
