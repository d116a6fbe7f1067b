//! `gco-webhook`: the admission webhook binary. All flags live in [`gco_webhook::Args`].
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // kube's rustls uses ring; with any second provider compiled in, rustls would panic
    // building a config, so ring is made the process default before anything else.
    let _ = rustls::crypto::ring::default_provider().install_default();
    gco_webhook::Args::parse_and_run().await
}
