//! Commit signing keys: the key a `spec.commit.signingKey` Secret holds, unlocked once when it
//! is read, and the signature git keeps in a commit's `gpgsig` header.
//!
//! Two formats, as git verifies them: an armored OpenPGP private key under `git.asc` (with
//! `passphrase`; Flux image automation's Secret) signs a detached, armored OpenPGP signature
//! (`gpg.format=openpgp`); an OpenSSH private key under `identity` (with `password`) signs an
//! `sshsig` in git's namespace (`gpg.format=ssh`). The key material never leaves this module:
//! its `Debug` shows the format and the public fingerprint, and its errors name Secret keys,
//! never their values.

use std::{collections::BTreeMap, fmt, sync::Arc};

use pgp::{
    composed::{ArmorOptions, Deserializable, DetachedSignature, SignedSecretKey},
    packet::{SecretKey, SecretSubkey},
    types::{KeyDetails, Password, SecretParams},
};
use ssh_key::{HashAlg, LineEnding, PrivateKey};

use super::GitError;

/// The Secret key holding an armored OpenPGP private key (Flux image automation's name).
pub const OPENPGP_KEY: &str = "git.asc";
/// The Secret key holding the OpenPGP key's passphrase.
pub const OPENPGP_PASSPHRASE: &str = "passphrase";
/// The Secret key holding an OpenSSH private key (the auth Secret's name for it).
pub const SSH_KEY: &str = "identity";
/// The Secret key holding the SSH key's password.
pub const SSH_PASSWORD: &str = "password";
/// The namespace git signs commits in with an SSH key (`git -c gpg.format=ssh`); a
/// signature made in another namespace does not verify as a commit signature.
const SSH_NAMESPACE: &str = "git";
/// The header of a commit that holds its signature, whatever its format.
pub(crate) const SIGNATURE_HEADER: &str = "gpgsig";

/// A key that signs commits, unlocked. Cheap to clone: clones share the key. Two keys are
/// equal when their public keys are, which is what decides whether changes may share a
/// commit.
#[derive(Clone)]
pub struct SigningKey(Arc<Unlocked>);

// One per key read, behind an `Arc`: the size of its variants costs nothing worth a box.
#[expect(clippy::large_enum_variant, reason = "one per key, behind an Arc")]
enum Unlocked {
    OpenPgp { signer: OpenPgpSigner, id: String },
    Ssh { key: PrivateKey, id: String },
}

/// The OpenPGP key that signs: a signing subkey when the key has one, else the primary key.
enum OpenPgpSigner {
    Primary(SecretKey),
    Subkey(SecretSubkey),
}

/// Why a Secret's key cannot sign. The message names the Secret's keys and the fix, and
/// never holds key material or a library's error text (which may quote what it parsed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SigningKeyProblem(String);

impl SigningKey {
    /// The key of a signing key Secret's (decoded) `data`: `git.asc` (+ `passphrase`) or
    /// `identity` (+ `password`), unlocked now, so that a wrong passphrase is told at once
    /// rather than at the push.
    pub fn from_secret_data(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, SigningKeyProblem> {
        // `kubectl create secret --from-file` keeps a trailing newline no passphrase has.
        let secret = |key: &str| {
            data.get(key)
                .map(|v| v.strip_suffix(b"\n").unwrap_or(v))
                .map(|v| v.strip_suffix(b"\r").unwrap_or(v))
        };
        let unlocked = match (data.get(OPENPGP_KEY), data.get(SSH_KEY)) {
            (Some(_), Some(_)) => {
                return Err(problem(format!(
                    "the Secret holds both `{OPENPGP_KEY}` and `{SSH_KEY}`: keep the one key commits are signed with"
                )));
            }
            (Some(armored), None) => openpgp(armored, secret(OPENPGP_PASSPHRASE))?,
            (None, Some(openssh)) => ssh(openssh, secret(SSH_PASSWORD))?,
            (None, None) => {
                return Err(problem(format!(
                    "the Secret holds neither `{OPENPGP_KEY}` (an armored OpenPGP private key) nor `{SSH_KEY}` (an OpenSSH private key)"
                )));
            }
        };
        Ok(SigningKey(Arc::new(unlocked)))
    }

    /// The format and public fingerprint: `openpgp:<fingerprint>` or `ssh:SHA256:<hash>`.
    pub fn id(&self) -> &str {
        match &*self.0 {
            Unlocked::OpenPgp { id, .. } | Unlocked::Ssh { id, .. } => id,
        }
    }

    /// The signature of a commit buffer (`Repository::commit_create_buffer`), as git keeps
    /// it in the `gpgsig` header: armored, so that `git verify-commit` reads it.
    pub(crate) fn sign(&self, buffer: &[u8]) -> Result<String, GitError> {
        let failed = |format: &str| GitError::Signing {
            reason: format!("the {format} key could not sign the commit"),
        };
        match &*self.0 {
            Unlocked::OpenPgp { signer, .. } => {
                let signature = match signer {
                    OpenPgpSigner::Primary(key) => sign_openpgp(key, buffer),
                    OpenPgpSigner::Subkey(key) => sign_openpgp(key, buffer),
                };
                signature.map_err(|_| failed("OpenPGP"))
            }
            Unlocked::Ssh { key, .. } => key
                .sign(SSH_NAMESPACE, HashAlg::Sha512, buffer)
                .and_then(|signature| signature.to_pem(LineEnding::LF))
                .map_err(|_| failed("SSH")),
        }
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigningKey").field(&self.id()).finish()
    }
}

fn problem(message: impl Into<String>) -> SigningKeyProblem {
    SigningKeyProblem(message.into())
}

fn sign_openpgp(key: &impl pgp::types::SigningKey, buffer: &[u8]) -> pgp::errors::Result<String> {
    // The key was unlocked when it was read: no password is needed any more.
    let signature = DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        key,
        &Password::empty(),
        key.hash_alg(),
        buffer,
    )?;
    signature.to_armored_string(ArmorOptions::default())
}

