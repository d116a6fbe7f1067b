//! Where a repository lives on its forge: `owner/name` on GitHub and Gitea,
//! `group/subgroup/…/name` on GitLab. The forge clients put these segments into API paths,
//! so they are held to the characters every forge allows in names.

use std::fmt;

/// `owner/name` or `group/subgroup/name`, without `.git`: two or more segments of letters,
/// digits, `-`, `_` and `.`, none of them `.` or `..`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ForgePath {
    path: String,
    /// Where the last segment starts.
    name_at: usize,
}

/// Why a URL names no repository on a forge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ForgePathError {
    #[error("a local repository is not on a forge: write an `https://host/owner/name` URL")]
    Local,
    #[error("the path must name `<owner>/<name>` (or `<group>/<subgroup>/<name>` on GitLab)")]
    TooShort,
    #[error(
        "each segment of the repository path must be letters, digits, `-`, `_` or `.`, and not `.` or `..`"
    )]
    Characters,
}

impl ForgePath {
    /// Reads a URL path (`/owner/name.git`, `owner/name`, `/group/sub/name/`): leading and
    /// trailing `/` and one `.git` suffix are dropped.
    pub fn parse(path: &str) -> Result<Self, ForgePathError> {
        let path = path.trim_start_matches('/').trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        let Some(slash) = path.rfind('/') else {
            return Err(ForgePathError::TooShort);
        };
        if !path.split('/').all(is_safe_segment) {
            return Err(ForgePathError::Characters);
        }
        Ok(ForgePath {
            path: path.to_owned(),
            name_at: slash + 1,
        })
    }

    /// `owner/name` or `group/subgroup/name`.
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// Every segment, first to last.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/')
    }

    /// The first segment: the owner on GitHub and Gitea, the top-level group on GitLab.
    pub fn owner(&self) -> &str {
        self.segments().next().unwrap_or_default()
    }

    /// Everything before the name: `owner`, or `group/subgroup`.
    pub fn namespace(&self) -> &str {
        &self.path[..self.name_at - 1]
    }

    /// The repository's own name, the last segment.
    pub fn name(&self) -> &str {
        &self.path[self.name_at..]
    }

    /// Whether it is exactly `owner/name`, the only shape GitHub and Gitea have.
    pub fn is_owner_and_name(&self) -> bool {
        !self.namespace().contains('/')
    }
}

impl fmt::Display for ForgePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

impl fmt::Debug for ForgePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ForgePath({:?})", self.path)
    }
}

fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
