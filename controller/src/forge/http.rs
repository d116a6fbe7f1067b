//! One forge REST API: authentication, JSON, and waiting out rate limits (GitHub's primary
//! and secondary limits, GitLab's and Gitea's 429s) the way their docs ask.

use std::time::Duration;

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family},
};
use reqwest::{
    Method, StatusCode,
    header::{HeaderMap, HeaderName, HeaderValue},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::info;

use super::ForgeError;

/// Redirects followed within the forge's own origin.
const MAX_REDIRECTS: usize = 5;
/// The most of an answer that is read: the largest page the clients ask for is far smaller,
/// and a host that streams more must not grow the operator's memory.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// The answer's body, at most [`MAX_ANSWER_BYTES`] of it (a longer one is cut, and then fails
/// to decode as JSON, which callers report).
async fn read_capped(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_ANSWER_BYTES {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The longest wait a rate limit may impose inside one reconcile; a longer one becomes
/// [`ForgeError::RateLimited`] and the reconciler requeues after it instead.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// Attempts per request: rate limits and 5xx answers are retried, nothing else.
const MAX_ATTEMPTS: u32 = 3;
/// GitHub: a secondary rate limit without `Retry-After` means "wait at least one minute".
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);
const TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("git-change-operator/", env!("CARGO_PKG_VERSION"));

/// A forge's REST API at `base`, authenticated by a header that never appears in any output.
pub struct Api {
    client: reqwest::Client,
    base: String,
    provider: &'static str,
    /// Where every request sent is counted, when the caller asked for it.
    requests: Option<ForgeRequests>,
}

/// `gco_forge_requests_total`: requests sent to forges' APIs, retries included.
pub type ForgeRequests = Family<ForgeRequestLabels, Counter>;

/// A request's forge and what it was for.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ForgeRequestLabels {
    pub provider: String,
    pub operation: String,
}

/// A finished exchange: the status and the body the caller still has to interpret.
pub struct Answer {
    pub status: StatusCode,
    pub body: String,
}

impl Api {
    /// `auth` is the header that carries the token (marked sensitive, so no `Debug` shows it).
    pub fn new(
        provider: &'static str,
        base: &str,
        auth: Option<(HeaderName, String)>,
        extra: &[(HeaderName, &'static str)],
    ) -> Result<Self, ForgeError> {
        let mut headers = HeaderMap::new();
        for (name, value) in extra {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
        if let Some((name, value)) = auth {
            let mut value =
                HeaderValue::from_str(&value).map_err(|_| ForgeError::Unauthorized {
                    provider,
                    api: base.to_owned(),
                    status: 0,
                })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        // reqwest panics without a process-wide rustls provider; `main` installs ring, and so
        // does this for any other caller (tests, tools), since ring is the only one linked.
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(USER_AGENT)
            .timeout(TIMEOUT)
            // A forge may move an API path on its own origin; another origin is refused, so
            // nothing is requested of, or relayed from, a host the spec did not name.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                let first = attempt.previous().first();
                let same_origin = first.is_some_and(|first| {
                    first.scheme() == attempt.url().scheme()
                        && first.host_str() == attempt.url().host_str()
                        && first.port_or_known_default() == attempt.url().port_or_known_default()
                });
                if same_origin && attempt.previous().len() < MAX_REDIRECTS {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(|e| ForgeError::Network {
                provider,
                api: base.to_owned(),
                detail: e.to_string(),
            })?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_owned(),
            provider,
            requests: None,
        })
    }

    /// Counts every request from now on in `requests`.
    pub fn count_in(&mut self, requests: ForgeRequests) {
        self.requests = Some(requests);
    }

    /// Sends `method path` with an optional JSON body. Rate limits are waited out (up to
    /// [`MAX_WAIT`]) and 5xx answers retried; 401/403 become [`ForgeError::Unauthorized`];
    /// every other status is returned for the caller to interpret.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        operation: &str,
        body: Option<&Value>,
    ) -> Result<Answer, ForgeError> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.request(method.clone(), &url);
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(requests) = &self.requests {
                requests
                    .get_or_create(&ForgeRequestLabels {
                        provider: self.provider.to_owned(),
                        operation: operation.to_owned(),
                    })
                    .inc();
            }
            let response = request.send().await.map_err(|e| ForgeError::Network {
                provider: self.provider,
                api: self.base.clone(),
                detail: e.without_url().to_string(),
            })?;
            let status = response.status();
            let headers = response.headers().clone();
            let text = read_capped(response).await;
            if let Some(wait) = rate_limit_wait(status, &headers, &text) {
                if attempt < MAX_ATTEMPTS && wait <= MAX_WAIT {
                    info!(provider = self.provider, %operation, wait_secs = wait.as_secs(), "forge rate limit: waiting");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                return Err(ForgeError::RateLimited {
                    provider: self.provider,
                    retry_after_secs: wait.as_secs().max(1),
                });
            }
            if status.is_server_error() && attempt < MAX_ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                continue;
            }
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                return Err(ForgeError::Unauthorized {
                    provider: self.provider,
                    api: self.base.clone(),
                    status: status.as_u16(),
                });
            }
            return Ok(Answer { status, body: text });
        }
    }

    /// Sends a request whose answer is a `T` (200, or 201 as Gitea answers some edits); 404
    /// becomes [`ForgeError::NotFound`] naming `missing`.
    pub async fn fetch<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        operation: &str,
        body: Option<&Value>,
        missing: &str,
    ) -> Result<T, ForgeError> {
        self.fetch_opt(method, path, operation, body)
            .await?
            .ok_or_else(|| self.not_found(missing))
    }

    /// As [`fetch`](Self::fetch), with 404 as `None`.
    pub async fn fetch_opt<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        operation: &str,
        body: Option<&Value>,
    ) -> Result<Option<T>, ForgeError> {
        let answer = self.send(method, path, operation, body).await?;
        match answer.status {
            StatusCode::OK | StatusCode::CREATED => self.decode(operation, &answer).map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.unexpected(operation, &answer)),
        }
    }

    /// The error for an answer the caller did not expect.
    pub fn unexpected(&self, operation: &str, answer: &Answer) -> ForgeError {
        ForgeError::Http {
            provider: self.provider,
            operation: operation.to_owned(),
            status: answer.status.as_u16(),
            detail: message_of(&answer.body),
        }
    }

    /// Decodes an answer's JSON body.
    pub fn decode<T: DeserializeOwned>(
        &self,
        operation: &str,
        answer: &Answer,
    ) -> Result<T, ForgeError> {
        serde_json::from_str(&answer.body).map_err(|e| ForgeError::InvalidResponse {
            provider: self.provider,
            operation: operation.to_owned(),
            detail: e.to_string(),
        })
    }

    pub fn not_found(&self, what: impl Into<String>) -> ForgeError {
        ForgeError::NotFound {
            provider: self.provider,
            api: self.base.clone(),
            what: what.into(),
        }
    }
}

