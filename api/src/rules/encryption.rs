//! Rules on encrypted files (`files[].encryption`, `resourceReferences[].output.encryption`):
//! a file is encrypted only to recipients a cluster admin's GitExportPolicy lists, since a
//! tenant who chose the recipient would simply be exfiltrating; and an encrypted file is
//! rewritten whole, never appended to.

use super::{ExportRequest, Rule, Violation, Violations, repository::short};
use crate::common::{FileEncryption, Strategy, WriteMode};
use crate::kind::is_secret;
use crate::policy::GitExportPolicy;

/// The recipients files may be encrypted to under `policies`, sorted.
pub fn allowed_age_recipients(policies: &[&GitExportPolicy]) -> Vec<String> {
    let mut allowed: Vec<String> = policies
        .iter()
        .flat_map(|p| p.spec.encryption.iter())
        .flat_map(|e| e.age_recipients.iter().map(|r| r.trim().to_owned()))
        .collect();
    allowed.sort();
    allowed.dedup();
    allowed
}

pub(super) fn check(
    request: &ExportRequest<'_>,
    policies: &[&GitExportPolicy],
    out: &mut Violations,
) {
    let allowed = allowed_age_recipients(policies);
    let default_mode = request.export.write_mode();
    for (index, file) in request.export.files.iter().enumerate() {
        if let Some(encryption) = &file.encryption {
            let field = format!("spec.files[{index}]");
            let mode = file.write_mode.unwrap_or(default_mode);
            check_one(
                &field,
                "encryption",
                encryption,
                mode,
                &allowed,
                request,
                out,
            );
        }
    }
    for (index, reference) in request.export.resource_references.iter().enumerate() {
        let Some(encryption) = &reference.output.encryption else {
            continue;
        };
        let field = format!("spec.resourceReferences[{index}]");
        if is_secret(&reference.api_version, &reference.kind)
            && reference.strategy == Strategy::Dump
        {
            out.push(Violation::new(
                format!("{field}.output.encryption"),
                Rule::Encryption,
                "a Secret dump is already encrypted, with SOPS, to the recipients of the policies",
                "remove `output.encryption`",
            ));
            continue;
        }
        let mode = reference.write_mode.unwrap_or(default_mode);
        check_one(
            &field,
            "output.encryption",
            encryption,
            mode,
            &allowed,
            request,
            out,
        );
    }
}

fn check_one(
    field: &str,
    part: &str,
    encryption: &FileEncryption,
    mode: WriteMode,
    allowed: &[String],
    request: &ExportRequest<'_>,
    out: &mut Violations,
) {
    if mode == WriteMode::Append {
        out.push(Violation::new(
            format!("{field}.writeMode"),
            Rule::Encryption,
            "an encrypted file is rewritten whole: it cannot be appended to",
            format!("use `writeMode: overwrite` here, or remove `{part}`"),
        ));
    }
    for (index, recipient) in encryption.age.iter().enumerate() {
        if !allowed.iter().any(|a| a == recipient.trim()) {
            out.push(Violation::new(
                format!("{field}.{part}.age[{index}]"),
                Rule::Encryption,
                format!(
                    "age recipient {:?} is not one a GitExportPolicy allows",
                    short(recipient)
                ),
                format!(
                    "encrypt to a recipient of `spec.encryption.ageRecipients` of a GitExportPolicy that selects namespace {:?}, or ask a cluster admin to add this one",
                    request.namespace
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        Rule,
        tests::{base, broken, commit, eval, file, policy, reference},
    };
    use crate::common::{FileEncryption, Strategy, WriteMode};
    use crate::policy::{EncryptionRules, GitExportPolicySpec};

    const ALLOWED: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    fn to(recipients: &[&str]) -> Option<FileEncryption> {
        Some(FileEncryption {
            age: recipients.iter().map(|r| r.to_string()).collect(),
        })
    }

    #[test]
    fn files_are_encrypted_only_to_recipients_a_policy_lists_and_never_appended() {
        let allowing = policy(
            "allowing",
            GitExportPolicySpec {
                encryption: Some(EncryptionRules {
                    age_recipients: vec![ALLOWED.into()],
                }),
                ..base()
            },
        );
        let mut spec = commit();
        let mut encrypted = file("notes.txt");
        encrypted.encryption = to(&[ALLOWED]);
        spec.export.files.push(encrypted);
        assert!(eval(&spec, &[&allowing]).is_ok());
        // No policy lists it: refused, whoever wrote the spec.
        assert_eq!(
            broken(eval(&spec, &[])),
            [(
                "spec.files[0].encryption.age[0]".to_owned(),
                Rule::Encryption
            )]
        );
        let mut stranger = reference("ConfigMap", Strategy::Fields, None, "cfg/");
        stranger.output.encryption = to(&["age1stranger"]);
        stranger.write_mode = Some(WriteMode::Append);
        spec.export.resource_references.push(stranger);
        assert_eq!(
            broken(eval(&spec, &[&allowing])),
            [
                (
                    "spec.resourceReferences[0].writeMode".to_owned(),
                    Rule::Encryption
                ),
                (
                    "spec.resourceReferences[0].output.encryption.age[0]".to_owned(),
                    Rule::Encryption
                ),
            ]
        );
    }
}
