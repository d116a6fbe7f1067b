//! Starting server processes that cannot outlive the test binary.
//!
//! Each is started under `setpriv --pdeathsig KILL` by one thread that lives as long as the
//! process: PR_SET_PDEATHSIG fires when the spawning *thread* exits, and test threads end after
//! every test. [`Guarded`] also kills its process on drop, for the ordinary case.

use std::{
    io,
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command},
    sync::{Mutex, OnceLock, mpsc},
    thread,
    time::{Duration, Instant},
};

type Request = (Command, Option<PathBuf>, mpsc::Sender<io::Result<Child>>);

/// A child process killed (and reaped) on drop.
pub struct Guarded(Child);

impl Guarded {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Whether it has exited, and how.
    pub fn try_wait(&mut self) -> io::Result<Option<std::process::ExitStatus>> {
        self.0.try_wait()
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for it to exit.
    pub fn wait(&mut self) -> io::Result<std::process::ExitStatus> {
        self.0.wait()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `command` (program, arguments, environment, folder) under the spawner thread; its
/// output goes to the test's.
pub fn spawn(command: &Command) -> io::Result<Guarded> {
    spawn_logged(command, None)
}

/// As [`spawn`], with stdout and stderr appended to `log`.
pub fn spawn_logged(command: &Command, log: Option<&Path>) -> io::Result<Guarded> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Request>>> = OnceLock::new();
    let sender = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        thread::Builder::new()
            .name("gco-test-spawner".into())
            .spawn(move || {
                for (command, log, reply) in rx {
                    let _ = reply.send(spawn_now(command, log));
                }
                // The channel is static, so this thread only ends with the process.
                loop {
                    thread::park();
                }
            })
            .expect("spawn the process spawner thread");
        Mutex::new(tx)
    });
    let mut wrapped = Command::new("setpriv");
    wrapped
        .args(["--pdeathsig", "KILL", "--"])
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let (reply, receive) = mpsc::channel();
    sender
        .lock()
        .map_err(|_| io::Error::other("spawner poisoned"))?
        .send((wrapped, log.map(Path::to_path_buf), reply))
        .map_err(|_| io::Error::other("spawner thread is gone"))?;
    receive
        .recv()
        .map_err(|_| io::Error::other("spawner thread is gone"))?
        .map(Guarded)
}

fn spawn_now(mut command: Command, log: Option<PathBuf>) -> io::Result<Child> {
    if let Some(log) = log {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        command.stdout(file.try_clone()?).stderr(file);
    }
    command.stdin(std::process::Stdio::null()).spawn()
}

/// A binary of the same build as this test, `name` from package `package`: next to this
/// executable (a `[[bin]]`) or one folder up (a test binary in `deps/`). Cargo builds the
/// binaries of the tested package only, so `make test` builds every binary first.
pub fn sibling_binary(name: &str, package: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .collect();
    match candidates.iter().find(|c| c.exists()) {
        Some(binary) => Ok(binary.clone()),
        None => anyhow::bail!(
            "{name} is missing next to {}: build it with `cargo build -p {package}` \
             (make test does)",
            exe.display()
        ),
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    wait_for_addr("127.0.0.1", port, what);
}

/// Waits until something accepts connections on `host`:`port`.
pub fn wait_for_addr(host: &str, port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect((host, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {host}:{port}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}
