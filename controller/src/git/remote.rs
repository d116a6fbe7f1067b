//! Talking to the remote: fetch the branches a batch needs, push without force.

use std::{cell::RefCell, rc::Rc};

use git2::{
    AutotagOption, ErrorClass, ErrorCode, FetchOptions, Oid, PushOptions, RemoteRedirect,
    Repository,
};

use super::{
    Credentials, GitError,
    redact::{redact_secrets, redact_url},
    url::RepoUrl,
};

/// How many commits of history a branch's first fetch brings, where the transport supports
/// shallow fetches: enough for [`super::history::find_runs`] on most branches; a search that
/// reaches the edge of this history before its run's instant deepens it ([`Remote::deepen`]).
pub(crate) const HISTORY_DEPTH: i32 = 64;

/// A connection's worth of context: where, with which credentials.
pub(crate) struct Remote<'a> {
    pub repo: &'a Repository,
    pub url: &'a RepoUrl,
    pub credentials: &'a Credentials,
    /// Held by every fetch: batches on other branches of the repository run meanwhile,
    /// but two fetches never write its shared files (the shallow file, packs) at once.
    pub fetch_lock: &'a std::sync::Mutex<()>,
}

/// Why a push did not land.
pub(crate) enum PushFailure {
    /// The branch moved under us (non-fast-forward, stale, or locked by a concurrent push):
    /// fetch and try again.
    Moved(String),
    /// Anything else, final.
    Failed(GitError),
}

