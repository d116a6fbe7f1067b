//! `history`: the runs an object keeps in `status.history` (newest first, at most ten), and
//! the run in progress, if any.

use jiff::Timestamp;

use crate::{
    object::Exported,
    table::{self, Cell},
};

/// The history table of `object`, or a line saying it has not run yet.
pub fn render(object: &Exported, now: Timestamp) -> String {
    let Some(status) = object.status() else {
        return "No runs yet: the controller has not handled this object.\n".to_owned();
    };
    let rows: Vec<Vec<Cell>> = status
        .history
        .iter()
        .map(|run| {
            let result = format!("{:?}", run.result);
            vec![
                Cell::plain(run.time.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                Cell::plain(table::age(now, run.time.0)),
                Cell::severity(&result),
                Cell::plain(run.commit_sha.as_deref().unwrap_or("-")),
            ]
        })
        .collect();
    let mut out = if rows.is_empty() {
        "No finished runs yet.\n".to_owned()
    } else {
        table::render(&["TIME", "AGE", "RESULT", "COMMIT"], &rows)
    };
    if let Some(run) = status.run.as_ref().filter(|r| !r.done) {
        out.push_str(&format!(
            "Run {} is in progress (started {} ago).\n",
            run.id,
            table::age(now, run.time.0)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::tests::gitcommit;
    use serde_json::json;

    #[test]
    fn runs_print_newest_first_with_their_commit() {
        let now: Timestamp = "2026-01-02T01:00:00Z".parse().expect("now");
        let object = gitcommit(json!({ "history": [
            { "time": "2026-01-02T00:30:00Z", "result": "Failed" },
            { "time": "2026-01-02T00:00:00Z", "result": "Committed", "commitSHA": "abc123" },
        ]}));
        let text = render(&object, now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].starts_with("2026-01-02T00:30:00Z   30m"), "{text}");
        assert!(lines[1].contains("Failed"), "{text}");
        assert!(lines[2].ends_with("Committed   abc123"), "{text}");
        assert!(render(&gitcommit(json!(null)), now).starts_with("No runs yet"));
    }
}
