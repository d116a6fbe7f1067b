//! Signing keys made with the real tools, and `git verify-commit` with each format: an OpenPGP
//! key from `gpg` (batch mode, in a keyring of its own), and an SSH key from `ssh-keygen`.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use anyhow::{Context as _, Result, bail};
use tempfile::TempDir;

/// A gpg keyring in a folder of its own (`GNUPGHOME`), and its agent, stopped on drop.
pub struct Keyring {
    home: TempDir,
}

/// An OpenPGP key made in a [`Keyring`]: its fingerprint and its armored secret key, as a
/// Flux image-automation Secret holds it under `git.asc`.
pub struct OpenPgpKey {
    pub fingerprint: String,
    pub armored: String,
}

impl Keyring {
    pub fn new() -> Result<Self> {
        // Short: the agent's socket path must fit in 108 bytes.
        let home = tempfile::Builder::new()
            .prefix("gpg")
            .tempdir_in("/tmp")
            .context("a GNUPGHOME")?;
        let mut permissions = fs::metadata(home.path())?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o700);
        fs::set_permissions(home.path(), permissions)?;
        Ok(Self { home })
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `gpg` in batch mode against this keyring, passphrases given on the command line.
    pub fn gpg(&self) -> Command {
        let mut command = Command::new("gpg");
        command.env("GNUPGHOME", self.home()).args([
            "--batch",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
        ]);
        command
    }

    /// A new ed25519 key for `user` (`Name <email>`) that can sign, locked with `passphrase`
    /// (none: unencrypted); with `signing_subkey`, it also gets a signing subkey, which is
    /// what signs (gpg and Flux pick the newest one).
    pub fn generate(
        &self,
        user: &str,
        passphrase: Option<&str>,
        signing_subkey: bool,
    ) -> Result<OpenPgpKey> {
        let passphrase = passphrase.unwrap_or_default();
        run(self.gpg().args([
            "--passphrase",
            passphrase,
            "--quick-generate-key",
            user,
            "ed25519",
            "sign",
            "never",
        ]))?;
        let listing = run(self
            .gpg()
            .args(["--with-colons", "--list-secret-keys", user]))?;
        let fingerprint = listing
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|field| !field.is_empty()))
            .context("the new key's fingerprint")?
            .to_owned();
        if signing_subkey {
            run(self.gpg().args([
                "--passphrase",
                passphrase,
                "--quick-add-key",
                &fingerprint,
                "ed25519",
                "sign",
                "never",
            ]))?;
        }
        let armored = run(self.gpg().args([
            "--passphrase",
            passphrase,
            "--armor",
            "--export-secret-keys",
            &fingerprint,
        ]))?;
        Ok(OpenPgpKey {
            fingerprint,
            armored,
        })
    }

    /// `git verify-commit` of `commit` in `repo` against this keyring.
    pub fn verify_commit(&self, repo: &Path, commit: &str) -> Output {
        let mut command = git_command(repo);
        command.env("GNUPGHOME", self.home()).args([
            "-c",
            "gpg.format=openpgp",
            "verify-commit",
            "--raw",
            commit,
        ]);
        output(command)
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// An SSH key made by `ssh-keygen`, and the allowed-signers file git verifies it with.
pub struct SshKey {
    _dir: TempDir,
    /// The OpenSSH private key, as a Secret holds it under `identity`.
    pub private: String,
    /// `ssh-ed25519 AAAA… comment`.
    pub public: String,
    pub allowed_signers: PathBuf,
}

impl SshKey {
    /// A new ed25519 key for `email`, encrypted with `passphrase` (none: unencrypted).
    pub fn generate(email: &str, passphrase: Option<&str>) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("id_ed25519");
        run(Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-C", email, "-N"])
            .arg(passphrase.unwrap_or_default())
            .arg("-f")
            .arg(&path))?;
        let private = fs::read_to_string(&path)?;
        let public = fs::read_to_string(path.with_extension("pub"))?
            .trim()
            .to_owned();
        let allowed_signers = dir.path().join("allowed_signers");
        fs::write(&allowed_signers, format!("{email} {public}\n"))?;
        Ok(Self {
            _dir: dir,
            private,
            public,
            allowed_signers,
        })
    }

    /// `git verify-commit` of `commit` in `repo` with `gpg.format=ssh` and this key as the one
    /// allowed signer.
    pub fn verify_commit(&self, repo: &Path, commit: &str) -> Output {
        let mut command = git_command(repo);
        command
            .args(["-c", "gpg.format=ssh", "-c"])
            .arg(format!(
                "gpg.ssh.allowedSignersFile={}",
                self.allowed_signers.display()
            ))
            .args(["verify-commit", "--raw", commit]);
        output(command)
    }
}

/// The `gpgsig` header of `commit` in `repo`, if it has one: its first line tells the format.
pub fn signature_of(repo: &Path, commit: &str) -> Option<String> {
    let object = crate::git::git(repo, &["cat-file", "commit", commit]);
    let mut lines = object
        .lines()
        .skip_while(|line| !line.starts_with("gpgsig "));
    let first = lines.next()?.strip_prefix("gpgsig ")?.to_owned();
    let rest: Vec<&str> = lines.map_while(|line| line.strip_prefix(' ')).collect();
    Some(
        std::iter::once(first.as_str())
            .chain(rest)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Whether `output` is a successful verification, with what it printed otherwise.
pub fn verified(output: &Output) -> Result<()> {
    if output.status.success() {
        return Ok(());
    }
    bail!(
        "verify-commit failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn git_command(repo: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .arg("--git-dir")
        .arg(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    command
}

fn output(mut command: Command) -> Output {
    command
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"))
}

fn run(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