impl Remote<'_> {
    /// The remote-tracking ref a branch is fetched into.
    pub(crate) fn tracking_ref(branch: &str) -> String {
        format!("refs/remotes/origin/{branch}")
    }

    /// Fetches `branches` and returns their tips on the remote, `None` for a branch that does
    /// not exist. Downloads nothing when the tips are already in the cache.
    pub(crate) fn fetch(&self, branches: &[&str]) -> Result<Vec<Option<Oid>>, GitError> {
        let shallow = self.url.supports_shallow() && !self.has_tracking_refs(branches);
        match self.fetch_with_depth(branches, shallow) {
            // Some servers (dumb HTTP, old daemons) cannot serve shallow fetches.
            Err(GitError::Network { detail, .. }) if detail.contains("shallow") => {
                self.fetch_with_depth(branches, false)
            }
            other => other,
        }
    }

    /// Fetches `branch` and returns its tip on the remote (`None`: it does not exist).
    pub(crate) fn fetch_tip(&self, branch: &str) -> Result<Option<Oid>, GitError> {
        Ok(self.fetch(&[branch])?.into_iter().next().flatten())
    }

    /// Fetches the remote's default branch (what `HEAD` points to) and returns its tip:
    /// where a new branch starts.
    pub(crate) fn fetch_default_branch(&self) -> Result<Option<Oid>, GitError> {
        let refspec = format!("+HEAD:{}", Self::tracking_ref("HEAD"));
        let shallow = self.url.supports_shallow() && !self.has_tracking_refs(&["HEAD"]);
        let depth = shallow.then_some(HISTORY_DEPTH);
        let heads = match self.fetch_refspecs(std::slice::from_ref(&refspec), depth, "HEAD") {
            Err(GitError::Network { detail, .. }) if detail.contains("shallow") => {
                self.fetch_refspecs(&[refspec], None, "HEAD")?
            }
            other => other?,
        };
        Ok(heads
            .into_iter()
            .find(|(name, _)| name == "HEAD")
            .map(|(_, oid)| oid))
    }

    /// Fetches `branch` (`None`: the remote's default branch) `depth` commits deep, deepening
    /// a shallow history fetched before; the tracking ref moves to the remote's tip. libgit2
    /// (1.9) deepens by a larger depth, sending the clone's current edge; it has no
    /// "deepen since a date", which is why callers step the depth up.
    pub(crate) fn deepen(&self, branch: Option<&str>, depth: i32) -> Result<(), GitError> {
        let (refspec, what) = match branch {
            Some(branch) => (
                format!("+refs/heads/{branch}:{}", Self::tracking_ref(branch)),
                branch,
            ),
            None => (format!("+HEAD:{}", Self::tracking_ref("HEAD")), "HEAD"),
        };
        self.fetch_refspecs(&[refspec], Some(depth), what).map(drop)
    }

    /// Whether every branch was fetched before. Only the first fetch of a branch is shallow:
    /// with a depth, libgit2 negotiates a pack on every fetch, even when it already has the
    /// tip; without one, a fetch that finds nothing new costs one ref advertisement.
    fn has_tracking_refs(&self, branches: &[&str]) -> bool {
        branches
            .iter()
            .all(|b| self.repo.find_reference(&Self::tracking_ref(b)).is_ok())
    }

    fn fetch_with_depth(
        &self,
        branches: &[&str],
        shallow: bool,
    ) -> Result<Vec<Option<Oid>>, GitError> {
        let refspecs: Vec<String> = branches
            .iter()
            .map(|b| format!("+refs/heads/{b}:{}", Self::tracking_ref(b)))
            .collect();
        let depth = shallow.then_some(HISTORY_DEPTH);
        let heads = self.fetch_refspecs(&refspecs, depth, &branches.join(", "))?;
        let tips = branches
            .iter()
            .map(|branch| {
                let name = format!("refs/heads/{branch}");
                heads.iter().find(|(n, _)| *n == name).map(|(_, oid)| *oid)
            })
            .collect();
        Ok(tips)
    }

    /// Fetches `refspecs`, `depth` commits deep if given; returns every ref the remote
    /// advertised, with its id.
    fn fetch_refspecs(
        &self,
        refspecs: &[String],
        depth: Option<i32>,
        what: &str,
    ) -> Result<Vec<(String, Oid)>, GitError> {
        let failure = Rc::new(RefCell::new(None));
        let mut remote = self
            .repo
            .remote_anonymous(self.url.as_str())
            .map_err(GitError::repository)?;
        let headers = self.credentials.http_headers(self.url);
        let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(self.credentials.callbacks(self.url, Rc::clone(&failure)))
            .custom_headers(&header_refs)
            // A redirect would take the credentials (and the bearer header, sent on every
            // request) to whatever host the server names: never follow one.
            .follow_redirects(RemoteRedirect::None)
            .download_tags(AutotagOption::None)
            .update_fetchhead(false);
        if let Some(depth) = depth {
            options.depth(depth);
        }
        let _fetching = self
            .fetch_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        remote
            .fetch(refspecs, Some(&mut options), None)
            .map_err(|error| self.classify(&error, &failure, what.to_owned()))?;
        // The advertised refs stay readable after the fetch disconnects.
        let heads = remote.list().map_err(GitError::repository)?;
        Ok(heads
            .iter()
            .map(|h| (h.name().to_owned(), h.oid()))
            .collect())
    }

    /// Pushes `local_ref` to `branch` without force: the server accepts it only as a
    /// fast-forward of the branch (or as the branch's creation).
    ///
    /// `expected` is what the branch must be on the remote when the push starts (`None`:
    /// absent): checked against the remote's ref advertisement before any object is sent,
    /// so a push built on a stale tip costs no upload, and a lease holds.
    pub(crate) fn push(
        &self,
        local_ref: &str,
        branch: &str,
        expected: Option<Oid>,
    ) -> Result<(), PushFailure> {
        let failure = Rc::new(RefCell::new(None));
        let status: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
        let moved: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
        let mut remote = self
            .repo
            .remote_anonymous(self.url.as_str())
            .map_err(|e| PushFailure::Failed(GitError::repository(e)))?;
        let mut callbacks = self.credentials.callbacks(self.url, Rc::clone(&failure));
        let seen = Rc::clone(&status);
        callbacks.push_update_reference(move |_refname, message| {
            if let Some(message) = message {
                *seen.borrow_mut() = Some(message.to_owned());
            }
            Ok(())
        });
        let target = format!("refs/heads/{branch}");
        let saw_move = Rc::clone(&moved);
        callbacks.push_negotiation(move |updates| {
            let expected = expected.unwrap_or(Oid::ZERO_SHA1);
            for update in updates {
                if update.dst_refname() == Ok(target.as_str()) && update.src() != expected {
                    *saw_move.borrow_mut() = Some(format!(
                        "the branch is at {} on the remote, not {expected}",
                        update.src()
                    ));
                    return Err(git2::Error::from_str("stale branch tip"));
                }
            }
            Ok(())
        });
        let headers = self.credentials.http_headers(self.url);
        let header_refs: Vec<&str> = headers.iter().map(String::as_str).collect();
        let mut options = PushOptions::new();
        options
            .remote_callbacks(callbacks)
            .custom_headers(&header_refs)
            .follow_redirects(RemoteRedirect::None);
        let refspec = format!("{local_ref}:refs/heads/{branch}");
        if let Err(error) = remote.push(&[refspec], Some(&mut options)) {
            if let Some(reason) = moved.borrow_mut().take() {
                return Err(PushFailure::Moved(reason));
            }
            if error.code() == ErrorCode::NotFastForward || is_race(error.message()) {
                return Err(PushFailure::Moved(error.message().to_owned()));
            }
            return Err(PushFailure::Failed(self.classify(
                &error,
                &failure,
                branch.to_owned(),
            )));
        }
        let rejection = status.borrow_mut().take();
        match rejection {
            None => Ok(()),
            Some(message) if is_race(&message) => Err(PushFailure::Moved(message)),
            Some(message) => Err(PushFailure::Failed(GitError::PushRejected {
                branch: branch.to_owned(),
                reason: self.scrub(&message),
            })),
        }
    }

    /// A libgit2 error as a typed [`GitError`], preferring what our callbacks recorded.
    pub(crate) fn classify(
        &self,
        error: &git2::Error,
        failure: &RefCell<Option<GitError>>,
        branch: String,
    ) -> GitError {
        if let Some(recorded) = failure.borrow_mut().take() {
            return recorded;
        }
        let url = self.url.redacted();
        let detail = self.scrub(error.message());
        let lower = detail.to_ascii_lowercase();
        match (error.code(), error.class()) {
            (ErrorCode::Auth, _) => GitError::AuthFailed { url, detail },
            (ErrorCode::Certificate, ErrorClass::Ssh) => GitError::HostKeyRejected {
                host: self.url.host().to_owned(),
                reason: detail,
            },
            (ErrorCode::Certificate, _) => GitError::CertificateRejected {
                host: self.url.host().to_owned(),
                reason: detail,
            },
            _ if lower.contains("certificate") => GitError::CertificateRejected {
                host: self.url.host().to_owned(),
                reason: detail,
            },
            _ if lower.contains("401")
                || lower.contains("403")
                || lower.contains("authentication") =>
            {
                GitError::AuthFailed { url, detail }
            }
            _ if lower.contains("404")
                || lower.contains("not found")
                || lower.contains("not appear to be a git repository")
                || lower.contains("could not find repository") =>
            {
                GitError::NotFound {
                    url,
                    branch,
                    detail,
                }
            }
            (
                _,
                ErrorClass::Net
                | ErrorClass::Http
                | ErrorClass::Ssh
                | ErrorClass::Ssl
                | ErrorClass::Os,
            ) => GitError::Network { url, detail },
            _ => GitError::Repository { detail },
        }
    }

    /// A server or libgit2 message with URLs and secrets taken out.
    fn scrub(&self, message: &str) -> String {
        let without_secrets = redact_secrets(message, self.credentials.secrets());
        without_secrets
            .split(' ')
            .map(|word| {
                if word.contains("://") {
                    redact_url(word)
                } else {
                    word.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Rejections that mean "someone else pushed first": fetch and apply again.
fn is_race(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    [
        "non-fast-forward",
        "fetch first",
        "stale",
        "failed to lock",
        "cannot lock",
        "failed to update ref",
    ]
    .iter()
    .any(|m| lower.contains(m))
}
