//! Contract tests of the GitHub and GitLab clients: a local HTTP server answers with bodies
//! shaped like the public API documentation (GitHub REST "Pulls", GitLab "Merge requests"),
//! including 401, 404, 422/409 "already exists" and GitHub's 403 secondary rate limit with
//! `Retry-After`, and the test asserts the requests the client sent.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use gco_api::{ForgeProvider, PullRequestRepository, PullRequestState};
use gco_controller::forge::{Forge, ForgeError, ForgePullRequest, Proposal};
use serde_json::{Value, json};

const TOKEN: &str = "ghp_contractTestToken0123456789abcdef";

/// One scripted answer: for `method path?query`, reply `status` with `headers` and `body`.
struct Reply {
    method: &'static str,
    target: String,
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: Value,
}

fn reply(method: &'static str, target: &str, status: u16, body: Value) -> Reply {
    Reply {
        method,
        target: target.to_owned(),
        status,
        headers: Vec::new(),
        body,
    }
}

/// A request the client sent.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// Serves `replies` in order (each one once); anything unscripted gets a 599.
async fn serve(replies: Vec<Reply>) -> (String, Script) {
    let script = Script {
        replies: Arc::new(Mutex::new(replies.into())),
        ..Script::default()
    };
    let app = Router::new().fallback(answer).with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), script)
}

