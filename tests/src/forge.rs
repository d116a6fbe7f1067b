//! A real forge for the PullRequest tests: Gitea (built by `hack/forge.sh` from the Go module
//! proxy) on 127.0.0.1 with SQLite, a pre-seeded admin, an API token and repositories.
//!
//! The REST calls here are plain HTTP/1.0 over a TCP stream: the tests crate needs no HTTP
//! client for four endpoints on loopback.

use std::{
    fs,
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use gco_api::PullRequest;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};

use crate::{
    procs::{Guarded, free_port, spawn_logged},
    scenario::{CONVERGE, Scenario},
    testenv::TEST_MANAGER,
};

/// The admin the forge is seeded with (it owns the test repositories).
pub const ADMIN: &str = "gco-admin";
const ADMIN_PASSWORD: &str = "gco-Test-passw0rd";

/// The folder holding `gitea`, built on demand (a no-op when fresh). `GCO_FORGE_BIN` points
/// elsewhere.
pub fn binaries() -> Result<PathBuf> {
    crate::go_built("hack/forge.sh", "bin/forge", "GCO_FORGE_BIN")
}

/// A running Gitea; killed on drop.
pub struct Gitea {
    _process: Guarded,
    pub port: u16,
    /// An access token of [`ADMIN`] with every scope.
    pub token: String,
    pub dir: PathBuf,
}

