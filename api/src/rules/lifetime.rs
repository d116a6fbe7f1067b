//! How long an export lives: `ttlSecondsAfterFinished` deletes a one-shot GitCommit after its
//! last successful run, so it cannot be combined with a `schedule`, whose export runs again at
//! every tick and never finishes (docs/user-guide.md, History and expiry), nor with `prune`,
//! whose deletion takes the export's files with it.

use super::{ExportRequest, Rule, Violation, Violations};

/// Refuses `ttlSecondsAfterFinished` together with `schedule`, or with `prune`.
pub(super) fn check(request: &ExportRequest<'_>, out: &mut Violations) {
    if let (Some(ttl), true) = (request.ttl_seconds_after_finished, request.prune) {
        out.push(Violation::new(
            "spec.ttlSecondsAfterFinished",
            Rule::TtlWithPrune,
            format!(
                "`ttlSecondsAfterFinished: {ttl}` deletes the GitCommit after its run, and with `prune: true` deleting it deletes the files it exported: the export would be undone"
            ),
            "remove `prune` to keep a one-shot export's files, or remove `ttlSecondsAfterFinished` to keep the GitCommit",
        ));
    }
    let (Some(ttl), Some(schedule)) = (
        request.ttl_seconds_after_finished,
        request.export.schedule.as_deref(),
    ) else {
        return;
    };
    out.push(Violation::new(
        "spec.ttlSecondsAfterFinished",
        Rule::TtlWithSchedule,
        format!(
            "`ttlSecondsAfterFinished: {ttl}` deletes the GitCommit after its last successful run, but `schedule: {schedule:?}` runs it again at every tick: it never finishes"
        ),
        "remove `ttlSecondsAfterFinished` to keep the scheduled export, or remove `schedule` for a one-shot export that is deleted after it ran",
    ));
}

#[cfg(test)]
mod tests {
    use super::super::{ExportRequest, Rule, evaluate, tests::commit};

    #[test]
    fn a_ttl_is_refused_with_a_schedule_only() {
        let mut spec = commit();
        spec.ttl_seconds_after_finished = Some(60);
        assert!(evaluate(&ExportRequest::git_commit("ns", &spec), &[]).is_ok());
        spec.export.schedule = Some("@daily".into());
        let refused = evaluate(&ExportRequest::git_commit("ns", &spec), &[]).expect_err("refused");
        assert_eq!(refused.0.len(), 1, "{refused}");
        let violation = &refused.0[0];
        assert_eq!(violation.field, "spec.ttlSecondsAfterFinished");
        assert_eq!(violation.rule, Rule::TtlWithSchedule);
        assert!(violation.fix.contains("remove `schedule`"), "{refused}");
        spec.ttl_seconds_after_finished = None;
        assert!(evaluate(&ExportRequest::git_commit("ns", &spec), &[]).is_ok());
    }

    #[test]
    fn a_ttl_is_refused_with_prune() {
        let mut spec = commit();
        spec.prune = true;
        assert!(evaluate(&ExportRequest::git_commit("ns", &spec), &[]).is_ok());
        spec.ttl_seconds_after_finished = Some(60);
        let refused = evaluate(&ExportRequest::git_commit("ns", &spec), &[]).expect_err("refused");
        assert_eq!(refused.0.len(), 1, "{refused}");
        assert_eq!(refused.0[0].rule, Rule::TtlWithPrune);
        assert!(refused.0[0].fix.contains("remove `prune`"), "{refused}");
    }
}
