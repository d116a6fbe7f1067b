//! A run's Secret dumps, sealed before they leave the planner: the plaintext of a Secret never
//! reaches the git engine, a log or a commit. Each is encrypted with SOPS to the age recipients
//! of the matching policies (`seal.rs`), and written only when its plaintext changed. Files a
//! spec asks to encrypt (`encryption.age`) are encrypted with age here too, to recipients the
//! policies allow.

use gco_api::{
    EncryptedFile, ExportSpec, FileEncryption, Strategy, is_secret,
    rules::{age_recipients, allowed_age_recipients},
};
use jiff::Timestamp;
use serde_json::Value;

use super::{Failure, failure::FailureReason, plan::Rules};
use crate::{
    render::{Placement, PlannedWrite},
    seal::{self, hex},
};

/// Whether a run of `export` encrypts anything (and so needs the digest key).
pub fn encrypts(export: &ExportSpec) -> bool {
    export.files.iter().any(|f| f.encryption.is_some())
        || export.resource_references.iter().any(|r| {
            r.output.encryption.is_some()
                || (is_secret(&r.api_version, &r.kind) && r.strategy == Strategy::Dump)
        })
}

/// Replaces the content of every write of a Secret `dump` with its sealed file. `fields[i]` is
/// the spec field `writes[i]` comes from.
pub fn seal_secrets(
    export: &ExportSpec,
    writes: &mut [PlannedWrite],
    fields: &[String],
    rules: &Rules<'_>,
    at: Timestamp,
) -> Result<(), Failure> {
    let dumped: Vec<String> = export
        .resource_references
        .iter()
        .enumerate()
        .filter(|(_, r)| is_secret(&r.api_version, &r.kind) && r.strategy == Strategy::Dump)
        .map(|(index, _)| format!("spec.resourceReferences[{index}].output.path"))
        .collect();
    if dumped.is_empty() {
        return Ok(());
    }
    let recipients = age_recipients(rules.policies);
    for (write, field) in writes.iter_mut().zip(fields) {
        if !dumped.contains(field) {
            continue;
        }
        let reference = field.trim_end_matches(".output.path");
        let fail = |reason: String| {
            Failure::new(
                FailureReason::RenderFailed,
                format!("{reference}: the Secret cannot be encrypted: {reason}"),
            )
        };
        if recipients.is_empty() {
            // The rules refuse a Secret dump without recipients; a policy may have changed.
            return Err(Failure::new(
                FailureReason::PolicyDenied,
                format!(
                    "{reference}: no GitExportPolicy lists `spec.secrets.encryption.ageRecipients` any more: a Secret is dumped only encrypted (rule secret-strategy); fix: ask a cluster admin for recipients, or export single fields"
                ),
            ));
        }
        let key = rules.digest_key.map_err(|reason| fail(reason.to_owned()))?;
        seal::check_recipients(&recipients).map_err(|e| fail(e.to_string()))?;
        let object: Value =
            serde_saphyr::from_slice(&write.content).map_err(|e| fail(e.to_string()))?;
        let digest = seal::digest(key, &object, &recipients);
        let sealed =
            seal::seal(&object, &recipients, &digest, at).map_err(|e| fail(e.to_string()))?;
        // The plaintext is dropped here: only the sealed file goes on.
        write.content = sealed;
        write.mode = Placement::Sealed { digest };
    }
    Ok(())
}

/// Encrypts, with age, every write whose file or reference asks for it (`encryption.age`), and
/// returns the digests of what they hold. A file whose digest is the one `previous` (the
/// status) records for its path is marked unchanged: the engine keeps the file there.
pub fn encrypt_files(
    export: &ExportSpec,
    writes: &mut [PlannedWrite],
    fields: &[String],
    rules: &Rules<'_>,
    previous: &[EncryptedFile],
) -> Result<Vec<EncryptedFile>, Failure> {
    let mut encrypted = Vec::new();
    // The rules refuse a recipient no policy allows; a policy may have changed since.
    let allowed = allowed_age_recipients(rules.policies);
    for (write, field) in writes.iter_mut().zip(fields) {
        let Some((source, encryption)) = encryption_of(export, field) else {
            continue;
        };
        let fail = |reason: String| {
            Failure::new(
                FailureReason::RenderFailed,
                format!("{source}: the file cannot be encrypted: {reason}"),
            )
        };
        if let Some(stranger) = encryption
            .age
            .iter()
            .find(|r| !allowed.contains(&r.trim().to_owned()))
        {
            return Err(Failure::new(
                FailureReason::PolicyDenied,
                format!(
                    "{source}.age: recipient {:?} is not one a GitExportPolicy allows (rule encryption); fix: use a recipient of `spec.encryption.ageRecipients` of a matching policy",
                    stranger.chars().take(80).collect::<String>()
                ),
            ));
        }
        let key = rules.digest_key.map_err(|reason| fail(reason.to_owned()))?;
        let digest = seal::file_digest(key, write.path.as_str(), &write.content, &encryption.age);
        let digest = hex(&digest);
        let unchanged = previous
            .iter()
            .any(|f| f.path == write.path.as_str() && f.digest == digest);
        write.content = seal::age_encrypt_file(&write.content, &encryption.age)
            .map_err(|e| fail(e.to_string()))?;
        write.mode = Placement::Encrypted { unchanged };
        encrypted.push(EncryptedFile {
            path: write.path.to_string(),
            digest,
        });
    }
    Ok(encrypted)
}

/// The spec part a write comes from (`spec.files[2]`, `spec.resourceReferences[0].output`)
/// and its encryption, when it asks for one.
fn encryption_of<'a>(export: &'a ExportSpec, field: &str) -> Option<(String, &'a FileEncryption)> {
    if let Some(index) = index_in(field, "spec.files[", "].path") {
        let encryption = export.files.get(index)?.encryption.as_ref()?;
        return Some((format!("spec.files[{index}].encryption"), encryption));
    }
    let index = index_in(field, "spec.resourceReferences[", "].output.path")?;
    let reference = export.resource_references.get(index)?;
    let encryption = reference.output.encryption.as_ref()?;
    Some((
        format!("spec.resourceReferences[{index}].output.encryption"),
        encryption,
    ))
}

fn index_in(field: &str, prefix: &str, suffix: &str) -> Option<usize> {
    field
        .strip_prefix(prefix)?
        .strip_suffix(suffix)?
        .parse()
        .ok()
}