impl Gitea {
    /// Configures, migrates and seeds a Gitea in `dir`, and starts it.
    pub fn start(dir: &Path) -> Result<Self> {
        let bin = binaries()?;
        let gitea = bin.join("gitea");
        fs::create_dir_all(dir)?;
        let port = free_port();
        let ini = dir.join("app.ini");
        fs::write(&ini, app_ini(dir, port, &bin.join("static")))?;
        let run = |args: &[&str]| -> Result<String> {
            let out = Command::new(&gitea)
                .arg("--config")
                .arg(&ini)
                .arg("--work-path")
                .arg(dir)
                .args(args)
                .output()
                .with_context(|| format!("run gitea {}", args.join(" ")))?;
            if !out.status.success() {
                bail!(
                    "gitea {} failed: {}{}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        run(&["migrate"])?;
        run(&[
            "admin",
            "user",
            "create",
            "--username",
            ADMIN,
            "--password",
            ADMIN_PASSWORD,
            "--email",
            "gco-admin@example.com",
            "--admin",
            "--must-change-password=false",
        ])?;
        let token = run(&[
            "admin",
            "user",
            "generate-access-token",
            "-u",
            ADMIN,
            "-t",
            "gco-tests",
            "--scopes",
            "all",
            "--raw",
        ])?
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
        if token.len() < 20 {
            bail!("gitea printed no access token: {token:?}");
        }
        let mut command = Command::new(&gitea);
        command
            .arg("--config")
            .arg(&ini)
            .arg("--work-path")
            .arg(dir)
            .arg("web");
        let process = spawn_logged(&command, Some(&dir.join("gitea.log")))?;
        let server = Self {
            _process: process,
            port,
            token,
            dir: dir.to_path_buf(),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while server.call("GET", "/version", None).ok().map(|r| r.0) != Some(200) {
            if std::time::Instant::now() > deadline {
                bail!("gitea did not answer on port {port}: {}", server.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Clone URL of `repo` (no credentials).
    pub fn url(&self, repo: &str) -> String {
        format!("{}/{ADMIN}/{repo}.git", self.origin())
    }

    /// Clone URL of `repo` carrying the admin's token, for the git CLI in tests.
    pub fn authed_url(&self, repo: &str) -> String {
        format!(
            "http://{ADMIN}:{}@127.0.0.1:{}/{ADMIN}/{repo}.git",
            self.token, self.port
        )
    }

    /// Creates `repo` with an initial commit on `main`.
    pub fn create_repo(&self, repo: &str) -> Result<()> {
        let body = json!({ "name": repo, "auto_init": true, "default_branch": "main" });
        let (status, text) = self.call("POST", "/user/repos", Some(&body))?;
        if status != 201 {
            bail!("create repository {repo}: {status} {text}");
        }
        Ok(())
    }

    /// The pull requests of `repo` in `state` (`open`, `closed`, `all`), newest first, every
    /// page of them.
    pub fn pulls(&self, repo: &str, state: &str) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        for page in 1.. {
            let (status, text) = self.call(
                "GET",
                &format!("/repos/{ADMIN}/{repo}/pulls?state={state}&limit=50&page={page}"),
                None,
            )?;
            if status != 200 {
                bail!("list pull requests: {status} {text}");
            }
            let pulls: Vec<Value> = serde_json::from_str(&text)?;
            if pulls.is_empty() {
                break;
            }
            all.extend(pulls);
        }
        Ok(all)
    }

    /// Merges pull request `number` (retrying while Gitea still computes mergeability).
    pub fn merge(&self, repo: &str, number: i64) -> Result<()> {
        let path = format!("/repos/{ADMIN}/{repo}/pulls/{number}/merge");
        for _ in 0..50 {
            let (status, text) = self.call("POST", &path, Some(&json!({ "Do": "merge" })))?;
            match status {
                200 | 204 => return Ok(()),
                405 | 409 => std::thread::sleep(Duration::from_millis(200)),
                _ => bail!("merge #{number}: {status} {text}"),
            }
        }
        bail!("merge #{number}: still not mergeable")
    }

    /// Tip of `branch` in `repo`, `None` if absent.
    pub fn branch_tip(&self, repo: &str, branch: &str) -> Result<Option<String>> {
        let (status, text) = self.call(
            "GET",
            &format!("/repos/{ADMIN}/{repo}/branches/{branch}"),
            None,
        )?;
        match status {
            200 => Ok(serde_json::from_str::<Value>(&text)?["commit"]["id"]
                .as_str()
                .map(str::to_owned)),
            404 => Ok(None),
            _ => bail!("get branch {branch}: {status} {text}"),
        }
    }

    /// Content of `path` on `branch` of `repo`, `None` if absent.
    pub fn file(&self, repo: &str, branch: &str, path: &str) -> Result<Option<String>> {
        let (status, text) = self.call(
            "GET",
            &format!("/repos/{ADMIN}/{repo}/raw/{path}?ref={branch}"),
            None,
        )?;
        match status {
            200 => Ok(Some(text)),
            404 => Ok(None),
            _ => bail!("get {path}@{branch}: {status} {text}"),
        }
    }

    /// The server log, for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("gitea.log")).unwrap_or_default()
    }

    /// One API call (`/api/v1` + `path`) as the admin: `(status, body)`.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} /api/v1{path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nAuthorization: token {}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            self.token,
            body.len()
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.write_all(request.as_bytes())?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let response = String::from_utf8_lossy(&response);
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no HTTP status")?;
        Ok((status, body.to_owned()))
    }
}

// PullRequest scenarios: a Gitea beside the usual scenario, and waits on PullRequest objects.

/// A scenario, a Gitea with repository `repo`, and the auth Secret `forge-token`.
pub async fn world(prefix: &str, repo: &str) -> (Scenario, Gitea) {
    let s = Scenario::new(prefix).await.expect("scenario");
    let gitea = Gitea::start(&s.work.join("gitea")).expect("gitea");
    gitea.create_repo(repo).expect("repository");
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "forge-token" },
        "stringData": { "token": gitea.token }
    });
    Api::<Secret>::namespaced(s.client.clone(), &s.namespace)
        .patch(
            "forge-token",
            &PatchParams::apply(TEST_MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .expect("secret");
    (s, gitea)
}

pub fn pull_request(name: &str, url: &str, spec: Value) -> Value {
    let mut object = json!({
        "apiVersion": "gco.galos.one/v1", "kind": "PullRequest",
        "metadata": { "name": name },
        "spec": {
            "repository": { "url": url, "baseBranch": "main", "provider": "gitea" },
            "auth": { "secretName": "forge-token" },
            "pullRequest": { "title": "Sync config", "body": "From the cluster." },
        }
    });
    if let Some(fields) = spec.as_object() {
        for (key, value) in fields {
            object["spec"][key] = value.clone();
        }
    }
    object
}

pub fn prs(s: &Scenario) -> Api<PullRequest> {
    Api::namespaced(s.client.clone(), &s.namespace)
}

pub async fn create(s: &Scenario, mut object: Value) {
    object["metadata"]["namespace"] = json!(s.namespace);
    let object: PullRequest = serde_json::from_value(object).expect("PullRequest");
    prs(s)
        .create(&PostParams::default(), &object)
        .await
        .expect("create");
}

/// Waits until `check` holds; panics with the status, the controller and the forge logs.
pub async fn wait(
    s: &Scenario,
    gitea: &Gitea,
    name: &str,
    what: &str,
    check: impl Fn(&PullRequest) -> bool,
) -> PullRequest {
    let deadline = tokio::time::Instant::now() + CONVERGE;
    loop {
        let object = prs(s).get(name).await.expect("get");
        if check(&object) {
            return object;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "PullRequest {name}: not {what} within {CONVERGE:?}; status: {}\ncontroller:\n{}\ngitea:\n{}",
                serde_json::to_string_pretty(&object.status).unwrap_or_default(),
                s.logs(),
                gitea.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub fn ready(object: &PullRequest) -> Option<(String, String)> {
    let status = object.status.as_ref()?;
    if status.export.observed_generation != object.metadata.generation {
        return None;
    }
    status
        .export
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status.clone(), c.reason.clone()))
}

pub fn is_ready(object: &PullRequest, status: &str, reason: &str) -> bool {
    ready(object).is_some_and(|(s, r)| s == status && r == reason)
}

pub fn number(object: &PullRequest) -> Option<i64> {
    object.status.as_ref().and_then(|s| s.pull_request_number)
}

pub fn head_sha(object: &PullRequest) -> Option<String> {
    object.status.as_ref().and_then(|s| s.head_sha.clone())
}

/// The events with `reason` once there are at least `count` (events are recorded just after
/// the status write, so a test that saw the status may be a moment early).
pub async fn wait_events(
    s: &Scenario,
    reason: &str,
    count: usize,
) -> Vec<k8s_openapi::api::events::v1::Event> {
    s.events_at_least(reason, count).await
}

/// A minimal headless configuration: SQLite, loopback only, no mail, no cron, no actions.
fn app_ini(dir: &Path, port: u16, static_root: &Path) -> String {
    let dir = dir.display();
    let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
    format!(
        r#"; Tests run as whatever user the machine gives them, root included.
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
RUN_USER = {user}
WORK_PATH = {dir}
[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {port}
ROOT_URL = http://127.0.0.1:{port}/
DISABLE_SSH = true
; Gitea rewrites $HOME/.ssh/authorized_keys at start unless told not to: instances started at
; once by tests in one binary raced on that one file.
SSH_CREATE_AUTHORIZED_KEYS_FILE = false
SSH_ROOT_PATH = {dir}/ssh
OFFLINE_MODE = true
STATIC_ROOT_PATH = {static_root}
APP_DATA_PATH = {dir}/data
LFS_START_SERVER = false
[database]
DB_TYPE = sqlite3
PATH = {dir}/data/gitea.db
[repository]
ROOT = {dir}/repos
DEFAULT_BRANCH = main
[security]
INSTALL_LOCK = true
SECRET_KEY = gco-tests-only-secret-key
INTERNAL_TOKEN = eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYmYiOjE3MDAwMDAwMDB9.gco-tests
[oauth2]
ENABLED = false
[actions]
ENABLED = false
[log]
MODE = console
LEVEL = warn
ROOT_PATH = {dir}/log
[indexer]
REPO_INDEXER_ENABLED = false
[cron]
ENABLED = false
[mailer]
ENABLED = false
[service]
DISABLE_REGISTRATION = true
"#,
        static_root = static_root.display()
    )
}
