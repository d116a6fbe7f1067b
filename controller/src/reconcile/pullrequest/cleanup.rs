//! A deleted PullRequest's cleanup: its open pull request is closed and its head branch
//! deleted, unless `spec.pullRequest.keepOnDeletion`. The head branch goes only while it still
//! holds the commit the operator last pushed: a branch someone else pushed to, or one the spec
//! happens to name that the operator never wrote, is never deleted.

use gco_api::PullRequest;

use super::{deliver::forge_for, head_branch};
use crate::reconcile::{Failure, driver::Reconcile};

/// What the cleanup did, for the event.
pub async fn clean_up(r: &mut Reconcile<'_, PullRequest>) -> Result<String, Failure> {
    let credentials = r.credentials().await?;
    let forge = forge_for(r, &credentials)?;
    let spec = &r.object.spec;
    let head = head_branch(spec, &r.owner.namespace, &r.owner.name);
    let base = spec.repository.base_branch();
    let mut done = Vec::new();
    // Looked up rather than taken from the status: a pull request opened just before a crash
    // is not in the status yet.
    if let Some(open) = forge.find_open(&head, base).await? {
        forge.close(open.number).await?;
        done.push(format!("closed pull request #{}", open.number));
    }
    let ours = r.status.head_sha.as_deref();
    match forge.branch_tip(&head).await? {
        Some(tip) if Some(tip.as_str()) == ours => {
            forge.delete_branch(&head).await?;
            done.push(format!("deleted head branch {head}"));
        }
        Some(_) => done.push(format!(
            "kept head branch {head}: it holds commits the operator did not push"
        )),
        None => {}
    }
    if done.is_empty() {
        done.push("nothing was left to clean up".to_owned());
    }
    Ok(done.join("; "))
}
