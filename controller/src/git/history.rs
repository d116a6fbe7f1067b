//! Commit messages with trailers, and finding a run's commit in recent history.

use git2::{Oid, Repository, Sort};

use super::change::{Change, OBJECT_TRAILER, RUN_TRAILER};

/// How many recent commits are searched for a run's trailer. Bounded so the check costs the
/// same on a branch with 100 commits as on one with 50,000.
pub const RUN_LOOKBACK: usize = 64;

/// The message of a commit carrying `changes`: one change's message as is; several changes'
/// messages listed under a summary line. Then one `Gco-Object`/`Gco-Run` pair per change.
pub(crate) fn commit_message(changes: &[&Change]) -> String {
    let mut message = match changes {
        [single] => single.message.trim_end().to_owned(),
        many => {
            let mut seen = Vec::new();
            for change in many {
                let line = change.message.trim_end();
                if !seen.contains(&line) {
                    seen.push(line);
                }
            }
            let mut text = format!("Update {} objects from git-change-operator\n", many.len());
            for line in seen {
                text.push('\n');
                text.push_str(line);
            }
            text
        }
    };
    if message.is_empty() {
        message.push_str(gco_api::rules::DEFAULT_COMMIT_MESSAGE);
    }
    message.push_str("\n\n");
    for change in changes {
        message.push_str(&format!(
            "{OBJECT_TRAILER}: {}\n{RUN_TRAILER}: {}\n",
            change.object, change.run
        ));
    }
    message
}

/// The newest commit among the last [`RUN_LOOKBACK`] reachable from `tip` whose message
/// `is_run` accepts: [`super::trailers::carries_run`] for a change's own run, which reads
/// only the trailer block, so a user's message cannot pass for another run. Stops quietly
/// at the edge of a shallow history.
pub(crate) fn find_run(repo: &Repository, tip: Oid, is_run: impl Fn(&str) -> bool) -> Option<Oid> {
    let mut walk = repo.revwalk().ok()?;
    // Newest first and incremental: a topological sort would walk all history before
    // yielding the first commit, making this cost grow with the branch's age.
    walk.set_sorting(Sort::TIME).ok()?;
    walk.push(tip).ok()?;
    for oid in walk.take(RUN_LOOKBACK) {
        let Ok(oid) = oid else { break };
        let Ok(commit) = repo.find_commit(oid) else {
            break;
        };
        let message = String::from_utf8_lossy(commit.message_bytes());
        if is_run(&message) {
            return Some(oid);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::{
        change::Author,
        trailers::{
            carries_run,
            tests::{object, run},
        },
    };

    fn change(name: &str, id: &str, message: &str) -> Change {
        Change {
            object: object(name),
            run: run(id),
            author: Author::operator(),
            message: message.into(),
            writes: Vec::new(),
        }
    }

    #[test]
    fn the_engine_reads_back_its_own_trailers_and_nothing_a_user_wrote() {
        // A user's message ending in another object's pair: it stays above the engine's block.
        let quoting = change(
            "a",
            "run-a",
            "Update a\n\nGco-Object: ns/GitCommit/b\nGco-Run: run-b\n",
        );
        let other = change("c", "run-c", "Update c");
        for changes in [vec![&quoting], vec![&quoting, &other]] {
            let message = commit_message(&changes);
            for change in &changes {
                assert!(
                    carries_run(&message, &change.object, &change.run),
                    "{message}"
                );
            }
            let b = change("b", "run-b", "");
            assert!(!carries_run(&message, &b.object, &b.run), "{message}");
        }
    }
}
