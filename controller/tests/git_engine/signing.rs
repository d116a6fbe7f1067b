//! Signed commits, verified by the real tools: keys made by `gpg` and `ssh-keygen`, commits
//! checked by `git verify-commit` with a gpg keyring and with an allowed-signers file. Changes
//! of one batch share a commit only when they ask for the same key.

use std::collections::BTreeMap;

use futures::future::join_all;
use gco_api::WriteMode::Overwrite;
use gco_controller::git::{Change, SigningKey};
use gco_tests::signing::{Keyring, OpenPgpKey, SshKey, signature_of, verified};

use crate::{
    LOGS, change,
    local::{Local, committed},
    write,
};

const PASSPHRASE: &str = "correct horse battery staple";

fn secret(entries: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
        .collect()
}

fn openpgp_key(key: &OpenPgpKey, passphrase: &str) -> SigningKey {
    SigningKey::from_secret_data(&secret(&[
        ("git.asc", &key.armored),
        // As `kubectl create secret --from-file` leaves it.
        ("passphrase", &format!("{passphrase}\n")),
    ]))
    .expect("the OpenPGP key unlocks")
}

fn signed(name: &str, key: Option<&SigningKey>) -> Change {
    let mut change = change(
        name,
        &format!("run-{name}"),
        vec![write(&format!("{name}.yaml"), "x: 1\n", Overwrite)],
    );
    change.signing = key.cloned();
    change
}

#[tokio::test]
async fn each_commit_is_signed_by_the_key_its_changes_asked_for() {
    let keyring = Keyring::new().expect("keyring");
    let gpg = keyring
        .generate("Export Bot <bot@example.com>", Some(PASSPHRASE), true)
        .expect("gpg key");
    let ssh = SshKey::generate("bot@example.com", Some(PASSPHRASE)).expect("ssh key");
    let openpgp = openpgp_key(&gpg, PASSPHRASE);
    let sshsig = SigningKey::from_secret_data(&secret(&[
        ("identity", &ssh.private),
        ("password", PASSPHRASE),
        ("known_hosts", "ignored here"),
    ]))
    .expect("the SSH key decrypts");

    let local = Local::seeded(&[("README", "seed\n")]);
    // Handed in together on a current-thread runtime: one batch, in this order.
    let changes = [
        signed("a1", Some(&openpgp)),
        signed("a2", Some(&openpgp)),
        signed("b1", Some(&sshsig)),
        signed("c1", None),
        signed("a3", Some(&openpgp)),
    ];
    let commits: Vec<String> = join_all(changes.map(|c| local.commit("main", c)))
        .await
        .into_iter()
        .map(|outcome| committed(&outcome.expect("committed")))
        .collect();
    assert_eq!(commits[0], commits[1], "one key, one author: one commit");
    let distinct: std::collections::BTreeSet<&String> = commits[1..].iter().collect();
    assert_eq!(
        distinct.len(),
        4,
        "a new key starts a new commit: {commits:?}"
    );
    assert_eq!(local.log("main").len(), 5, "seed and four commits");

    for commit in [&commits[0], &commits[4]] {
        verified(&keyring.verify_commit(&local.bare, commit)).expect("gpg verifies");
        let refused = ssh.verify_commit(&local.bare, commit);
        assert!(!refused.status.success(), "not an SSH signature");
        let signature = signature_of(&local.bare, commit).expect("signed");
        assert!(signature.starts_with("-----BEGIN PGP SIGNATURE-----"));
    }
    // Signed by the signing subkey, as gpg and Flux sign.
    let raw = keyring.verify_commit(&local.bare, &commits[0]);
    let status = String::from_utf8_lossy(&raw.stderr);
    assert!(status.contains("GOODSIG"), "{status}");
    assert!(
        !status.contains(&format!("VALIDSIG {}", gpg.fingerprint)),
        "the primary key did not sign: {status}"
    );

    verified(&ssh.verify_commit(&local.bare, &commits[2])).expect("ssh verifies");
    assert!(
        !keyring
            .verify_commit(&local.bare, &commits[2])
            .status
            .success()
    );
    let signature = signature_of(&local.bare, &commits[2]).expect("signed");
    assert!(signature.starts_with("-----BEGIN SSH SIGNATURE-----"));

    assert_eq!(signature_of(&local.bare, &commits[3]), None, "unsigned");
    assert!(
        !keyring
            .verify_commit(&local.bare, &commits[3])
            .status
            .success()
    );

    // The commit a signed change made is found again by its run, like any other.
    let again = signed("a1", Some(&openpgp));
    assert_eq!(
        local.find("main", &again).await.as_deref(),
        Some(commits[0].as_str())
    );
}

