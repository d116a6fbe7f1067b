//! Health endpoints: `/healthz` (the process answers), `/readyz` (it should get traffic),
//! `/metrics` (OpenMetrics text from the caller's registry). Nothing else: this router is what
//! a plain-HTTP port may serve.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use axum::{
    Router,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// The content type prometheus-client's text encoder writes.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether `/readyz` answers 200. Starts not ready; clones share one flag.
#[derive(Clone, Debug, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// From now on, ready.
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// From now on, not ready: e.g. while draining before exit, so that Service endpoints drop
    /// the pod while it still answers.
    pub fn set_not_ready(&self) {
        self.0.store(false, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

type Render = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
struct Probes {
    readiness: Readiness,
    render: Render,
}

/// `/healthz`, `/readyz` from `readiness`, and `/metrics` from `render` (called per scrape).
pub fn router<F>(readiness: Readiness, render: F) -> Router
where
    F: Fn() -> String + Send + Sync + 'static,
{
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Probes {
            readiness,
            render: Arc::new(render),
        })
}

async fn readyz(State(probes): State<Probes>) -> Response {
    if probes.readiness.is_ready() {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(probes): State<Probes>) -> Response {
    (
        [(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)],
        (probes.render)(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::{
        body::{Body, to_bytes},
        http::{Method, Request},
    };
    use tower::ServiceExt as _;

    use super::*;

    async fn call(router: &Router, method: Method, path: &str) -> (StatusCode, String, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("a request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("a body");
        (status, content_type, String::from_utf8_lossy(&body).into())
    }

    #[tokio::test]
    async fn readyz_follows_the_flag_and_metrics_come_from_the_closure() {
        let readiness = Readiness::default();
        let router = router(readiness.clone(), || "# EOF\n".to_owned());
        assert_eq!(
            call(&router, Method::GET, "/healthz").await.0,
            StatusCode::OK
        );
        assert_eq!(
            call(&router, Method::GET, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_ready();
        assert_eq!(
            call(&router, Method::GET, "/readyz").await.0,
            StatusCode::OK
        );
        readiness.set_not_ready();
        assert_eq!(
            call(&router, Method::GET, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        let (status, content_type, body) = call(&router, Method::GET, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, OPENMETRICS_CONTENT_TYPE);
        assert_eq!(body, "# EOF\n");
    }

    #[tokio::test]
    async fn nothing_else_is_served() {
        let router = router(Readiness::default(), String::new);
        for path in ["/validate", "/mutate", "/"] {
            assert_eq!(
                call(&router, Method::POST, path).await.0,
                StatusCode::NOT_FOUND,
                "{path}"
            );
        }
        assert_eq!(
            call(&router, Method::POST, "/metrics").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
