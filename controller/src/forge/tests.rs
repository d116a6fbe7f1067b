//! The forge clients against a scripted local server: Gitea's flavour of the GitHub dialect,
//! percent-encoded paths for hostile branch names, and what `open_or_update` decides.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use gco_api::{ForgeProvider, PullRequestRepository, PullRequestState};
use serde_json::{Value, json};

use super::{Forge, ForgeError, Proposal, Proposed};

const TOKEN: &str = "gitea_unitTestToken0123456789";

/// `(method, path?query)` → `(status, body)`, each answered once, in any order; anything
/// unscripted gets a 599.
type Replies = Arc<Mutex<VecDeque<(&'static str, String, u16, Value)>>>;

/// `(method, path?query, authorization, body)` of every request.
type Seen = Arc<Mutex<Vec<(String, String, String, Value)>>>;

async fn answer(
    State((replies, seen)): State<(Replies, Seen)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    seen.lock()
        .expect("lock")
        .push((method.to_string(), target.clone(), auth, body));
    let mut replies = replies.lock().expect("lock");
    let found = replies
        .iter()
        .position(|(m, t, _, _)| *m == method.as_str() && *t == target)
        .and_then(|i| replies.remove(i));
    match found {
        Some((_, _, status, body)) => (
            StatusCode::from_u16(status).expect("status"),
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response(),
        None => (
            StatusCode::from_u16(599).expect("status"),
            format!("unscripted {method} {target}"),
        )
            .into_response(),
    }
}

/// A server answering `replies`, and a forge client for `url` pointed at it.
async fn forge(
    provider: ForgeProvider,
    url: &str,
    replies: Vec<(&'static str, &str, u16, Value)>,
) -> (Forge, Seen) {
    let replies: Replies = Arc::new(Mutex::new(
        replies
            .into_iter()
            .map(|(m, t, s, b)| (m, t.to_owned(), s, b))
            .collect(),
    ));
    let seen = Seen::default();
    let app = Router::new()
        .fallback(answer)
        .with_state((replies, Arc::clone(&seen)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let repository = PullRequestRepository {
        url: url.to_owned(),
        base_branch: Some("main".into()),
        provider: Some(provider),
        api_url: Some(format!("http://{addr}/api/v1")),
    };
    let forge = Forge::for_repository(&repository, Some(TOKEN)).expect("forge");
    (forge, seen)
}

/// A Gitea pull request, as its list and get endpoints answer.
fn gitea_pull(number: i64, head: &str, title: &str, body: &str) -> Value {
    json!({
        "id": 100 + number, "number": number, "state": "open", "title": title, "body": body,
        "html_url": format!("http://gitea.local/admin/gitops/pulls/{number}"),
        "merged": false, "merged_at": null,
        "head": { "ref": head, "sha": "1111111111111111111111111111111111111111" },
        "base": { "ref": "main", "sha": "2222222222222222222222222222222222222222" }
    })
}

fn proposal(title: &str, body: &str) -> Proposal {
    Proposal {
        head: "gco/team-sync".into(),
        base: "main".into(),
        title: title.into(),
        body: body.into(),
    }
}

const PULLS: &str = "/api/v1/repos/admin/gitops/pulls";

#[tokio::test]
async fn gitea_scans_open_pulls_page_by_page_and_takes_409_as_already_open() {
    let page = |n: usize| format!("{PULLS}?state=open&limit=50&page={n}");
    let full: Vec<Value> = (1..=50).map(|n| gitea_pull(n, "other", "x", "")).collect();
    let (forge, seen) = forge(
        ForgeProvider::Gitea,
        "http://gitea.local/admin/gitops.git",
        vec![
            ("GET", &page(1), 200, Value::Array(full)),
            ("GET", &page(2), 200, json!([])),
            (
                "POST",
                PULLS,
                409,
                json!({ "message": "pull request already exists for these targets" }),
            ),
            (
                "GET",
                &page(1),
                200,
                json!([gitea_pull(51, "gco/team-sync", "Sync", "")]),
            ),
        ],
    )
    .await;
    assert_eq!(forge.name(), "gitea");
    assert_eq!(
        forge
            .find_open("gco/team-sync", "main")
            .await
            .expect("scan"),
        None
    );
    let found = forge
        .create(&proposal("Sync", ""))
        .await
        .expect("409 → the open one");
    assert_eq!((found.number, found.state), (51, PullRequestState::Open));
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 4, "{seen:#?}");
    assert!(
        seen.iter()
            .all(|(_, _, auth, _)| *auth == format!("token {TOKEN}"))
    );
    assert_eq!(
        seen[2].3,
        json!({ "title": "Sync", "head": "gco/team-sync", "base": "main", "body": "" })
    );
}

#[tokio::test]
async fn gitea_branches_are_one_encoded_segment_with_their_tip_in_commit_id() {
    let branches = "/api/v1/repos/admin/gitops/branches";
    let (forge, seen) = forge(
        ForgeProvider::Gitea,
        "http://gitea.local/admin/gitops.git",
        vec![
            (
                "GET",
                &format!("{branches}/gco%2Fteam-sync"),
                200,
                json!({ "name": "gco/team-sync", "commit": { "id": "abc123", "message": "m" } }),
            ),
            (
                "GET",
                &format!("{branches}/%252e%252e"),
                404,
                json!({ "message": "not found" }),
            ),
            (
                "DELETE",
                &format!("{branches}/..%2F..%2Fx"),
                204,
                Value::Null,
            ),
            ("DELETE", &format!("{branches}/a%3Fb%23c"), 404, Value::Null),
        ],
    )
    .await;
    let tip = forge.branch_tip("gco/team-sync").await.expect("tip");
    assert_eq!(tip.as_deref(), Some("abc123"));
    assert_eq!(forge.branch_tip("%2e%2e").await.expect("absent"), None);
    forge.delete_branch("../../x").await.expect("delete");
    forge.delete_branch("a?b#c").await.expect("already gone");
    let error = forge.delete_branch("..").await.expect_err("dot segment");
    assert!(matches!(error, ForgeError::InvalidBranch { .. }), "{error}");
    assert_eq!(
        seen.lock().expect("lock").len(),
        4,
        "`..` never reaches the forge"
    );
}

#[tokio::test]
async fn open_or_update_opens_updates_or_leaves_alone() {
    let list = format!("{PULLS}?state=open&limit=50&page=1");
    let open = gitea_pull(7, "gco/team-sync", "Sync", "Body\n");
    let (forge, seen) = forge(
        ForgeProvider::Gitea,
        "http://gitea.local/admin/gitops.git",
        vec![
            ("GET", &list, 200, json!([])),
            (
                "POST",
                PULLS,
                201,
                gitea_pull(7, "gco/team-sync", "Sync", "Body"),
            ),
            ("GET", &list, 200, json!([open.clone()])),
            ("GET", &list, 200, json!([open.clone()])),
            ("GET", &list, 200, json!([open])),
            (
                "PATCH",
                &format!("{PULLS}/7"),
                201,
                gitea_pull(7, "gco/team-sync", "New", "Body"),
            ),
        ],
    )
    .await;
    let decide = |title: &'static str, pushed| {
        let forge = &forge;
        async move {
            let (pr, proposed) = forge
                .open_or_update(&proposal(title, "Body"), pushed)
                .await
                .expect("open or update");
            (pr.number, pr.title, proposed)
        }
    };
    assert_eq!(
        decide("Sync", false).await,
        (7, "Sync".into(), Proposed::Opened)
    );
    // Only whitespace around the body differs: nothing to edit.
    assert_eq!(
        decide("Sync", false).await,
        (7, "Sync".into(), Proposed::Unchanged)
    );
    assert_eq!(
        decide("Sync", true).await,
        (7, "Sync".into(), Proposed::Updated)
    );
    assert_eq!(
        decide("New", false).await,
        (7, "New".into(), Proposed::Updated)
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 6, "{seen:#?}");
    assert_eq!(seen[5].3, json!({ "title": "New", "body": "Body" }));
}

#[tokio::test]
async fn github_and_gitea_repositories_are_owner_and_name() {
    for provider in [ForgeProvider::Github, ForgeProvider::Gitea] {
        let repository = PullRequestRepository {
            url: "https://git.example.com/group/sub/repo.git".into(),
            base_branch: Some("main".into()),
            provider: Some(provider),
            api_url: None,
        };
        let error = Forge::for_repository(&repository, None)
            .err()
            .expect("refused");
        assert!(error.is_permanent(), "{error}");
        assert!(error.to_string().contains("<owner>/<name>"), "{error}");
    }
    let gitlab = PullRequestRepository {
        url: "git@gitlab.com:group/sub/repo.git".into(),
        base_branch: Some("main".into()),
        provider: None,
        api_url: None,
    };
    assert_eq!(
        Forge::for_repository(&gitlab, None).expect("gitlab").name(),
        "gitlab"
    );
}
