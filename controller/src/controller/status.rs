//! Writing status: the whole status, server-side applied on the status subresource under one
//! field manager, so fields the controller stops setting are removed.

use gco_api::{ExportStatus, Phase, RunRecord, RunResult, status::HISTORY_LIMIT};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{
    Api, Resource,
    api::{Patch, PatchParams},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::json;

use super::{Error, FIELD_MANAGER};
use crate::conditions::{self, Verdict};

/// Applies a verdict to `status`: conditions, message, phase and (for a decided run)
/// `observedGeneration`.
pub fn judge(
    status: &mut ExportStatus,
    verdict: &Verdict,
    generation: i64,
    done: Phase,
    now: Timestamp,
) {
    conditions::apply(&mut status.conditions, verdict, generation, now);
    status.message = Some(verdict.message().to_owned());
    status.phase = Some(match verdict {
        Verdict::Progressing { .. } => Phase::Running,
        Verdict::Succeeded { .. } => done,
        Verdict::Retrying { .. } | Verdict::Stalled { .. } => Phase::Failed,
    });
    if !matches!(verdict, Verdict::Progressing { .. }) {
        status.observed_generation = Some(generation);
    }
}

/// Records a finished run at the head of `status.history`, keeping the newest
/// [`HISTORY_LIMIT`].
pub fn remember(
    status: &mut ExportStatus,
    result: RunResult,
    commit: Option<&str>,
    now: Timestamp,
) {
    status.history.insert(
        0,
        RunRecord {
            time: Time(now),
            commit_sha: commit.map(str::to_owned),
            result,
        },
    );
    status.history.truncate(HISTORY_LIMIT);
}

/// Server-side applies `status` (any serialisable status shape) to `name`.
pub async fn write<K, S>(api: &Api<K>, name: &str, status: &S) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| Error::StatusWrite {
        object: format!("{}/{name}", K::kind(&())),
        source,
    })
}
