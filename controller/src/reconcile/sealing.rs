//! A run's Secret dumps, sealed before they leave the planner: the plaintext of a Secret never
//! reaches the git engine, a log or a commit. Each is encrypted with SOPS to the age recipients
//! of the matching policies (`seal.rs`), and written only when its plaintext changed.

use gco_api::{ExportSpec, Strategy, is_secret, rules::age_recipients};
use jiff::Timestamp;
use serde_json::Value;

use super::{Failure, failure::FailureReason, plan::Rules};
use crate::{
    render::{Placement, PlannedWrite},
    seal,
};

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
