//! Every way a command can fail, each with what to do next. Nothing here ever holds a
//! credential: URLs are redacted before they reach an error, and Secret contents never do.

use gco_controller::render::offline::PreviewError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot load the kubeconfig: {0}; pass --kubeconfig FILE or set KUBECONFIG")]
    Kubeconfig(String),
    #[error("{what}: {source}{}", hint_for(source))]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    #[error("{kind} {namespace}/{name} not found; list what exists with `kubectl gco get {kind_lower} -n {namespace}`", kind_lower = kind.to_lowercase())]
    NotFound {
        kind: String,
        namespace: String,
        name: String,
    },
    #[error(transparent)]
    Render(#[from] PreviewError),
    #[error("{what}: {reason}")]
    Git { what: String, reason: String },
    #[error("cannot {what}: {reason}")]
    Io { what: String, reason: String },
    #[error("{0}")]
    Failed(String),
    #[error(
        "{what} did not finish within {timeout}; it is still running (see `kubectl gco events {target}`), or wait longer with --timeout"
    )]
    Timeout {
        what: String,
        target: String,
        timeout: String,
    },
}

impl CliError {
    /// A failed API call, named by what it was for.
    pub fn kube(what: impl Into<String>, source: kube::Error) -> Self {
        CliError::Kube {
            what: what.into(),
            source,
        }
    }
}

/// What to do about an API error, from its status code.
fn hint_for(error: &kube::Error) -> &'static str {
    match error {
        kube::Error::Api(status) if status.code == 403 => {
            "; your identity may not do this: ask a cluster admin for the verb on that resource \
             (`kubectl auth can-i` tells), or use --context for another identity"
        }
        kube::Error::Api(status) if status.code == 404 => {
            "; check the name and namespace (-n), or that the CRDs are installed"
        }
        kube::Error::Api(_) => "",
        _ => "; check that the cluster is reachable with this kubeconfig and context",
    }
}
