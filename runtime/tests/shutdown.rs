//! `Shutdown` wakes on SIGTERM and on SIGINT, and can be waited on again after a wake. The
//! signals go to this test process itself: once `Shutdown::listen` has registered tokio's
//! handlers, neither signal ends the process.

use std::{process::Command, time::Duration};

use gco_runtime::Shutdown;

fn send(signal: &str) {
    let status = Command::new("kill")
        .args([signal, &std::process::id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {signal} failed");
}

#[tokio::test]
async fn wakes_on_each_stop_signal_and_again() {
    let mut shutdown = Shutdown::listen().expect("signal handlers");
    let idle = tokio::time::timeout(Duration::from_millis(200), shutdown.wait()).await;
    assert!(idle.is_err(), "woke without a signal");
    for signal in ["-TERM", "-INT", "-TERM"] {
        send(signal);
        tokio::time::timeout(Duration::from_secs(5), shutdown.wait())
            .await
            .unwrap_or_else(|_| panic!("{signal} did not wake the wait"));
    }
}
