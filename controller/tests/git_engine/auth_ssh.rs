//! SSH through a real `sshd`: key authentication, and host keys checked against the
//! Secret's `known_hosts`.

use gco_api::WriteMode::Overwrite;
use gco_controller::git::{Credentials, GitError, Outcome};

use crate::{
    change, engine,
    support::{
        repos,
        ssh::{SshServer, keygen},
    },
    write,
};

#[tokio::test]
async fn ssh_with_known_hosts() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "r.git");
    let sshd_dir = tempfile::tempdir().expect("sshd dir");
    let server = SshServer::start(sshd_dir.path());
    let url = server.url(&bare);
    let commit = |credentials: Credentials, run: &'static str| {
        let url = url.clone();
        async move {
            let (_cache, engine) = engine();
            engine
                .commit(
                    &url,
                    "main",
                    &credentials,
                    change(
                        "ssh",
                        run,
                        vec![write(&format!("{run}.txt"), run, Overwrite)],
                    ),
                )
                .await
        }
    };

    let good =
        Credentials::anonymous().with_ssh(server.identity.as_bytes(), None, &server.known_hosts);
    let outcome = commit(good, "ssh-ok").await.expect("ssh commit");
    assert!(matches!(outcome, Outcome::Committed { .. }), "{outcome:?}");
    assert_eq!(
        repos::show(&bare, "main", "ssh-ok.txt").as_deref(),
        Some("ssh-ok")
    );

    // The right host, the wrong key: a changed host key.
    let impostor = keygen(sshd_dir.path(), "impostor");
    let impostor_pub = std::fs::read_to_string(impostor.with_extension("pub")).expect("pub");
    let mut fields = impostor_pub.split_whitespace();
    let changed = format!(
        "[127.0.0.1]:{} {} {}\n",
        server.port(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default()
    );
    let error = commit(
        Credentials::anonymous().with_ssh(server.identity.as_bytes(), None, &changed),
        "changed",
    )
    .await
    .expect_err("changed host key");
    assert!(
        matches!(error, GitError::HostKeyRejected { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("does not match"), "{error}");

    // A known_hosts that does not list this host at all.
    let elsewhere = server
        .known_hosts
        .replace("[127.0.0.1]", "[git.example.com]");
    let error = commit(
        Credentials::anonymous().with_ssh(server.identity.as_bytes(), None, &elsewhere),
        "unknown",
    )
    .await
    .expect_err("unknown host");
    assert!(
        matches!(error, GitError::HostKeyRejected { .. }),
        "{error:?}"
    );

    // No known_hosts at all is refused before connecting.
    let mut data = std::collections::BTreeMap::new();
    data.insert("identity".to_owned(), server.identity.as_bytes().to_vec());
    let error = commit(Credentials::from_secret_data(&data), "none")
        .await
        .expect_err("no known_hosts");
    assert!(matches!(error, GitError::Credentials { .. }), "{error:?}");
    assert_eq!(repos::log(&bare, "main").len(), 1);
}
