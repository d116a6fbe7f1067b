//! Smart HTTPS through `git http-backend`: basic, token and bearer auth, the Secret's
//! `ca.crt`, and typed errors for every refusal, none of which leaks a credential.

use gco_api::WriteMode::Overwrite;
use gco_controller::git::{Credentials, GitError, Outcome};
use gco_controller::reconcile::{Failure, failure::FailureReason};

use gco_tests::pki::Ca;

use crate::{
    LOGS, change, engine,
    support::{
        http::{Auth, GitHttpServer},
        repos,
    },
    write,
};

const PASSWORD: &str = "s3cret-Pa55word-xyz";
const BEARER: &str = "bearer-T0ken-abcdef123";
const TOKEN: &str = "ghp_T0kenForOauth2User";

async fn try_commit(
    server: &GitHttpServer,
    credentials: &Credentials,
    run: &str,
) -> Result<Outcome, GitError> {
    let (_cache, engine) = engine();
    engine
        .commit(
            &server.url("r.git"),
            "main",
            credentials,
            change(
                "web",
                run,
                vec![write(&format!("{run}.txt"), run, Overwrite)],
            ),
        )
        .await
}

/// All HTTPS scenarios share one test so that the captured logs and the errors checked for
/// credentials at the end are exactly those these scenarios produced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_auth_and_certificates() {
    let root = tempfile::tempdir().expect("root");
    let bare = repos::bare_repo(root.path(), "r.git");
    let ca = Ca::new("gco-test-ca").expect("ca");
    let other = Ca::new("some-other-ca").expect("ca");
    let server = ca
        .server(&["127.0.0.1", "localhost"])
        .expect("serving certificate");
    let (ca_pem, other_pem) = (ca.cert_pem(), other.cert_pem());
    let tls = Some((server.cert_pem.as_str(), server.key_pem.as_str()));
    let mut errors: Vec<GitError> = Vec::new();

    // Basic auth, trusted through ca.crt.
    let basic = GitHttpServer::start(
        root.path(),
        Auth::Basic {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
        tls,
    );
    let good = Credentials::anonymous()
        .with_basic("alice", PASSWORD)
        .with_ca_cert(ca_pem.as_bytes());
    let outcome = try_commit(&basic, &good, "basic")
        .await
        .expect("basic auth commit");
    assert!(matches!(outcome, Outcome::Committed { .. }), "{outcome:?}");
    assert_eq!(
        repos::show(&bare, "main", "basic.txt").as_deref(),
        Some("basic")
    );

    let wrong = Credentials::anonymous()
        .with_basic("alice", "wrong-password-123")
        .with_ca_cert(ca_pem.as_bytes());
    let error = try_commit(&basic, &wrong, "wrong")
        .await
        .expect_err("wrong password");
    assert!(matches!(error, GitError::AuthFailed { .. }), "{error:?}");
    assert_eq!(
        Failure::from(error.clone()).reason,
        FailureReason::AuthenticationFailed
    );
    errors.push(error);

    // No ca.crt: the system store does not know the test CA.
    let untrusted = Credentials::anonymous().with_basic("alice", PASSWORD);
    let error = try_commit(&basic, &untrusted, "untrusted")
        .await
        .expect_err("no ca");
    assert!(
        matches!(error, GitError::CertificateRejected { .. }),
        "{error:?}"
    );
    errors.push(error);

    // A ca.crt that did not sign the server's certificate.
    let wrong_ca = Credentials::anonymous()
        .with_basic("alice", PASSWORD)
        .with_ca_cert(other_pem.as_bytes());
    let error = try_commit(&basic, &wrong_ca, "wrong-ca")
        .await
        .expect_err("wrong ca");
    assert!(
        matches!(error, GitError::CertificateRejected { .. }),
        "{error:?}"
    );
    errors.push(error);
    drop(basic);

    // `token`: basic auth as user oauth2.
    let token_server = GitHttpServer::start(
        root.path(),
        Auth::Basic {
            user: "oauth2".into(),
            password: TOKEN.into(),
        },
        tls,
    );
    let token = Credentials::anonymous()
        .with_token(TOKEN)
        .with_ca_cert(ca_pem.as_bytes());
    try_commit(&token_server, &token, "token")
        .await
        .expect("token commit");
    drop(token_server);

    // `bearerToken`: an Authorization header on every request.
    let bearer_server = GitHttpServer::start(root.path(), Auth::Bearer(BEARER.into()), tls);
    let bearer = Credentials::anonymous()
        .with_bearer_token(BEARER)
        .with_ca_cert(ca_pem.as_bytes());
    try_commit(&bearer_server, &bearer, "bearer")
        .await
        .expect("bearer commit");
    let wrong_bearer = Credentials::anonymous()
        .with_bearer_token("not-the-token-42")
        .with_ca_cert(ca_pem.as_bytes());
    let error = try_commit(&bearer_server, &wrong_bearer, "wrong-bearer")
        .await
        .expect_err("wrong bearer");
    assert!(matches!(error, GitError::AuthFailed { .. }), "{error:?}");
    errors.push(error);
    drop(bearer_server);

    for name in ["token.txt", "bearer.txt"] {
        assert!(repos::show(&bare, "main", name).is_some(), "{name} landed");
    }
    assert_no_secret_anywhere(&errors, &[&good, &token, &bearer]);
}

fn assert_no_secret_anywhere(errors: &[GitError], credentials: &[&Credentials]) {
    let logs =
        String::from_utf8_lossy(&LOGS.lock().map(|l| l.clone()).unwrap_or_default()).into_owned();
    let mut texts: Vec<String> = errors
        .iter()
        .flat_map(|e| [e.to_string(), format!("{e:?}")])
        .collect();
    texts.extend(credentials.iter().map(|c| format!("{c:?}")));
    texts.push(logs);
    for secret in [
        PASSWORD,
        BEARER,
        TOKEN,
        "wrong-password-123",
        "not-the-token-42",
    ] {
        for text in &texts {
            assert!(!text.contains(secret), "a credential leaked: {text}");
        }
    }
}
