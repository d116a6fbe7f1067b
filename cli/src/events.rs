//! `events`: the `events.k8s.io/v1` events regarding one object, oldest first, as `kubectl
//! events --for` prints them.

use jiff::Timestamp;
use k8s_openapi::api::events::v1::Event;
use kube::{Api, api::ListParams};

use crate::{
    cluster::Cluster,
    error::CliError,
    object::Exported,
    table::{self, Cell},
    target::Target,
};

/// The events regarding `object`, oldest first.
pub async fn for_object(cluster: &Cluster, object: &Exported) -> Result<Vec<Event>, CliError> {
    let namespace = object.namespace();
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), &namespace);
    let params = ListParams::default().fields(&format!("regarding.name={}", object.name()));
    let list = api
        .list(&params)
        .await
        .map_err(|e| CliError::kube(format!("list events in namespace {namespace}"), e))?;
    let mut events: Vec<Event> = list
        .items
        .into_iter()
        .filter(|e| regards(e, object))
        .collect();
    events.sort_by_key(when);
    Ok(events)
}

/// Whether `event` is about `object`: by uid when it names one, else by kind and name.
fn regards(event: &Event, object: &Exported) -> bool {
    let Some(regarding) = &event.regarding else {
        return false;
    };
    match (&regarding.uid, object.uid()) {
        (Some(uid), Some(own)) => *uid == own,
        _ => {
            regarding.kind.as_deref() == Some(object.kind().as_str())
                && regarding.name.as_deref() == Some(object.name().as_str())
        }
    }
}

/// When an event last happened: its series' last observation, its time, or its creation.
fn when(event: &Event) -> Option<Timestamp> {
    event
        .series
        .as_ref()
        .map(|s| s.last_observed_time.0)
        .or_else(|| event.event_time.as_ref().map(|t| t.0))
        .or_else(|| event.deprecated_last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The table of `events`: LAST SEEN, TYPE, REASON, MESSAGE.
pub fn render(events: &[Event], now: Timestamp) -> String {
    let rows: Vec<Vec<Cell>> = events
        .iter()
        .map(|event| {
            vec![
                Cell::plain(when(event).map_or_else(|| "-".to_owned(), |t| table::age(now, t))),
                Cell::severity(event.type_.as_deref().unwrap_or("Normal")),
                Cell::plain(event.reason.as_deref().unwrap_or("-")),
                Cell::plain(event.note.as_deref().unwrap_or("").replace('\n', " ")),
            ]
        })
        .collect();
    table::render(&["LAST SEEN", "TYPE", "REASON", "MESSAGE"], &rows)
}

pub async fn run(cluster: &Cluster, target: &Target) -> Result<String, CliError> {
    let object = cluster.get(target).await?;
    let events = for_object(cluster, &object).await?;
    if events.is_empty() {
        return Ok(format!(
            "No events regarding {target} in namespace {}.\n",
            cluster.namespace
        ));
    }
    Ok(render(&events, Timestamp::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::gitcommit;
    use serde_json::json;

    fn event(uid: &str, reason: &str, type_: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": { "name": "e", "creationTimestamp": "2026-01-02T00:00:00Z" },
            "eventTime": "2026-01-02T00:00:00.000000Z",
            "regarding": { "kind": "GitCommit", "name": "app", "uid": uid },
            "reason": reason, "type": type_, "note": "a\nb",
            "reportingController": "git-change-operator", "reportingInstance": "c", "action": "Reconcile",
        }))
        .expect("an event")
    }

    #[test]
    fn only_events_of_this_very_object_count() {
        let object = gitcommit(json!({}));
        assert!(regards(&event("u1", "CommitPushed", "Normal"), &object));
        // A deleted and recreated object of the same name has another uid.
        assert!(!regards(&event("u0", "CommitPushed", "Normal"), &object));
    }

    #[test]
    fn events_print_as_one_line_each() {
        let now: Timestamp = "2026-01-02T00:01:00Z".parse().expect("now");
        let text = render(&[event("u1", "PolicyDenied", "Warning")], now);
        let mut plain = Vec::new();
        std::io::Write::write_all(&mut anstream::StripStream::new(&mut plain), text.as_bytes())
            .expect("strip");
        assert_eq!(
            String::from_utf8(plain).expect("utf-8"),
            "LAST SEEN   TYPE      REASON         MESSAGE\n60s         Warning   PolicyDenied   a b\n"
        );
    }
}
