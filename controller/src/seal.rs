//! Encrypting exports. A Secret's `dump` is sealed as SOPS writes it, to the age recipients the
//! cluster admins' policies list (never a tenant's), so that `sops --decrypt` and Flux's
//! kustomize-controller restore it, and nobody else reads it; any other file a spec asks to
//! encrypt is an armored age file ([`age_encrypt_file`]).
//!
//! The format is SOPS's (docs/user-guide.md, Encrypted Secrets): every value under a `data`
//! or `stringData` key is AES-256-GCM with a 32-byte IV and the value's path as additional
//! data; the MAC is SHA-512 over every value in file order, encrypted with the
//! run's data key and the `lastmodified` instant as additional data; the data key is
//! age-encrypted, armored, to each recipient. The cryptography is the `aes-gcm`, `age` and
//! `ring` crates'; this module only lays the file out.
//!
//! Encryption is never the same twice, so "no change, no commit" is decided on the plaintext:
//! an HMAC-SHA256 of the cleaned object and the recipients, keyed by a Secret the operator
//! owns (a plain hash would let anyone reading the repository test guesses of a weak
//! password), is kept in the file's `sops` block as `gco_digest`, and the engine keeps a file
//! that carries the digest of what it would write (`Placement::Sealed`).

use std::io::Write as _;

use aes_gcm::{
    AesGcm, KeyInit,
    aead::{Aead, Payload, consts::U32},
    aes::Aes256,
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use jiff::Timestamp;
use ring::{digest, hmac, rand::SecureRandom};
use serde_json::{Map, Value};

use crate::render::{Ordering, to_yaml};

/// SOPS's own constant: values under these keys are encrypted, the rest (kind, metadata)
/// stays readable, as Flux's documentation configures it for Secrets.
const ENCRYPTED_REGEX: &str = "^(data|stringData)$";
/// The SOPS version the files say they were written by: the oldest whose format they follow.
const SOPS_VERSION: &str = "3.9.0";
/// The `sops` block key of the plaintext digest.
pub const DIGEST_KEY: &str = "gco_digest";

/// AES-256-GCM with SOPS's 32-byte IVs.
type SopsGcm = AesGcm<Aes256, U32>;

/// Why a Secret could not be sealed.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "age recipient {recipient:?} of the policies is not an X25519 age recipient (`age1…`): {reason}"
    )]
    Recipient { recipient: String, reason: String },
    #[error("the operator's digest key is not available: {0}")]
    NoDigestKey(String),
    #[error("value at {path} is not a string: a Secret's data holds strings")]
    NotAString { path: String },
    #[error("cannot encrypt: {0}")]
    Crypto(String),
}

/// What the operator seals with: the digest key it owns.
#[derive(Clone)]
pub struct DigestKey(hmac::Key);

impl DigestKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }
}

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestKey")
    }
}

