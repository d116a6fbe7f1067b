//! Commit messages with trailers, and finding a run's commit in recent history.

use git2::{Oid, Repository, Sort};

use super::change::{Change, OBJECT_TRAILER, RUN_TRAILER, RunId};

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
        message.push_str("Update from git-change-operator");
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

/// The commit among the last [`RUN_LOOKBACK`] reachable from `tip` that carries `run`'s
/// trailer. Stops quietly at the edge of a shallow history.
pub fn find_run(repo: &Repository, tip: Oid, run: &RunId) -> Option<Oid> {
    let wanted = format!("{RUN_TRAILER}: {run}");
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
        if message.lines().any(|line| line.trim_end() == wanted) {
            return Some(oid);
        }
    }
    None
}
