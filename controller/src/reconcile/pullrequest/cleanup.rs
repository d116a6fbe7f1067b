//! A deleted PullRequest's cleanup: its open pull request is closed and its head branch
//! deleted, unless `spec.pullRequest.keepOnDeletion`.
//!
//! Only what the status says the operator made is touched: the pull request whose number and
//! URL the status recorded, and the head branch the status recorded, while it still holds the
//! commit the operator last pushed. A spec edited before the deletion to name another pull
//! request's head branch, a branch someone else pushed to, or one the operator never wrote, is
//! never closed or deleted.

use gco_api::{PullRequest, PullRequestState};

use super::{deliver::forge_for, head_branch};
use crate::reconcile::{driver::Reconcile, finalize::Cleanup};

pub async fn clean_up(r: &mut Reconcile<'_, PullRequest>) -> Cleanup {
    let status = &r.status;
    let recorded_head = status.head_branch.clone();
    let recorded_sha = status.head_sha.clone();
    let recorded_pr = status
        .pull_request_number
        .zip(status.pull_request_url.clone());
    if recorded_head.is_none() && recorded_pr.is_none() {
        return Cleanup::Done("nothing was delivered: nothing to clean up".to_owned());
    }
    let credentials = match r.credentials_or_missing().await {
        Ok(credentials) => credentials,
        Err(Ok(failure)) => return Cleanup::Retry(failure),
        Err(Err(missing)) => {
            return Cleanup::Impossible(format!("{missing}, so the forge cannot be reached"));
        }
    };
    let forge = match forge_for(r, &credentials) {
        Ok(forge) => forge,
        Err(failure) => return Cleanup::Retry(failure),
    };
    let head = head_branch(&r.object.spec, &r.owner.namespace, &r.owner.name);
    let mut done = Vec::new();
    if let Some((number, url)) = recorded_pr {
        match forge.get(number).await {
            Ok(pr) if pr.state == PullRequestState::Open && pr.url == url => {
                if let Err(error) = forge.close(number).await {
                    return Cleanup::Retry(error.into());
                }
                done.push(format!("closed pull request #{number}"));
            }
            Ok(pr) if pr.url != url => done.push(format!(
                "left pull request #{number} alone: the spec now names another repository"
            )),
            Ok(_) | Err(crate::forge::ForgeError::NotFound { .. }) => {}
            Err(error) => return Cleanup::Retry(error.into()),
        }
    }
    if recorded_head.as_deref() == Some(head.as_str()) {
        match forge.branch_tip(&head).await {
            Ok(Some(tip)) if Some(&tip) == recorded_sha.as_ref() => {
                if let Err(error) = forge.delete_branch(&head).await {
                    return Cleanup::Retry(error.into());
                }
                done.push(format!("deleted head branch {head}"));
            }
            Ok(Some(_)) => done.push(format!(
                "kept head branch {head}: it holds commits the operator did not push"
            )),
            Ok(None) => {}
            Err(error) => return Cleanup::Retry(error.into()),
        }
    } else if let Some(recorded) = recorded_head {
        done.push(format!(
            "kept head branch {recorded}: the spec now names another head branch"
        ));
    }
    if done.is_empty() {
        done.push("nothing was left to clean up".to_owned());
    }
    Cleanup::Done(done.join("; "))
}