async fn answer(
    State(script): State<Script>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    script.seen.lock().expect("lock").push(Seen {
        method: method.to_string(),
        target: target.clone(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let mut replies = script.replies.lock().expect("lock");
    let position = replies
        .iter()
        .position(|r| r.method == method.as_str() && r.target == target);
    let Some(reply) = position.and_then(|i| replies.remove(i)) else {
        return (
            StatusCode::from_u16(599).expect("status"),
            format!("unscripted {method} {target}"),
        )
            .into_response();
    };
    let mut response = (
        StatusCode::from_u16(reply.status).expect("status"),
        reply.body.to_string(),
    )
        .into_response();
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("header"));
    }
    response.headers_mut().insert(
        "content-type",
        "application/json; charset=utf-8".parse().expect("header"),
    );
    response
}

impl Script {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

fn repository(url: &str, api: &str, provider: Option<ForgeProvider>) -> PullRequestRepository {
    PullRequestRepository {
        url: url.to_owned(),
        base_branch: Some("main".into()),
        provider,
        api_url: Some(api.to_owned()),
    }
}

/// A client for `company/gitops` on github.com, its API served at `api`.
fn github(api: &str) -> Forge {
    Forge::for_repository(
        &repository("https://github.com/company/gitops.git", api, None),
        Some(TOKEN),
    )
    .expect("forge")
}

/// A client for `group/sub/gitops` on gitlab.com, its API served under `api`.
fn gitlab(api: &str) -> Forge {
    Forge::for_repository(
        &repository(
            "https://gitlab.com/group/sub/gitops.git",
            &format!("{api}/api/v4"),
            None,
        ),
        Some(TOKEN),
    )
    .expect("forge")
}

/// The open pull request from the head branch of [`proposal`] to `main`.
async fn find_open(forge: &Forge) -> Result<Option<ForgePullRequest>, ForgeError> {
    forge.find_open("gco/team-sync", "main").await
}

/// Every request carried the token as a bearer token.
fn assert_bearer(seen: &[Seen]) {
    for request in seen {
        assert_eq!(
            request.headers["authorization"],
            format!("Bearer {TOKEN}").as_str()
        );
    }
}

fn proposal() -> Proposal {
    Proposal {
        head: "gco/team-sync".into(),
        base: "main".into(),
        title: "Sync manifests".into(),
        body: "From the cluster.".into(),
    }
}

/// A pull request as GitHub's REST reference shows it (trimmed to the documented fields the
/// client reads plus a few it must ignore).
fn github_pull(number: i64, state: &str, merged_at: Option<&str>, title: &str) -> Value {
    json!({
        "url": format!("https://api.github.com/repos/company/gitops/pulls/{number}"),
        "id": 1_296_269, "node_id": "MDExOlB1bGxSZXF1ZXN0MQ==",
        "html_url": format!("https://github.com/company/gitops/pull/{number}"),
        "number": number, "state": state, "locked": false, "title": title,
        "user": { "login": "octocat", "id": 1 },
        "body": "From the cluster.", "created_at": "2026-11-22T13:00:00Z",
        "merged_at": merged_at, "draft": false,
        "head": { "label": "company:gco/team-sync", "ref": "gco/team-sync", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e" },
        "base": { "label": "company:main", "ref": "main", "sha": "553c2077f0edc3d5dc5d17262f6aa498e69d6f8e" }
    })
}

const GH_LIST: &str =
    "/repos/company/gitops/pulls?state=open&head=company%3Agco%2Fteam-sync&base=main&per_page=100";

#[tokio::test]
async fn github_lists_opens_edits_and_follows_a_pull_request_as_documented() {
    let (api, script) = serve(vec![
        reply("GET", GH_LIST, 200, json!([])),
        reply("POST", "/repos/company/gitops/pulls", 201, github_pull(1347, "open", None, "Sync manifests")),
        reply("PATCH", "/repos/company/gitops/pulls/1347", 200, github_pull(1347, "open", None, "New title")),
        reply("GET", "/repos/company/gitops/pulls/1347", 200, github_pull(1347, "closed", Some("2026-11-22T14:00:00Z"), "New title")),
        // A branch name is one percent-encoded path segment (`/` → `%2F`), as GitHub's own
        // clients send it, so no name can reach another endpoint.
        reply("GET", "/repos/company/gitops/branches/gco%2Fteam-sync", 200, json!({ "name": "gco/team-sync", "commit": { "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e" }, "protected": false })),
        reply("DELETE", "/repos/company/gitops/git/refs/heads/gco%2Fteam-sync", 204, Value::Null),
    ])
    .await;
    // github.com: the provider is inferred from the host.
    let forge = github(&api);
    assert_eq!(forge.name(), "github");
    assert_eq!(find_open(&forge).await.expect("list"), None);
    let opened = forge.create(&proposal()).await.expect("create");
    assert_eq!(
        (opened.number, opened.state),
        (1347, PullRequestState::Open)
    );
    assert_eq!(opened.url, "https://github.com/company/gitops/pull/1347");
    let edited = forge
        .update(1347, "New title", "From the cluster.")
        .await
        .expect("update");
    assert_eq!(edited.title, "New title");
    assert_eq!(
        forge.get(1347).await.expect("get").state,
        PullRequestState::Merged
    );
    assert_eq!(
        forge
            .branch_tip("gco/team-sync")
            .await
            .expect("tip")
            .as_deref(),
        Some("6dcb09b5b57875f334f61aebed695e2e4193db5e")
    );
    forge.delete_branch("gco/team-sync").await.expect("delete");

    let seen = script.seen();
    assert_eq!(seen.len(), 6, "{seen:#?}");
    assert_bearer(&seen);
    for request in &seen {
        assert_eq!(request.headers["accept"], "application/vnd.github+json");
        assert_eq!(request.headers["x-github-api-version"], "2022-11-28");
        assert!(
            request.headers["user-agent"]
                .to_str()
                .expect("ua")
                .starts_with("git-change-operator/")
        );
    }
    assert_eq!(
        seen[1].body,
        json!({ "title": "Sync manifests", "head": "gco/team-sync", "base": "main", "body": "From the cluster." })
    );
    assert_eq!(seen[2].method, "PATCH");
    assert_eq!(
        seen[2].body,
        json!({ "title": "New title", "body": "From the cluster." })
    );
}

#[tokio::test]
async fn github_422_already_exists_returns_the_open_pull_request() {
    let (api, script) = serve(vec![
        reply("POST", "/repos/company/gitops/pulls", 422, json!({
            "message": "Validation Failed",
            "errors": [{ "resource": "PullRequest", "code": "custom", "message": "A pull request already exists for company:gco/team-sync." }],
            "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request", "status": "422"
        })),
        reply("GET", GH_LIST, 200, json!([github_pull(7, "open", None, "Sync manifests")])),
    ])
    .await;
    let forge = github(&api);
    assert_eq!(forge.create(&proposal()).await.expect("create").number, 7);
    assert_eq!(script.seen().len(), 2, "no second create");
}

#[tokio::test]
async fn github_401_and_404_are_clear_and_never_carry_the_token() {
    let (api, _script) = serve(vec![
        reply("GET", GH_LIST, 401, json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401" })),
        reply("GET", "/repos/company/gitops/pulls/9", 404, json!({ "message": "Not Found", "documentation_url": "https://docs.github.com/rest/pulls/pulls#get-a-pull-request", "status": "404" })),
    ])
    .await;
    let forge = github(&api);
    let unauthorized = find_open(&forge).await.expect_err("401");
    assert!(unauthorized.is_auth(), "{unauthorized}");
    let missing = forge.get(9).await.expect_err("404");
    assert!(matches!(missing, ForgeError::NotFound { .. }), "{missing}");
    for error in [unauthorized, missing] {
        let text = format!("{error} {error:?}");
        assert!(!text.contains(TOKEN), "token leaked: {text}");
    }
}

#[tokio::test]
async fn github_secondary_rate_limit_is_waited_out_per_retry_after() {
    let limited = |after: &'static str| Reply {
        headers: vec![("retry-after", after), ("x-ratelimit-remaining", "4999")],
        ..reply(
            "GET",
            "/repos/company/gitops/pulls/5",
            403,
            json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", "status": "403"
            }),
        )
    };
    let (api, script) = serve(vec![
        limited("1"),
        reply(
            "GET",
            "/repos/company/gitops/pulls/5",
            200,
            github_pull(5, "open", None, "t"),
        ),
        limited("3600"),
    ])
    .await;
    let forge = github(&api);
    let started = Instant::now();
    assert_eq!(forge.get(5).await.expect("after waiting").number, 5);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(script.seen().len(), 2);

    // A wait longer than one reconcile may take becomes a requeue with that delay.
    let started = Instant::now();
    let error = forge.get(5).await.expect_err("rate limited");
    assert_eq!(
        error.retry_after(),
        Some(Duration::from_secs(3600)),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn github_enterprise_goes_through_api_url() {
    let (api, script) = serve(vec![reply(
        "GET",
        "/api/v3/repos/org/app/pulls/1",
        200,
        github_pull(1, "open", None, "t"),
    )])
    .await;
    let repo = repository(
        "https://ghe.example.com/org/app.git",
        &format!("{api}/api/v3"),
        Some(ForgeProvider::Github),
    );
    assert_eq!(
        Forge::for_repository(&repo, Some(TOKEN))
            .expect("forge")
            .get(1)
            .await
            .expect("get")
            .number,
        1
    );
    assert_eq!(script.seen()[0].target, "/api/v3/repos/org/app/pulls/1");
    // Any other host needs an explicit provider.
    let unknown = Forge::for_repository(
        &PullRequestRepository {
            provider: None,
            ..repo
        },
        Some(TOKEN),
    );
    assert!(matches!(unknown, Err(ForgeError::UnknownProvider { .. })));
}

/// A merge request as GitLab's API reference shows it (trimmed).
fn gitlab_mr(iid: i64, state: &str, title: &str) -> Value {
    json!({
        "id": 92_000 + iid, "iid": iid, "project_id": 3, "title": title, "description": "From the cluster.",
        "state": state, "created_at": "2026-11-22T13:00:00.000Z", "target_branch": "main", "source_branch": "gco/team-sync",
        "author": { "id": 1, "username": "admin" }, "sha": "8888888888888888888888888888888888888888",
        "merge_status": "can_be_merged", "draft": false,
        "web_url": format!("https://gitlab.com/group/sub/gitops/-/merge_requests/{iid}")
    })
}

const GL_PROJECT: &str = "/api/v4/projects/group%2Fsub%2Fgitops";

#[tokio::test]
async fn gitlab_merge_requests_are_listed_opened_edited_and_followed_as_documented() {
    let list = format!(
        "{GL_PROJECT}/merge_requests?state=opened&source_branch=gco%2Fteam-sync&target_branch=main"
    );
    let (api, script) = serve(vec![
        reply("GET", &list, 200, json!([])),
        reply("POST", &format!("{GL_PROJECT}/merge_requests"), 201, gitlab_mr(12, "opened", "Sync manifests")),
        reply("PUT", &format!("{GL_PROJECT}/merge_requests/12"), 200, gitlab_mr(12, "opened", "New title")),
        reply("GET", &format!("{GL_PROJECT}/merge_requests/12"), 200, gitlab_mr(12, "merged", "New title")),
        reply("POST", &format!("{GL_PROJECT}/merge_requests"), 409, json!({ "message": ["Another open merge request already exists for this source branch: !13"] })),
        reply("GET", &list, 200, json!([gitlab_mr(13, "opened", "Sync manifests")])),
        reply("GET", &format!("{GL_PROJECT}/merge_requests/99"), 404, json!({ "message": "404 Not found" })),
        reply("DELETE", &format!("{GL_PROJECT}/repository/branches/gco%2Fteam-sync"), 204, Value::Null),
    ])
    .await;
    let forge = gitlab(&api);
    assert_eq!(forge.name(), "gitlab");
    assert_eq!(find_open(&forge).await.expect("list"), None);
    let opened = forge.create(&proposal()).await.expect("create");
    assert_eq!(
        (opened.number, opened.url.as_str()),
        (
            12,
            "https://gitlab.com/group/sub/gitops/-/merge_requests/12"
        )
    );
    assert_eq!(
        forge
            .update(12, "New title", "From the cluster.")
            .await
            .expect("update")
            .title,
        "New title"
    );
    assert_eq!(
        forge.get(12).await.expect("get").state,
        PullRequestState::Merged
    );
    assert_eq!(
        forge
            .create(&proposal())
            .await
            .expect("409 → the open one")
            .number,
        13
    );
    assert!(matches!(
        forge.get(99).await,
        Err(ForgeError::NotFound { .. })
    ));
    forge.delete_branch("gco/team-sync").await.expect("delete");

    let seen = script.seen();
    assert_bearer(&seen);
    assert_eq!(
        seen[1].body,
        json!({ "source_branch": "gco/team-sync", "target_branch": "main", "title": "Sync manifests", "description": "From the cluster." })
    );
    assert_eq!(
        seen[2].body,
        json!({ "title": "New title", "description": "From the cluster." })
    );
}

#[tokio::test]
async fn gitlab_401_is_an_authentication_failure_and_429_is_waited_out() {
    let get = format!("{GL_PROJECT}/merge_requests/1");
    let (api, _script) = serve(vec![
        reply("GET", &get, 401, json!({ "message": "401 Unauthorized" })),
        Reply {
            headers: vec![("retry-after", "1")],
            ..reply("GET", &get, 429, json!({ "message": "Retry later" }))
        },
        reply("GET", &get, 200, gitlab_mr(1, "closed", "t")),
    ])
    .await;
    let forge = gitlab(&api);
    let error = forge.get(1).await.expect_err("401");
    assert!(
        error.is_auth() && !error.to_string().contains(TOKEN),
        "{error}"
    );
    assert_eq!(
        forge.get(1).await.expect("after 429").state,
        PullRequestState::Closed
    );
}
