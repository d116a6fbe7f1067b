//! The identity of a run: what makes two reconciles the same piece of work.
//!
//! A run is identified by the object's uid and generation, the resourceVersions of the objects
//! it reads, the schedule slot and the last requested reconcile. The id goes into the commit as
//! the `Gco-Run` trailer, so a run that is retried after a crash between push and status write
//! finds itself on the branch and does not commit (or append) again.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::git::RunId;

/// Everything a run's result depends on, besides the branch it writes to.
#[derive(Clone, Debug, Default)]
pub struct RunInputs<'a> {
    pub uid: &'a str,
    pub generation: i64,
    /// `(reference, resourceVersion)`: one entry per `spec.resourceReferences[]`, `None` for a
    /// missing optional object.
    pub references: Vec<(String, Option<String>)>,
    /// The schedule slot this run belongs to, if `spec.schedule` is set.
    pub schedule_slot: Option<Timestamp>,
    /// The last `requestedAt` annotation value.
    pub requested_at: Option<&'a str>,
}

/// The run's identity: 16 hex digits of a SHA-256 over its inputs.
pub fn derive_run_id(inputs: &RunInputs<'_>) -> RunId {
    let mut hash = Sha256::new();
    // Length-prefixed fields, so no two different inputs hash the same bytes.
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(inputs.uid.as_bytes());
    field(&inputs.generation.to_le_bytes());
    for (reference, version) in &inputs.references {
        field(reference.as_bytes());
        field(version.as_deref().unwrap_or("\0missing").as_bytes());
    }
    let slot = inputs
        .schedule_slot
        .map(|t| t.to_string())
        .unwrap_or_default();
    field(slot.as_bytes());
    field(inputs.requested_at.unwrap_or_default().as_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    RunId::new(&hex).expect("16 hex digits are a valid run id")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> RunInputs<'static> {
        RunInputs {
            uid: "3f1c",
            generation: 2,
            references: vec![("production/ConfigMap/app".into(), Some("41".into()))],
            schedule_slot: None,
            requested_at: None,
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_id() {
        assert_eq!(derive_run_id(&inputs()), derive_run_id(&inputs()));
        assert_eq!(derive_run_id(&inputs()).as_str().len(), 16);
    }

    #[test]
    fn every_input_changes_the_id() {
        let base = derive_run_id(&inputs());
        let mut changed = Vec::new();
        let mut i = inputs();
        i.generation = 3;
        changed.push(i);
        let mut i = inputs();
        i.references[0].1 = Some("42".into());
        changed.push(i);
        let mut i = inputs();
        i.references[0].1 = None;
        changed.push(i);
        let mut i = inputs();
        i.schedule_slot = Some("2026-11-22T02:00:00Z".parse().expect("timestamp"));
        changed.push(i);
        let mut i = inputs();
        i.requested_at = Some("now");
        changed.push(i);
        let mut i = inputs();
        i.uid = "other";
        changed.push(i);
        for i in changed {
            assert_ne!(derive_run_id(&i), base, "{i:?}");
        }
    }
}
