//! What callers hand the engine, and what they get back.

use std::fmt;

use jiff::Timestamp;

use crate::render::PlannedWrite;

use super::{GitError, SigningKey, recover::Claims};

pub use gco_api::rules::DEFAULT_AUTHOR;

/// The trailer that names the object a commit is for.
pub const OBJECT_TRAILER: &str = "Gco-Object";
/// The trailer that names the run a commit is for; how a retried run finds its own commit.
pub const RUN_TRAILER: &str = "Gco-Run";

/// Identifies one run of one object, e.g. `<uid>-<generation>-<trigger>`. It goes into a
/// commit trailer, so it is one line of plain characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RunId(String);

impl RunId {
    /// Longest accepted id.
    pub const MAX_LEN: usize = 128;

    /// Accepts 1 to 128 characters of `A-Z a-z 0-9 . _ : / + = -`.
    pub fn new(id: &str) -> Result<Self, GitError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._:/+=-".contains(c);
        if id.is_empty() || id.len() > Self::MAX_LEN || !id.chars().all(allowed) {
            return Err(GitError::InvalidRunId {
                id: id.chars().take(Self::MAX_LEN).collect(),
            });
        }
        Ok(RunId(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The object a change is for, as the `Gco-Object` trailer names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectRef {
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

/// A commit author, parsed from `Name <email>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Author {
    pub name: String,
    pub email: String,
}

impl Author {
    /// Parses `Name <email>`; an error message says what to write otherwise.
    pub fn parse(text: &str) -> Result<Self, GitError> {
        let invalid = || GitError::InvalidAuthor {
            author: text.to_owned(),
        };
        let (name, rest) = text.split_once('<').ok_or_else(invalid)?;
        let email = rest.strip_suffix('>').ok_or_else(invalid)?;
        let name = name.trim();
        let bad = |s: &str| s.is_empty() || s.contains(['<', '>', '\n', '\0']);
        if bad(name) || bad(email) {
            return Err(invalid());
        }
        Ok(Author {
            name: name.to_owned(),
            email: email.trim().to_owned(),
        })
    }

    /// [`DEFAULT_AUTHOR`], the author when neither the spec nor a policy names one.
    pub fn operator() -> Self {
        Self::parse(DEFAULT_AUTHOR).expect("the default author is `Name <email>`")
    }
}

/// One object's files for one run: what the controller asks the engine to commit.
#[derive(Clone, Debug)]
pub struct Change {
    pub object: ObjectRef,
    pub run: RunId,
    pub author: Author,
    /// The commit message, placeholders already rendered.
    pub message: String,
    pub writes: Vec<PlannedWrite>,
    /// The key the change's commit is signed with (`spec.commit.signingKey`); `None`: unsigned.
    /// Changes share a commit only when they share a key.
    pub signing: Option<SigningKey>,
    /// The run's instant, recorded before anything is pushed: its commit is not older (less
    /// a clock skew allowance), which bounds how far back a retry looks for it (`history.rs`).
    pub at: Timestamp,
    /// A pruning object whose inventory was lost: which files it may claim, to find on the
    /// branch those it wrote and no longer writes (`recover.rs`).
    pub recover: Option<Claims>,
}

/// What became of a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Pushed in `commit` (shared with other changes when they were coalesced).
    Committed { commit: String },
    /// The branch already had this content; nothing was committed. `tip` is the branch tip
    /// (`None`: the branch does not exist and nothing needed creating).
    NoChanges { tip: Option<String> },
    /// The run's commit was already on the branch (a retry after a crash): not committed again.
    AlreadyApplied { commit: String },
}

impl Outcome {
    /// The commit the object's status should name.
    pub fn commit(&self) -> Option<&str> {
        match self {
            Outcome::Committed { commit } | Outcome::AlreadyApplied { commit } => Some(commit),
            Outcome::NoChanges { tip } => tip.as_deref(),
        }
    }
}