/// The signing key of an armored OpenPGP private key, unlocked with `passphrase`. Like gpg and
/// Flux, it signs with the newest subkey certified for signing, else with the primary key.
fn openpgp(armored: &[u8], passphrase: Option<&[u8]>) -> Result<Unlocked, SigningKeyProblem> {
    let not_a_key = || {
        problem(format!(
            "`{OPENPGP_KEY}` is not an armored OpenPGP private key: export one with `gpg --export-secret-keys --armor <fingerprint>`"
        ))
    };
    let text = std::str::from_utf8(armored).map_err(|_| not_a_key())?;
    let (key, _) = SignedSecretKey::from_string(text).map_err(|_| not_a_key())?;
    let subkey = key
        .secret_subkeys
        .iter()
        .filter(|subkey| {
            subkey
                .signatures
                .iter()
                .any(|binding| binding.key_flags().sign())
        })
        .max_by_key(|subkey| subkey.key.created_at());
    let password = Password::from(passphrase.unwrap_or_default());
    let locked = |params: &SecretParams| matches!(params, SecretParams::Encrypted(_));
    let (encrypted, signer) = match subkey {
        Some(subkey) => {
            let mut key = subkey.key.clone();
            let encrypted = locked(key.secret_params());
            (
                encrypted,
                key.remove_password(&password)
                    .map(|()| OpenPgpSigner::Subkey(key)),
            )
        }
        None => {
            let mut key = key.primary_key.clone();
            let encrypted = locked(key.secret_params());
            (
                encrypted,
                key.remove_password(&password)
                    .map(|()| OpenPgpSigner::Primary(key)),
            )
        }
    };
    let signer = signer.map_err(|_| match (encrypted, passphrase) {
        (true, None) => problem(format!(
            "the key in `{OPENPGP_KEY}` is encrypted and the Secret has no `{OPENPGP_PASSPHRASE}`: add it"
        )),
        (true, Some(_)) => problem(format!(
            "`{OPENPGP_PASSPHRASE}` does not unlock the key in `{OPENPGP_KEY}`: write its passphrase"
        )),
        (false, _) => not_a_key(),
    })?;
    let fingerprint = match &signer {
        OpenPgpSigner::Primary(key) => key.fingerprint(),
        OpenPgpSigner::Subkey(key) => key.fingerprint(),
    };
    Ok(Unlocked::OpenPgp {
        signer,
        id: format!("openpgp:{fingerprint:X}"),
    })
}

/// The key of an OpenSSH private key, decrypted with `password` when it is encrypted.
fn ssh(openssh: &[u8], password: Option<&[u8]>) -> Result<Unlocked, SigningKeyProblem> {
    let key = PrivateKey::from_openssh(openssh).map_err(|_| {
        problem(format!(
            "`{SSH_KEY}` is not an OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`): write one, e.g. from `ssh-keygen -t ed25519`"
        ))
    })?;
    let key = match (key.is_encrypted(), password) {
        (false, _) => key,
        (true, None) => {
            return Err(problem(format!(
                "the key in `{SSH_KEY}` is encrypted and the Secret has no `{SSH_PASSWORD}`: add it"
            )));
        }
        (true, Some(password)) => key.decrypt(password).map_err(|_| {
            problem(format!(
                "`{SSH_PASSWORD}` does not decrypt the key in `{SSH_KEY}`: write its passphrase"
            ))
        })?,
    };
    let id = format!("ssh:{}", key.fingerprint(HashAlg::Sha256));
    Ok(Unlocked::Ssh { key, id })
}