/// The digest a sealed file of `object` for `recipients` carries: what tells, without
/// decrypting, that the file already holds this plaintext for these recipients.
pub fn digest(key: &DigestKey, object: &Value, recipients: &[String]) -> [u8; 32] {
    let mut sorted = recipients.to_vec();
    sorted.sort();
    sorted.dedup();
    // serde_json sorts object keys: the same object always gives the same bytes.
    let input = serde_json::json!({ "object": object, "recipients": sorted });
    let tag = hmac::sign(&key.0, input.to_string().as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// The `gco_digest` line a sealed file carries, as the engine looks for it.
pub fn digest_line(digest: &[u8; 32]) -> String {
    format!("{DIGEST_KEY}: hmac-sha256:{}", hex(digest))
}

/// `object` as a SOPS-encrypted YAML file for `recipients`, written at `now`.
pub fn seal(
    object: &Value,
    recipients: &[String],
    digest: &[u8; 32],
    now: Timestamp,
) -> Result<Vec<u8>, SealError> {
    let random = ring::rand::SystemRandom::new();
    let mut data_key = [0u8; 32];
    random
        .fill(&mut data_key)
        .map_err(|_| SealError::Crypto("no randomness".into()))?;
    let mut sealer = Sealer {
        data_key,
        random,
        mac: digest::Context::new(&digest::SHA512),
    };
    let encrypted = sealer.walk(object, &mut Vec::new(), Ordering::TopLevel)?;
    let lastmodified = now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mac = hex_upper(sealer.mac.clone().finish().as_ref());
    let mac = sealer.encrypt_str(&mac, &lastmodified)?;
    let mut keys = Vec::new();
    for recipient in recipients {
        keys.push(serde_json::json!({
            "recipient": recipient,
            "enc": age_encrypt(recipient, &data_key)?,
        }));
    }
    let block = serde_json::json!({
        "age": keys,
        "lastmodified": lastmodified,
        "mac": mac,
        "encrypted_regex": ENCRYPTED_REGEX,
        "version": SOPS_VERSION,
        DIGEST_KEY: format!("hmac-sha256:{}", hex(digest)),
    });
    let document = to_yaml(&encrypted).map_err(SealError::Crypto)?;
    let sops = serde_saphyr::to_string(&serde_json::json!({ "sops": block }))
        .map_err(|e| SealError::Crypto(e.to_string()))?;
    Ok(format!("{document}{sops}").into_bytes())
}

/// The digest of an age-encrypted file: of its path, plaintext and recipients, keyed like a
/// Secret's (see [`digest`]).
pub fn file_digest(
    key: &DigestKey,
    path: &str,
    plaintext: &[u8],
    recipients: &[String],
) -> [u8; 32] {
    let mut sorted: Vec<&str> = recipients.iter().map(|r| r.trim()).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut context = hmac::Context::with_key(&key.0);
    for part in [
        path.as_bytes(),
        b"\0",
        sorted.join("\n").as_bytes(),
        b"\0",
        plaintext,
    ] {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.sign().as_ref());
    out
}

/// `plaintext` encrypted with age to `recipients` (X25519 `age1…` or `ssh-ed25519 …`),
/// armored, as `age --encrypt --armor` writes it.
pub fn age_encrypt_file(plaintext: &[u8], recipients: &[String]) -> Result<Vec<u8>, SealError> {
    let parsed: Vec<Box<dyn age::Recipient + Send>> = recipients
        .iter()
        .map(|r| parse_any_recipient(r.trim()))
        .collect::<Result<_, _>>()?;
    let crypto = |e: &dyn std::fmt::Display| SealError::Crypto(e.to_string());
    let encryptor =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))
            .map_err(|e| crypto(&e))?;
    let armored =
        age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
            .map_err(|e| crypto(&e))?;
    let mut writer = encryptor.wrap_output(armored).map_err(|e| crypto(&e))?;
    writer.write_all(plaintext).map_err(|e| crypto(&e))?;
    let armored = writer.finish().map_err(|e| crypto(&e))?;
    armored.finish().map_err(|e| crypto(&e))
}

fn parse_any_recipient(recipient: &str) -> Result<Box<dyn age::Recipient + Send>, SealError> {
    if recipient.starts_with("age1") {
        return Ok(Box::new(parse_recipient(recipient)?));
    }
    recipient
        .parse::<age::ssh::Recipient>()
        .map(|r| Box::new(r) as Box<dyn age::Recipient + Send>)
        .map_err(|error| SealError::Recipient {
            recipient: recipient.chars().take(100).collect(),
            reason: format!("{error:?}"),
        })
}

/// Every X25519 recipient that does not parse, as an error.
pub fn check_recipients(recipients: &[String]) -> Result<(), SealError> {
    for recipient in recipients {
        parse_recipient(recipient)?;
    }
    Ok(())
}

fn parse_recipient(recipient: &str) -> Result<age::x25519::Recipient, SealError> {
    recipient
        .parse::<age::x25519::Recipient>()
        .map_err(|reason| SealError::Recipient {
            recipient: recipient.chars().take(100).collect(),
            reason: reason.to_owned(),
        })
}

fn age_encrypt(recipient: &str, data_key: &[u8; 32]) -> Result<String, SealError> {
    let recipient = parse_recipient(recipient)?;
    let crypto = |e: &dyn std::fmt::Display| SealError::Crypto(e.to_string());
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| crypto(&e))?;
    let armored =
        age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
            .map_err(|e| crypto(&e))?;
    let mut writer = encryptor.wrap_output(armored).map_err(|e| crypto(&e))?;
    writer.write_all(data_key).map_err(|e| crypto(&e))?;
    let armored = writer.finish().map_err(|e| crypto(&e))?;
    let bytes = armored.finish().map_err(|e| crypto(&e))?;
    String::from_utf8(bytes).map_err(|e| crypto(&e))
}

struct Sealer {
    data_key: [u8; 32],
    random: ring::rand::SystemRandom,
    mac: digest::Context,
}