#[tokio::test]
async fn a_key_that_cannot_sign_is_told_without_its_material() {
    let keyring = Keyring::new().expect("keyring");
    let gpg = keyring
        .generate("Export Bot <bot@example.com>", Some(PASSPHRASE), false)
        .expect("gpg key");
    let ssh = SshKey::generate("bot@example.com", Some(PASSPHRASE)).expect("ssh key");
    let unencrypted = keyring
        .generate("Plain Bot <plain@example.com>", None, false)
        .expect("unencrypted gpg key");
    let problem = |entries: &[(&str, &str)]| {
        SigningKey::from_secret_data(&secret(entries))
            .expect_err("refused")
            .to_string()
    };
    let cases = [
        (
            problem(&[
                ("git.asc", &gpg.armored),
                ("passphrase", "wrong-passphrase-1"),
            ]),
            "`passphrase` does not unlock the key in `git.asc`",
        ),
        (
            problem(&[("git.asc", &gpg.armored)]),
            "is encrypted and the Secret has no `passphrase`",
        ),
        (
            problem(&[
                ("identity", &ssh.private),
                ("password", "wrong-passphrase-2"),
            ]),
            "`password` does not decrypt the key in `identity`",
        ),
        (
            problem(&[("identity", &ssh.private)]),
            "is encrypted and the Secret has no `password`",
        ),
        (
            problem(&[("git.asc", &gpg.armored), ("identity", &ssh.private)]),
            "holds both",
        ),
        (problem(&[("username", "x")]), "holds neither"),
        (
            problem(&[("git.asc", &ssh.private)]),
            "`git.asc` is not an armored OpenPGP private key",
        ),
        (
            problem(&[("identity", &gpg.armored)]),
            "`identity` is not an OpenSSH private key",
        ),
    ];
    for (message, expected) in &cases {
        assert!(
            message.contains(expected),
            "{message:?} should say {expected:?}"
        );
    }
    // An unencrypted key needs no passphrase; one given anyway does no harm.
    let plain = SigningKey::from_secret_data(&secret(&[("git.asc", &unencrypted.armored)]))
        .expect("unencrypted");
    assert_eq!(openpgp_key(&unencrypted, "unused"), plain, "the same key");
    assert_ne!(openpgp_key(&gpg, PASSPHRASE), plain, "another key");

    // Neither the messages, nor a key's or a change's Debug, nor any log line holds a
    // passphrase or a line of key material.
    let mut texts: Vec<String> = cases.iter().map(|(message, _)| message.clone()).collect();
    texts.push(format!("{plain:?}"));
    texts.push(format!("{:?}", signed("debug", Some(&plain))));
    texts.push(
        String::from_utf8_lossy(&LOGS.lock().map(|l| l.clone()).unwrap_or_default()).into_owned(),
    );
    let material = [&gpg.armored, &ssh.private, &unencrypted.armored]
        .into_iter()
        .flat_map(|key| {
            key.lines()
                .filter(|line| line.len() > 16 && !line.starts_with("-----"))
        })
        .map(str::to_owned);
    let secrets: Vec<String> = [PASSPHRASE, "wrong-passphrase-1", "wrong-passphrase-2"]
        .into_iter()
        .map(str::to_owned)
        .chain(material)
        .collect();
    for text in &texts {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "key material leaked: {text}"
            );
        }
    }
    assert!(
        format!("{plain:?}").contains(&unencrypted.fingerprint),
        "Debug names the public fingerprint: {plain:?}"
    );
}
