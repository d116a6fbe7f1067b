//! `sshd` on a free port, run as the current user with a private config, a generated host
//! key and one authorized client key.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use crate::procs::{Guarded, free_port, spawn, wait_for_port};

/// A running sshd; stopped on drop.
pub struct SshServer {
    port: u16,
    user: String,
    /// The `known_hosts` line for this server.
    pub known_hosts: String,
    /// The client's private key (OpenSSH format), authorized on the server.
    pub identity: String,
    _process: Guarded,
}

impl SshServer {
    /// Starts sshd with its files in `dir`.
    pub fn start(dir: &Path) -> Self {
        let host_key = keygen(dir, "host_key");
        let client_key = keygen(dir, "client_key");
        fs::write(
            dir.join("authorized_keys"),
            read(&client_key.with_extension("pub")),
        )
        .expect("authorized_keys");
        let port = free_port();
        let config = dir.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nPidFile {pid}\nAuthorizedKeysFile {keys}\n\
                 UsePAM no\nStrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nLogLevel ERROR\n",
                host = host_key.display(),
                pid = dir.join("sshd.pid").display(),
                keys = dir.join("authorized_keys").display(),
            ),
        )
        .expect("sshd_config");
        // sshd refuses to start as root without its privilege separation folder.
        let _ = fs::create_dir_all("/run/sshd");
        let mut command = Command::new("/usr/sbin/sshd");
        command.arg("-D").arg("-e").arg("-f").arg(&config);
        let process = spawn(&command).expect("start sshd");
        wait_for_port(port, "sshd");
        let host_pub = read(&host_key.with_extension("pub"));
        let mut fields = host_pub.split_whitespace();
        let (kind, key) = (
            fields.next().unwrap_or_default(),
            fields.next().unwrap_or_default(),
        );
        SshServer {
            port,
            user: whoami(),
            known_hosts: format!("[127.0.0.1]:{port} {kind} {key}\n"),
            identity: read(&client_key),
            _process: process,
        }
    }

    /// The ssh URL of the bare repository at `path`.
    pub fn url(&self, path: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            path.display()
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

/// A new ed25519 key pair `<dir>/<name>` (+ `.pub`), no passphrase.
pub fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "gco-test", "-f"])
        .arg(&path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success(), "ssh-keygen failed");
    path
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn whoami() -> String {
    let output = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}