impl Sealer {
    /// The tree with every value under `data`/`stringData` encrypted, walked in the order the
    /// file lists it (SOPS checks the MAC in file order).
    fn walk(
        &mut self,
        value: &Value,
        path: &mut Vec<String>,
        ordering: Ordering,
    ) -> Result<Value, SealError> {
        match value {
            Value::Object(map) => {
                let mut out = Map::new();
                for (key, child, child_ordering) in ordering.entries(map) {
                    path.push(key.clone());
                    let sealed = self.walk(child, path, child_ordering);
                    path.pop();
                    out.insert(key.clone(), sealed?);
                }
                Ok(Value::Object(out))
            }
            // SOPS does not extend the path for list items.
            Value::Array(items) => items
                .iter()
                .map(|item| self.walk(item, path, Ordering::Plain))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Null => Ok(Value::Null),
            leaf => {
                let bytes = match leaf {
                    Value::String(text) => text.clone(),
                    Value::Bool(true) => "True".to_owned(),
                    Value::Bool(false) => "False".to_owned(),
                    other => other.to_string(),
                };
                self.mac.update(bytes.as_bytes());
                let encrypted = path.iter().any(|p| p == "data" || p == "stringData");
                if !encrypted {
                    return Ok(leaf.clone());
                }
                let Value::String(text) = leaf else {
                    return Err(SealError::NotAString {
                        path: path.join("."),
                    });
                };
                if text.is_empty() {
                    // SOPS leaves empty values as they are.
                    return Ok(leaf.clone());
                }
                let additional = format!("{}:", path.join(":"));
                self.encrypt_str(text, &additional).map(Value::String)
            }
        }
    }

    /// `ENC[AES256_GCM,data:…,iv:…,tag:…,type:str]`.
    fn encrypt_str(&self, text: &str, additional: &str) -> Result<String, SealError> {
        let mut iv = [0u8; 32];
        self.random
            .fill(&mut iv)
            .map_err(|_| SealError::Crypto("no randomness".into()))?;
        let cipher = SopsGcm::new_from_slice(&self.data_key)
            .map_err(|e| SealError::Crypto(e.to_string()))?;
        let sealed = cipher
            .encrypt(
                (&iv).into(),
                Payload {
                    msg: text.as_bytes(),
                    aad: additional.as_bytes(),
                },
            )
            .map_err(|e| SealError::Crypto(e.to_string()))?;
        let (data, tag) = sealed.split_at(sealed.len() - 16);
        Ok(format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:str]",
            STANDARD.encode(data),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        ))
    }
}

/// Lowercase hex, as digests are written in files and the status.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    fn secret(password: &str) -> Value {
        json!({ "apiVersion": "v1", "kind": "Secret", "metadata": { "name": "db" },
                "data": { "password": STANDARD.encode(password), "empty": "" } })
    }

    #[test]
    fn the_digest_is_keyed_and_follows_the_plaintext_and_the_recipients() {
        let key = DigestKey::new(b"0123456789abcdef0123456789abcdef");
        let other = DigestKey::new(b"another key, another digest.....");
        let recipients = [RECIPIENT.to_owned()];
        let a = digest(&key, &secret("hunter2"), &recipients);
        assert_eq!(a, digest(&key, &secret("hunter2"), &recipients));
        assert_ne!(a, digest(&other, &secret("hunter2"), &recipients));
        assert_ne!(a, digest(&key, &secret("hunter3"), &recipients));
        assert_ne!(a, digest(&key, &secret("hunter2"), &[]));
    }

    #[test]
    fn a_sealed_secret_holds_no_plaintext_and_says_how_to_open_it() {
        let key = DigestKey::new(b"0123456789abcdef0123456789abcdef");
        let recipients = [RECIPIENT.to_owned()];
        let object = secret("hunter2");
        let digest = digest(&key, &object, &recipients);
        let at = Timestamp::from_second(1_795_352_400).expect("instant");
        let sealed = String::from_utf8(seal(&object, &recipients, &digest, at).expect("sealed"))
            .expect("text");
        assert!(!sealed.contains(&STANDARD.encode("hunter2")), "{sealed}");
        assert!(sealed.contains("ENC[AES256_GCM,data:"), "{sealed}");
        assert!(
            sealed.contains("empty: ''") || sealed.contains("empty: \"\""),
            "{sealed}"
        );
        assert!(
            sealed.contains("name: db"),
            "metadata stays readable: {sealed}"
        );
        for expected in [
            "-----BEGIN AGE ENCRYPTED FILE-----",
            RECIPIENT,
            "lastmodified: \"2026-11-22T13:00:00Z\"",
            "encrypted_regex: ^(data|stringData)$",
            &digest_line(&digest),
        ] {
            assert!(sealed.contains(expected), "{expected} missing:\n{sealed}");
        }
        let again = seal(&object, &recipients, &digest, at).expect("sealed");
        assert_ne!(sealed.as_bytes(), again, "never the same bytes twice");
    }

    #[test]
    fn a_bad_recipient_is_named() {
        let error = check_recipients(&["age1nope".to_owned()]).expect_err("refused");
        assert!(error.to_string().contains("age1nope"), "{error}");
    }
}
