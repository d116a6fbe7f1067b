//! Smart HTTP(S): a small HTTP/1.1 server that runs `git http-backend` as a CGI per request,
//! with optional TLS (rustls) and basic or bearer authentication.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    thread,
};

use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::{io::AsyncWriteExt, sync::oneshot};

const HTTP_BACKEND: &str = "/usr/lib/git-core/git-http-backend";

/// Who the server lets in.
#[derive(Clone, Debug)]
pub enum Auth {
    Anonymous,
    Basic { user: String, password: String },
    Bearer(String),
}

/// A running server; stopped on drop.
pub struct GitHttpServer {
    port: u16,
    scheme: &'static str,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl GitHttpServer {
    /// Serves the bare repositories under `root`. With `tls` = (certificate PEM, key PEM), HTTPS.
    pub fn start(root: &Path, auth: Auth, tls: Option<(&str, &str)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let acceptor = tls.map(|(cert, key)| acceptor(cert, key));
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let (shutdown, stopped) = oneshot::channel();
        let root = root.to_path_buf();
        let thread = thread::Builder::new()
            .name(format!("git-http-{port}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                runtime.block_on(serve(listener, root, auth, acceptor, stopped));
            })
            .expect("server thread");
        GitHttpServer {
            port,
            scheme,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The URL of repository `name` (a folder under the root).
    pub fn url(&self, name: &str) -> String {
        format!("{}://127.0.0.1:{}/{name}", self.scheme, self.port)
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn acceptor(cert: &str, key: &str) -> tokio_rustls::TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .expect("certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key PEM");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve(
    listener: TcpListener,
    root: PathBuf,
    auth: Auth,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let shared = Arc::new((root, auth));
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        let shared = Arc::clone(&shared);
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move {
                    Ok::<_, std::convert::Infallible>(handle(request, &shared.0, &shared.1).await)
                }
            });
            match acceptor {
                Some(acceptor) => {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(tls), service)
                            .await;
                    }
                }
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

async fn handle(request: Request<Incoming>, root: &Path, auth: &Auth) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(user) = authenticate(auth, header("authorization").as_deref()) else {
        let mut response =
            Response::new(Full::new(Bytes::from_static(b"authentication required\n")));
        *response.status_mut() = StatusCode::UNAUTHORIZED;
        response.headers_mut().insert(
            "WWW-Authenticate",
            hyper::header::HeaderValue::from_static("Basic realm=\"git\""),
        );
        return response;
    };
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let content_type = header("content-type").unwrap_or_default();
    let encoding = header("content-encoding").unwrap_or_default();
    let protocol = header("git-protocol").unwrap_or_default();
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let child = tokio::process::Command::new(HTTP_BACKEND)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", encoding)
        .env("GIT_PROTOCOL", protocol)
        .env("REMOTE_USER", user)
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        return status(StatusCode::INTERNAL_SERVER_ERROR);
    };
    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
    }
    match child.wait_with_output().await {
        Ok(output) => cgi_response(&output.stdout),
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// The user name the request authenticated as, `None` if it did not.
fn authenticate(auth: &Auth, authorization: Option<&str>) -> Option<String> {
    use base64::Engine as _;
    match auth {
        Auth::Anonymous => Some("anonymous".into()),
        Auth::Basic { user, password } => {
            let encoded = authorization?.strip_prefix("Basic ")?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()?;
            let expected = format!("{user}:{password}");
            (decoded == expected.as_bytes()).then(|| user.clone())
        }
        Auth::Bearer(token) => {
            let presented = authorization?.strip_prefix("Bearer ")?;
            (presented == token).then(|| "bearer".into())
        }
    }
}

/// A CGI response (headers, blank line, body) as an HTTP response.
fn cgi_response(output: &[u8]) -> Response<Full<Bytes>> {
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| {
            output
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, p + 2))
        });
    let Some((head_end, body_start)) = split else {
        return status(StatusCode::BAD_GATEWAY);
    };
    let head = String::from_utf8_lossy(&output[..head_end]);
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(&output[body_start..])));
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().and_then(|c| c.parse().ok());
            *response.status_mut() = code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::OK);
        } else if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.trim().as_bytes()),
            hyper::header::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
