//! Waiting for the process to be told to stop: SIGTERM (what Kubernetes sends) or SIGINT
//! (Ctrl-C at a terminal).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Both stop signals, registered once. Registering at startup rather than at the first wait
/// means a signal that arrives early is not lost: it is delivered to the next [`wait`].
///
/// [`wait`]: Shutdown::wait
#[derive(Debug)]
pub struct Shutdown {
    terminate: Signal,
    interrupt: Signal,
}

impl Shutdown {
    /// Registers the handlers; fails only if the runtime has no signal driver.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves at the next SIGTERM or SIGINT. Cancel-safe, so it can sit in a `select!` that
    /// runs many times; each call waits for a signal of its own.
    pub async fn wait(&mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
    }
}
