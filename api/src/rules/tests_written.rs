//! What is written: reserved trailers, sizes once rendered, prefixes as folders, and the
//! paths of a run as rendered at its instant.

use super::tests::{base, broken, commit, eval, file, policy, pull_request, reference};
use super::*;
use crate::common::{CommitSpec, Strategy};
use crate::policy::{GitExportPolicySpec, Limits, PathRules};

fn message(text: &str) -> Option<CommitSpec> {
    Some(CommitSpec {
        author: None,
        message: Some(text.into()),
        ..CommitSpec::default()
    })
}

#[test]
fn commit_messages_may_not_carry_the_operators_trailers() {
    for text in [
        "Sync\n\nGco-Run: 0123456789abcdef",
        "Sync\ngco-object: team/GitCommit/other",
        "Gco-Run : x",
        // A FORMAT is literal text, and `%n` starts a line.
        "Sync $(date +%nGco-Run:)",
        "Sync$(date \"+%n Gco-Object: x\")",
    ] {
        let mut spec = commit();
        spec.commit = message(text);
        assert_eq!(
            broken(eval(&spec, &[])),
            [("spec.commit.message".to_owned(), Rule::ReservedTrailer)],
            "{text:?}"
        );
    }
    for text in [
        "Sync - $(date)",
        "Gco-Run is mentioned, not a trailer",
        "Re: Gco-Run: x",
    ] {
        let mut spec = commit();
        spec.commit = message(text);
        assert!(eval(&spec, &[]).is_ok(), "{text:?}");
    }
}

#[test]
fn a_pull_request_title_that_becomes_the_message_is_checked_too() {
    let mut spec = pull_request("https://github.com/company/gitops.git");
    spec.pull_request.title = "Sync$(date \"+%nGco-Run: forged\")".into();
    let error = evaluate(&ExportRequest::pull_request("team", &spec), &[]).expect_err("forged");
    assert_eq!(error.0[0].field, "spec.pullRequest.title");
    assert_eq!(error.0[0].rule, Rule::ReservedTrailer);
    spec.commit = message("Sync");
    assert!(evaluate(&ExportRequest::pull_request("team", &spec), &[]).is_ok());
    // Titles alone never start a message line: `Changes for PR: ` comes first.
    spec.commit = None;
    spec.pull_request.title = "Gco-Run: looks odd but is harmless".into();
    assert!(evaluate(&ExportRequest::pull_request("team", &spec), &[]).is_ok());
}

fn max_file_bytes(limit: u32) -> GitExportPolicy {
    policy(
        "small",
        GitExportPolicySpec {
            limits: Some(Limits {
                max_files: None,
                max_file_bytes: Some(limit),
            }),
            ..base()
        },
    )
}

#[test]
fn file_sizes_count_placeholders_at_their_longest() {
    let small = max_file_bytes(20);
    let mut spec = commit();
    spec.export.files.push(file("a"));
    spec.export.files[0].content = "$(date +%Y%m%d)".into();
    assert!(eval(&spec, &[&small]).is_ok(), "9 bytes rendered");
    // 13 bytes as written, up to 99 rendered.
    spec.export.files[0].content = "$(date +%99Y)".into();
    let error = eval(&spec, &[&small]).expect_err("99 > 20");
    assert_eq!(error.0[0].field, "spec.files[0].content");
    assert_eq!(error.0[0].rule, Rule::MaxFileBytes);
    assert!(
        error.0[0].message.contains("up to 99 bytes (13 as written"),
        "{error}"
    );
    assert!(error.0[0].fix.contains("limits.maxFileBytes"), "{error}");
    // `$(date)` is 7 bytes as written and up to 58 rendered.
    spec.export.files[0].content = "$(date)".into();
    assert!(eval(&spec, &[&small]).is_err());
    assert!(eval(&spec, &[&max_file_bytes(58)]).is_ok());
}

#[test]
fn the_built_in_ceiling_applies_to_the_rendered_content() {
    let mut spec = commit();
    spec.export.files.push(file("a"));
    spec.export.files[0].content = "x".repeat(BUILTIN_MAX_FILE_BYTES);
    assert!(eval(&spec, &[]).is_ok());
    spec.export.files[0].content.push_str("$(date +%Y)");
    let error = eval(&spec, &[]).expect_err("over the ceiling once rendered");
    assert_eq!(error.0[0].rule, Rule::MaxFileBytes);
    assert!(error.0[0].message.contains("built-in ceiling"), "{error}");
    // A policy can only tighten the ceiling.
    assert!(eval(&spec, &[&max_file_bytes(u32::MAX)]).is_err());
}

fn prefixes(prefixes: &[&str]) -> GitExportPolicy {
    policy(
        "paths",
        GitExportPolicySpec {
            paths: Some(PathRules {
                allowed_prefixes: prefixes.iter().map(|p| (*p).to_owned()).collect(),
            }),
            ..base()
        },
    )
}

#[test]
fn prefixes_are_folders_with_or_without_the_slash() {
    for prefix in ["clusters", "clusters/"] {
        let only = prefixes(&[prefix]);
        let mut spec = commit();
        spec.export.files.push(file("clusters/a.yaml"));
        assert!(eval(&spec, &[&only]).is_ok(), "{prefix}");
        for outside in [
            "clusters-evil/a.yaml",
            "clustersx",
            "clusters",
            "$(date +clusters-%Y)/a",
        ] {
            spec.export.files[0] = file(outside);
            assert_eq!(
                broken(eval(&spec, &[&only])),
                [("spec.files[0].path".to_owned(), Rule::PathPrefix)],
                "{prefix} admitted {outside}"
            );
        }
    }
}

#[test]
fn a_fields_export_may_write_into_the_allowed_folder_itself() {
    let only = prefixes(&["clusters/"]);
    let mut spec = commit();
    spec.export.resource_references.push(reference(
        "ConfigMap",
        Strategy::Fields,
        None,
        "clusters/",
    ));
    assert!(eval(&spec, &[&only]).is_ok());
    spec.export.resource_references[0] = reference("ConfigMap", Strategy::Dump, None, "clusters");
    assert_eq!(
        broken(eval(&spec, &[&only])),
        [(
            "spec.resourceReferences[0].output.path".to_owned(),
            Rule::PathPrefix
        )]
    );
}

#[test]
fn rendered_paths_are_checked_at_the_runs_instant() {
    let only = prefixes(&["backups/2026"]);
    let path = |path| RenderedPath {
        field: "spec.files[0].path",
        path,
    };
    assert_eq!(
        check_rendered_paths(&[&only], [path("backups/2026/a.yaml")]),
        Ok(())
    );
    let error = check_rendered_paths(&[&only], [path("backups/2027/a.yaml")])
        .expect_err("the year moved on");
    assert_eq!(error.0[0].field, "spec.files[0].path");
    assert_eq!(error.0[0].rule, Rule::PathPrefix);
    let error = check_rendered_paths(&[], [path("a/../../etc/passwd")]).expect_err("unsafe");
    assert_eq!(error.0[0].rule, Rule::PathSafety);
    assert_eq!(check_rendered_paths(&[], [path("anywhere/a.yaml")]), Ok(()));
    assert_eq!(check_rendered_paths(&[&only], []), Ok(()));
}
