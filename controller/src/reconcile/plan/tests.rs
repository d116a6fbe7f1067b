//! Every decision of [`plan`](super) as a table-like test, without a cluster.

use std::collections::BTreeMap;

use gco_api::{
    ExportSpec, ExportStatus, FileSpec, GitCommit, GitCommitSpec, GitRepository, ResourceReference,
    RunState, Strategy, rules::Violations,
};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{
    api::ApiResource,
    core::{GroupVersionKind, Selector},
    runtime::controller::Action,
};
use serde_json::json;

use super::{Admitted, Plan, admit, requeue_at};
use crate::{
    reconcile::failure::{FailureReason, Heal},
    references::{
        Found, Looked, ObjectKey, ReadObject, ReadReference, ReferenceError, ResolvedKind, Selected,
    },
};

/// The plan with no policy selecting the namespace.
fn plan(
    object: &GitCommit,
    admitted: &Admitted,
    references: Result<Vec<ReadReference>, ReferenceError>,
    status: &ExportStatus,
    now: Timestamp,
) -> Plan {
    let rules = super::Rules {
        policies: &[],
        digest_key: Err("no key in these tests"),
    };
    super::plan(object, admitted, references, &rules, status, now)
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

const NOW: &str = "2026-11-22T13:00:30Z";

fn gitcommit(export: ExportSpec, annotations: &[(&str, &str)]) -> GitCommit {
    let mut object = GitCommit::new(
        "backup",
        GitCommitSpec {
            repository: GitRepository {
                url: "https://git.example.com/ops/backup.git".into(),
                branch: Some("main".into()),
            },
            auth: None,
            commit: None,
            export,
            ttl_seconds_after_finished: None,
            prune: false,
        },
    );
    object.metadata.namespace = Some("team".into());
    object.metadata.uid = Some("3f1c".into());
    object.metadata.generation = Some(2);
    object.metadata.creation_timestamp = Some(Time(at("2026-11-01T00:00:00Z")));
    object.metadata.annotations = Some(
        annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    object
}

fn file_export() -> ExportSpec {
    ExportSpec {
        files: vec![FileSpec {
            path: "reports/$(date +%Y).txt".into(),
            content: "hello".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn configmap_reference(optional: bool) -> ResourceReference {
    ResourceReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: Some("app".into()),
        optional,
        strategy: Strategy::Dump,
        output: gco_api::OutputSpec {
            path: "clusters/app.yaml".into(),
            encryption: None,
        },
        ..Default::default()
    }
}

fn configmap_kind() -> ResolvedKind {
    let gvk = GroupVersionKind::gvk("", "v1", "ConfigMap");
    ResolvedKind {
        resource: ApiResource::from_gvk(&gvk),
        namespaced: true,
    }
}

fn read_object(name: &str, object: Option<serde_json::Value>) -> ReadObject {
    ReadObject {
        key: ObjectKey {
            group: String::new(),
            kind: "ConfigMap".into(),
            namespace: "team".into(),
            name: name.into(),
        },
        resource_version: object.as_ref().map(|_| "41".into()),
        object,
    }
}

fn read(object: Option<serde_json::Value>) -> ReadReference {
    ReadReference {
        kind: configmap_kind(),
        found: Found::Named(read_object("app", object)),
    }
}

fn configmap() -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "app", "namespace": "team", "resourceVersion": "41"},
        "data": {"a": "1"}
    })
}

fn admitted(object: &GitCommit) -> Admitted {
    admit(object, Ok(()), at(NOW)).expect("admitted")
}

/// The delivery of a first run with no references.
fn first_delivery(object: &GitCommit, admitted: &Admitted) -> Box<super::Delivery> {
    match plan(
        object,
        admitted,
        Ok(vec![]),
        &ExportStatus::default(),
        at(NOW),
    ) {
        Plan::Deliver(delivery) => delivery,
        other => panic!("the first run delivers, got {other:?}"),
    }
}

/// The first run's delivery of `export`, its one reference read as [`configmap`].
fn delivery_reading_the_configmap(export: ExportSpec) -> Box<super::Delivery> {
    let object = gitcommit(export, &[]);
    match plan(
        &object,
        &admitted(&object),
        Ok(vec![read(Some(configmap()))]),
        &ExportStatus::default(),
        at(NOW),
    ) {
        Plan::Deliver(delivery) => delivery,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

fn fails_with(plan: Plan) -> (FailureReason, String) {
    match plan {
        Plan::Fail { failure, .. } => (failure.reason, failure.message),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_suspended_object_does_nothing_and_writes_nothing() {
    let mut export = file_export();
    export.suspend = true;
    let plan = admit(&gitcommit(export, &[]), Ok(()), at(NOW)).expect_err("suspended");
    assert!(matches!(plan, Plan::Idle(action) if action == Action::await_change()));
}

#[test]
fn a_finished_object_past_its_time_to_live_is_expired() {
    let finished = |generation: i64, ready: &str| ExportStatus {
        observed_generation: Some(generation),
        conditions: vec![Condition {
            type_: "Ready".into(),
            status: ready.into(),
            reason: "Succeeded".into(),
            message: String::new(),
            observed_generation: Some(generation),
            last_transition_time: Time(at("2026-11-22T13:00:00Z")),
        }],
        last_sync: Some(Time(at("2026-11-22T13:00:00Z"))),
        ..ExportStatus::default()
    };
    let object = |ttl: Option<u32>, status: ExportStatus, suspend: bool| {
        let mut object = gitcommit(
            ExportSpec {
                suspend,
                ..file_export()
            },
            &[],
        );
        object.spec.ttl_seconds_after_finished = ttl;
        object.status = Some(status);
        object
    };
    // 30 s after the last success (NOW): due with a TTL of 30, not yet with 31.
    let due = object(Some(30), finished(2, "True"), false);
    assert!(matches!(admit(&due, Ok(()), at(NOW)), Err(Plan::Expire)));
    assert!(
        admit(
            &object(Some(31), finished(2, "True"), false),
            Ok(()),
            at(NOW)
        )
        .is_ok()
    );
    assert!(admit(&object(None, finished(2, "True"), false), Ok(()), at(NOW)).is_ok());
    // Not finished: failing, or edited since (generation 2 against an observed 1).
    assert!(
        admit(
            &object(Some(0), finished(2, "False"), false),
            Ok(()),
            at(NOW)
        )
        .is_ok()
    );
    assert!(
        admit(
            &object(Some(0), finished(1, "True"), false),
            Ok(()),
            at(NOW)
        )
        .is_ok()
    );
    // Suspended: nothing happens, expiry included.
    let suspended = admit(&object(Some(0), finished(2, "True"), true), Ok(()), at(NOW));
    assert!(matches!(suspended, Err(Plan::Idle(_))));
}

#[test]
fn bad_annotations_and_schedules_stall_as_render_failures() {
    let object = gitcommit(file_export(), &[("gco.galos.one/retry-policy", "forever")]);
    let (reason, message) = fails_with(admit(&object, Ok(()), at(NOW)).expect_err("bad"));
    assert_eq!(
        (reason, reason.heal()),
        (FailureReason::RenderFailed, Heal::Stall)
    );
    assert!(message.contains("gco.galos.one/retry-policy"), "{message}");

    let mut export = file_export();
    export.schedule = Some("every day".into());
    let (reason, message) =
        fails_with(admit(&gitcommit(export, &[]), Ok(()), at(NOW)).expect_err("bad"));
    assert_eq!(reason, FailureReason::RenderFailed);
    assert!(message.contains("spec.schedule"), "{message}");
}

#[test]
fn a_policy_denial_stalls_with_the_policy_message() {
    let violations = Violations(vec![gco_api::rules::Violation {
        field: "spec.repository.url".into(),
        rule: gco_api::rules::Rule::RepositoryAllowed,
        message: "not in allowedRepositories".into(),
        fix: "ask an admin".into(),
    }]);
    let object = gitcommit(file_export(), &[]);
    let (reason, message) =
        fails_with(admit(&object, Err(violations), at(NOW)).expect_err("denied"));
    assert_eq!(
        (reason, reason.heal()),
        (FailureReason::PolicyDenied, Heal::Stall)
    );
    assert!(message.contains("spec.repository.url"), "{message}");
}

#[test]
fn a_schedule_gives_the_slot_and_the_next_tick() {
    let mut export = file_export();
    export.schedule = Some("*/5 * * * *".into());
    let object = gitcommit(export, &[("reconcile.fluxcd.io/requestedAt", "r1")]);
    let admitted = admitted(&object);
    assert_eq!(admitted.slot, Some(at("2026-11-22T13:00:00Z")));
    assert_eq!(admitted.next_tick, Some(at("2026-11-22T13:05:00Z")));
    assert_eq!(admitted.requested.as_deref(), Some("r1"));
    match plan(
        &object,
        &admitted,
        Ok(vec![]),
        &ExportStatus::default(),
        at(NOW),
    ) {
        Plan::Deliver(d) => {
            assert_eq!(d.next_tick, admitted.next_tick);
            assert_eq!(d.change.writes[0].path.as_str(), "reports/2026.txt");
        }
        other => panic!("expected a delivery, got {other:?}"),
    }
    assert_eq!(
        requeue_at(admitted.next_tick, at(NOW)),
        Action::requeue(std::time::Duration::from_millis(270_200))
    );
}

#[test]
fn a_run_already_done_for_the_same_inputs_is_up_to_date() {
    let object = gitcommit(file_export(), &[]);
    let admitted = admitted(&object);
    let first = first_delivery(&object, &admitted);
    let mut status = ExportStatus {
        observed_generation: Some(2),
        run: Some(RunState {
            id: first.run_id.to_string(),
            time: Time(first.at),
            done: true,
        }),
        ..Default::default()
    };
    assert!(matches!(
        plan(&object, &admitted, Ok(vec![]), &status, at(NOW)),
        Plan::UpToDate { next_tick: None }
    ));
    // A new generation is a new run.
    status.observed_generation = Some(1);
    assert!(matches!(
        plan(&object, &admitted, Ok(vec![]), &status, at(NOW)),
        Plan::Idle(_) | Plan::UpToDate { .. } | Plan::Deliver(_)
    ));
}

#[test]
fn a_stalled_run_with_the_same_inputs_stays_quiet() {
    let object = gitcommit(file_export(), &[]);
    let admitted = admitted(&object);
    let first = first_delivery(&object, &admitted);
    let status = ExportStatus {
        observed_generation: Some(2),
        run: Some(RunState {
            id: first.run_id.to_string(),
            time: Time(first.at),
            done: false,
        }),
        conditions: vec![Condition {
            type_: "Stalled".into(),
            status: "True".into(),
            reason: "RetriesExhausted".into(),
            message: "gave up".into(),
            observed_generation: Some(2),
            last_transition_time: Time(at(NOW)),
        }],
        ..Default::default()
    };
    assert!(matches!(
        plan(&object, &admitted, Ok(vec![]), &status, at(NOW)),
        Plan::Idle(action) if action == Action::await_change()
    ));
}

#[test]
fn a_retried_run_renders_the_instant_of_its_first_attempt() {
    let object = gitcommit(file_export(), &[]);
    let admitted = admitted(&object);
    let first = first_delivery(&object, &admitted);
    let status = ExportStatus {
        run: Some(RunState {
            id: first.run_id.to_string(),
            time: Time(at("2025-12-31T23:59:59Z")),
            done: false,
        }),
        ..Default::default()
    };
    let Plan::Deliver(retry) = plan(&object, &admitted, Ok(vec![]), &status, at(NOW)) else {
        panic!("the retry delivers");
    };
    assert_eq!(retry.run_id, first.run_id);
    assert_eq!(retry.change.writes[0].path.as_str(), "reports/2025.txt");
}

#[test]
fn a_missing_required_reference_rechecks_and_names_the_object() {
    let export = ExportSpec {
        resource_references: vec![configmap_reference(false)],
        ..Default::default()
    };
    let object = gitcommit(export, &[]);
    let plan = plan(
        &object,
        &admitted(&object),
        Ok(vec![read(None)]),
        &ExportStatus::default(),
        at(NOW),
    );
    let Plan::Fail { failure, run } = plan else {
        panic!("expected a failure");
    };
    assert_eq!(failure.reason, FailureReason::ReferenceNotFound);
    assert!(matches!(failure.reason.heal(), Heal::Recheck(_)));
    assert!(
        failure
            .message
            .contains("team/ConfigMap/app does not exist"),
        "{}",
        failure.message
    );
    assert!(run.is_some(), "the run id is known, for the event's token");
}

#[test]
fn a_missing_optional_reference_is_skipped() {
    let export = ExportSpec {
        resource_references: vec![configmap_reference(true)],
        files: file_export().files,
        ..Default::default()
    };
    let object = gitcommit(export, &[]);
    match plan(
        &object,
        &admitted(&object),
        Ok(vec![read(None)]),
        &ExportStatus::default(),
        at(NOW),
    ) {
        Plan::Deliver(d) => {
            assert_eq!(
                d.skipped,
                vec!["team/ConfigMap/app (optional, missing)".to_owned()]
            );
            assert_eq!(d.change.writes.len(), 1, "only the file");
        }
        other => panic!("expected a delivery, got {other:?}"),
    }
}

fn selector_reference(strategy: Strategy) -> ResourceReference {
    ResourceReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        selector: Some(LabelSelector {
            match_labels: Some([("backup".to_owned(), "yes".to_owned())].into()),
            match_expressions: None,
        }),
        strategy,
        output: gco_api::OutputSpec {
            path: "backups/configmaps/".into(),
            encryption: None,
        },
        ..Default::default()
    }
}

fn selected(names: &[&str]) -> ReadReference {
    let matches = names
        .iter()
        .map(|name| {
            let object = json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "team", "resourceVersion": "41"},
                "data": {"a": "1", "b": "2"},
            });
            read_object(name, Some(object))
        })
        .collect();
    ReadReference {
        kind: configmap_kind(),
        found: Found::Selected(Selected {
            matches,
            selector: Selector::default(),
            looked: Looked::Namespace("team".into()),
        }),
    }
}

fn planned_paths(export: ExportSpec, read: ReadReference) -> Result<Vec<String>, String> {
    let object = gitcommit(export, &[]);
    match plan(
        &object,
        &admitted(&object),
        Ok(vec![read]),
        &ExportStatus::default(),
        at(NOW),
    ) {
        Plan::Deliver(d) => Ok(d
            .change
            .writes
            .iter()
            .map(|w| w.path.to_string())
            .chain(d.skipped.iter().map(|s| format!("skipped: {s}")))
            .collect()),
        Plan::Fail { failure, .. } => Err(failure.message),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_selector_writes_one_entry_per_match_in_its_folder() {
    let export = |strategy| ExportSpec {
        resource_references: vec![selector_reference(strategy)],
        ..Default::default()
    };
    assert_eq!(
        planned_paths(export(Strategy::Dump), selected(&["a", "b"])),
        Ok(vec![
            "backups/configmaps/a.yaml".to_owned(),
            "backups/configmaps/b.yaml".to_owned()
        ])
    );
    assert_eq!(
        planned_paths(export(Strategy::Fields), selected(&["a"])),
        Ok(vec![
            "backups/configmaps/a/a".to_owned(),
            "backups/configmaps/a/b".to_owned()
        ])
    );
    let mut single = selector_reference(Strategy::SingleField);
    single.field = Some("a".into());
    let single = ExportSpec {
        resource_references: vec![single],
        ..Default::default()
    };
    assert_eq!(
        planned_paths(single, selected(&["a"])),
        Ok(vec!["backups/configmaps/a".to_owned()])
    );
}

#[test]
fn a_selector_matching_nothing_delivers_and_says_so() {
    let export = ExportSpec {
        resource_references: vec![selector_reference(Strategy::Dump)],
        ..Default::default()
    };
    assert_eq!(
        planned_paths(export, selected(&[])),
        Ok(vec![
            "skipped: spec.resourceReferences[0] (ConfigMap selector backup=yes matched nothing)"
                .to_owned()
        ])
    );
}

#[test]
fn a_selector_rendering_past_the_file_limit_is_refused() {
    let export = ExportSpec {
        resource_references: vec![selector_reference(Strategy::Dump)],
        ..Default::default()
    };
    let names: Vec<String> = (0..=gco_api::rules::BUILTIN_MAX_FILES)
        .map(|i| format!("cm-{i}"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let refused = planned_paths(export, selected(&names)).expect_err("over the limit");
    assert!(
        refused.contains(
            "spec.resourceReferences: the run renders 1001 files, over the limit of 1000"
        ),
        "{refused}"
    );
}

#[test]
fn a_present_reference_is_rendered_into_the_change() {
    let export = ExportSpec {
        resource_references: vec![configmap_reference(false)],
        ..Default::default()
    };
    let d = delivery_reading_the_configmap(export);
    assert_eq!(d.change.object.to_string(), "team/GitCommit/backup");
    assert_eq!(d.change.message, "Update from git-change-operator");
    assert_eq!(d.change.writes.len(), 1);
}

#[test]
fn unknown_kinds_stall_and_read_errors_retry() {
    let object = gitcommit(file_export(), &[]);
    let unknown = ReferenceError::UnknownKind {
        field: "spec.resourceReferences[0]".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
    };
    let (reason, _) = fails_with(plan(
        &object,
        &admitted(&object),
        Err(unknown),
        &ExportStatus::default(),
        at(NOW),
    ));
    assert_eq!(reason.heal(), Heal::Stall);
}

#[test]
fn a_bad_commit_message_or_author_stalls_naming_the_field() {
    for (message, author, field) in [
        (Some("$(rm -rf /)"), None, "spec.commit.message"),
        (None, Some("nobody"), "spec.commit.author"),
    ] {
        let mut object = gitcommit(file_export(), &[]);
        object.spec.commit = Some(gco_api::CommitSpec {
            message: message.map(str::to_owned),
            author: author.map(str::to_owned),
            ..gco_api::CommitSpec::default()
        });
        let (reason, text) = fails_with(plan(
            &object,
            &admitted(&object),
            Ok(vec![]),
            &ExportStatus::default(),
            at(NOW),
        ));
        assert_eq!(reason, FailureReason::RenderFailed);
        assert!(text.starts_with(field), "{text}");
    }
}

#[test]
fn paths_are_held_to_the_policy_prefixes_as_rendered_at_the_run() {
    let policy: gco_api::GitExportPolicy = serde_json::from_value(json!({
        "apiVersion": "gco.galos.one/v1", "kind": "GitExportPolicy",
        "metadata": {"name": "reports-only"},
        "spec": {"paths": {"allowedPrefixes": ["reports-2026"]}}
    }))
    .expect("policy");
    // Admitted at another instant, the path could have looked fine; rendered now it does not.
    let mut export = file_export();
    export.files[0].path = "reports-$(date +%Y)/x.txt".into();
    let object = gitcommit(export, &[]);
    let run = |now: &str| {
        super::plan(
            &object,
            &admitted(&object),
            Ok(vec![]),
            &super::Rules {
                policies: &[&policy],
                digest_key: Err("no key in these tests"),
            },
            &ExportStatus::default(),
            at(now),
        )
    };
    assert!(matches!(run(NOW), Plan::Deliver(_)));
    let (reason, message) = fails_with(run("2027-01-01T00:00:00Z"));
    assert_eq!(
        (reason, reason.heal()),
        (FailureReason::PolicyDenied, Heal::Stall)
    );
    assert!(message.contains("spec.files[0].path"), "{message}");
}

#[test]
fn only_a_run_whose_writes_depend_on_it_is_recorded_before_its_push() {
    let delivery = delivery_reading_the_configmap;
    let plain = ExportSpec {
        resource_references: vec![configmap_reference(false)],
        ..Default::default()
    };
    assert!(
        !delivery(plain.clone()).record_first,
        "the same dump at the same path: a second delivery commits nothing"
    );

    let mut dated_path = plain.clone();
    dated_path.resource_references[0].output.path = "backups/$(date +%Y%m%d)/app.yaml".into();
    assert!(
        delivery(dated_path).record_first,
        "a path rendered from the run's instant"
    );

    let mut appended = plain.clone();
    appended.resource_references[0].write_mode = Some(gco_api::WriteMode::Append);
    assert!(delivery(appended).record_first, "an append must land once");

    let mut dated_content = plain;
    dated_content.files = vec![FileSpec {
        path: "last-run.txt".into(),
        content: "ran at $(date +%H:%M)".into(),
        ..Default::default()
    }];
    assert!(
        delivery(dated_content).record_first,
        "a file's content rendered from the instant"
    );
}