/// How long a rate-limited answer asks us to wait; `None` if it is not a rate limit.
fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, body: &str) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    let limited = status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::FORBIDDEN
            && (retry_after.is_some()
                || exhausted
                || body.to_ascii_lowercase().contains("rate limit")));
    if !limited {
        return None;
    }
    if let Some(secs) = retry_after {
        return Some(Duration::from_secs(secs));
    }
    if exhausted
        && let Some(reset) = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok())
    {
        let now = jiff::Timestamp::now().as_second();
        return Some(Duration::from_secs(
            u64::try_from(reset - now).unwrap_or(0).max(1),
        ));
    }
    Some(SECONDARY_LIMIT_WAIT)
}

/// The human part of an error body (`message` on GitHub/Gitea, `message`/`error` on GitLab),
/// short and printable. Only that field of a JSON answer is kept, never the body itself: an
/// error ends in the object's status, and the answer may come from a host the operator should
/// not relay (docs/security.md).
pub fn message_of(body: &str) -> String {
    let Some(text) = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        let field = v.get("message").or_else(|| v.get("error"))?;
        Some(match field {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }) else {
        return "(the answer carried no JSON error message)".to_owned();
    };
    let printable = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    let mut short: String = printable.clone().take(MESSAGE_CHARS).collect();
    if printable.count() > MESSAGE_CHARS {
        short.push('…');
    }
    short
}

/// The most characters of a forge's error message that reach a status.
const MESSAGE_CHARS: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_are_recognised() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(StatusCode::FORBIDDEN, &h, "{}"), None);
        assert_eq!(
            rate_limit_wait(
                StatusCode::FORBIDDEN,
                &h,
                r#"{"message":"You have exceeded a secondary rate limit"}"#
            ),
            Some(SECONDARY_LIMIT_WAIT)
        );
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(
            rate_limit_wait(StatusCode::FORBIDDEN, &h, ""),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &h, ""),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn messages_are_short() {
        assert_eq!(
            message_of(r#"{"message":"Validation Failed"}"#),
            "Validation Failed"
        );
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(400));
        assert_eq!(message_of(&long).chars().count(), 201);
        assert_eq!(
            message_of("<html>internal admin page: secret=42</html>"),
            "(the answer carried no JSON error message)"
        );
        assert_eq!(message_of(r#"{"message":"a\nb"}"#), "a b");
    }

    /// A server on `ip` answering every request with `answer`, counting the requests.
    async fn server(
        ip: &str,
        answer: impl Fn() -> axum::response::Response + Clone + Send + Sync + 'static,
    ) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        };
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let app = axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            async move { answer() }
        });
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (format!("http://{addr}"), hits)
    }

    fn api(base: &str) -> Api {
        let auth = (
            reqwest::header::AUTHORIZATION,
            "token secret-token".to_owned(),
        );
        Api::new("gitea", base, Some(auth), &[]).expect("api")
    }

    #[tokio::test]
    async fn a_redirect_to_another_origin_is_not_followed() {
        use axum::response::IntoResponse;
        use std::sync::atomic::Ordering;
        let (elsewhere, hits) = server("127.0.0.2", || "{}".into_response()).await;
        let location = format!("{elsewhere}/stolen");
        let (forge, _) = server("127.0.0.1", move || {
            (StatusCode::FOUND, [("location", location.clone())], "").into_response()
        })
        .await;
        let answer = api(&forge)
            .send(Method::GET, "/repos/o/r", "get", None)
            .await
            .expect("an answer");
        assert_eq!(answer.status, StatusCode::FOUND);
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "nothing reached the other origin"
        );
    }

    #[tokio::test]
    async fn an_endless_answer_is_read_only_up_to_the_cap() {
        use axum::response::IntoResponse;
        let huge = "x".repeat(MAX_ANSWER_BYTES + 1024);
        let (forge, _) = server("127.0.0.1", move || huge.clone().into_response()).await;
        let answer = api(&forge)
            .send(Method::GET, "/repos/o/r", "get", None)
            .await
            .expect("an answer");
        assert_eq!(answer.body.len(), MAX_ANSWER_BYTES);
    }
}
