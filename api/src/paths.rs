//! Path safety: the one check every repository path passes before it becomes a tree entry.
//!
//! The rules (docs/architecture.md, Safe paths) mirror what Git itself refuses to check out with
//! `core.protectNTFS` and `core.protectHFS`, because a path that is harmless on the Linux box
//! that writes it can still overwrite `.git/config` on a colleague's Mac or Windows laptop.
//! [`check_path`] is the only way to make a [`SafePath`], so code that holds one needs no
//! further checks.

use std::fmt;

/// Longest accepted path, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted path component, in bytes (`NAME_MAX` on every common filesystem).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// A repository path that passed [`check_path`]: relative, normalised, `/`-separated, and safe
/// on Linux, macOS (HFS+/APFS) and Windows (NTFS) checkouts alike.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SafePath(String);

impl SafePath {
    /// The path as written in the repository, e.g. `clusters/prod/app.yaml`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated components; never empty, `.`, `..` or a `.git` spelling.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The path as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for SafePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SafePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Why a path was refused. The message names the rule and says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error(
        "the path is empty: write a path relative to the repository root, e.g. `clusters/app.yaml`"
    )]
    Empty,
    #[error(
        "path {path:?} is {len} bytes, longer than the limit of {MAX_PATH_BYTES}: write a shorter path"
    )]
    TooLong { path: String, len: usize },
    #[error(
        "path {path:?} contains a NUL or control character at byte {at}: write a path of printable characters only"
    )]
    ControlCharacter { path: String, at: usize },
    #[error("path {path:?} contains a backslash: separate folders with `/` (write {suggestion:?})")]
    Backslash { path: String, suggestion: String },
    #[error(
        "path {path:?} is absolute: paths are relative to the repository root (write {suggestion:?})"
    )]
    Absolute { path: String, suggestion: String },
    #[error(
        "path {path:?} has an empty component (`//` or a trailing `/`): write each folder name once, separated by a single `/`"
    )]
    EmptyComponent { path: String },
    #[error("path {path:?} has a `.` component: leave it out (write {suggestion:?})")]
    CurrentDir { path: String, suggestion: String },
    #[error(
        "path {path:?} has a `..` component: paths may not leave the repository root or climb folders; write the target folder directly"
    )]
    ParentDir { path: String },
    #[error(
        "component {component:?} of path {path:?} is {len} bytes, longer than the limit of {MAX_COMPONENT_BYTES}: write a shorter name"
    )]
    ComponentTooLong {
        path: String,
        component: String,
        len: usize,
    },
    #[error(
        "component {component:?} of path {path:?} names the `.git` folder (case, trailing dots or spaces, 8.3 short names and ignorable Unicode characters count): choose another folder name"
    )]
    GitDirectory { path: String, component: String },
    #[error(
        "component {component:?} of path {path:?} names the `{name}` file, which changes how the repository is checked out (case, trailing dots or spaces and NTFS short names count): choose another file name"
    )]
    GitMetadataFile {
        path: String,
        component: String,
        name: &'static str,
    },
    #[error(
        "component {component:?} of path {path:?} is the Windows device name `{device}`, which cannot be checked out on Windows: choose another name, e.g. `{device}-file`"
    )]
    WindowsDevice {
        path: String,
        component: String,
        device: String,
    },
}

/// Checks `path` against every rule of docs/architecture.md, Safe paths, and returns it as a [`SafePath`].
///
/// The path must already be in its final form: this function refuses (rather than repairs)
/// `.`, `..`, empty components and a trailing `/`, so what is checked is exactly what is
/// written. The `dump` rule's "ends in `/`" is the caller's business, before the check.
pub fn check_path(path: &str) -> Result<SafePath, PathError> {
    let owned = || path.to_owned();
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong {
            path: truncate(path),
            len: path.len(),
        });
    }
    if let Some((at, _)) = path.char_indices().find(|(_, c)| c.is_control()) {
        return Err(PathError::ControlCharacter { path: owned(), at });
    }
    if path.contains('\\') {
        return Err(PathError::Backslash {
            path: owned(),
            suggestion: path.replace('\\', "/"),
        });
    }
    if path.starts_with('/') || has_drive_letter(path) {
        let rest = path.trim_start_matches('/');
        let rest = if has_drive_letter(rest) {
            rest[2..].trim_start_matches('/')
        } else {
            rest
        };
        return Err(PathError::Absolute {
            path: owned(),
            suggestion: rest.to_owned(),
        });
    }
    for component in path.split('/') {
        check_component(path, component)?;
    }
    Ok(SafePath(path.to_owned()))
}

fn check_component(path: &str, component: &str) -> Result<(), PathError> {
    match component {
        "" => {
            return Err(PathError::EmptyComponent {
                path: path.to_owned(),
            });
        }
        "." => {
            let suggestion = path
                .split('/')
                .filter(|c| *c != ".")
                .collect::<Vec<_>>()
                .join("/");
            return Err(PathError::CurrentDir {
                path: path.to_owned(),
                suggestion,
            });
        }
        ".." => {
            return Err(PathError::ParentDir {
                path: path.to_owned(),
            });
        }
        _ => {}
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(PathError::ComponentTooLong {
            path: truncate(path),
            component: truncate(component),
            len: component.len(),
        });
    }
    let folded = fold(component);
    if is_dot_git(&folded) {
        return Err(PathError::GitDirectory {
            path: path.to_owned(),
            component: component.to_owned(),
        });
    }
    if let Some(name) = git_metadata_file(&folded) {
        return Err(PathError::GitMetadataFile {
            path: path.to_owned(),
            component: component.to_owned(),
            name,
        });
    }
    if let Some(device) = windows_device(&folded) {
        return Err(PathError::WindowsDevice {
            path: path.to_owned(),
            component: component.to_owned(),
            device: device.to_owned(),
        });
    }
    Ok(())
}

/// The name a component has on the most forgiving filesystem that may check it out:
/// HFS+ drops ignorable code points, HFS+ and NTFS compare case-insensitively, NTFS drops
/// trailing dots and spaces and reads `name:stream` as `name`.
pub fn fold(component: &str) -> String {
    let visible: String = component
        .chars()
        .filter(|c| !is_hfs_ignorable(*c))
        .flat_map(char::to_lowercase)
        .collect();
    let unstreamed = visible.split(':').next().unwrap_or_default();
    unstreamed.trim_end_matches([' ', '.']).to_owned()
}

/// Code points HFS+ ignores when comparing names (the list Git's `utf8.c` uses for
/// `core.protectHFS`): zero-width joiners and marks, bidi controls, deprecated format
/// characters and the byte-order mark.
fn is_hfs_ignorable(c: char) -> bool {
    matches!(c,
        '\u{200C}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{206A}'..='\u{206F}' | '\u{FEFF}')
}

/// `.git`, or its NTFS 8.3 short name `git~1`, on a folded component.
fn is_dot_git(folded: &str) -> bool {
    folded == ".git" || folded == "git~1"
}

/// `.gitmodules`, `.gitattributes` or `.lfsconfig` on a folded component, including the NTFS
/// 8.3 short names a checkout may give them, as Git's `is_ntfs_dotgitmodules` and
/// `is_ntfs_dotgitattributes` (path.c) refuse them: the first six letters and `~N`, or the
/// hashed fallback, a prefix of the hash name then `~` and digits, eight bytes in all.
/// Git has no such check for `.lfsconfig` (Git LFS reads it to find the LFS server), and its
/// hashed short name is not documented, so only `lfscon~N` is refused besides the name itself.
fn git_metadata_file(folded: &str) -> Option<&'static str> {
    const FILES: [(&str, &str, Option<&str>); 3] = [
        (".gitmodules", "gitmod", Some("gi7eba")),
        (".gitattributes", "gitatt", Some("gi7d29")),
        (".lfsconfig", "lfscon", None),
    ];
    FILES.iter().find_map(|(name, short, hashed)| {
        let is_short = folded
            .strip_prefix(short)
            .and_then(|rest| rest.strip_prefix('~'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let is_hashed = hashed.is_some_and(|hashed| is_hashed_short_name(folded, hashed));
        (folded == *name || is_short || is_hashed).then_some(*name)
    })
}

/// Git's fall-back NTFS short name of a file whose hash name is `hashed`: exactly eight bytes,
/// the first k (0 to 6) of `hashed`, `~`, a digit 1-9, then digits (`gi7eba~1`, `gi7eb~12`,
/// even `~1234567`).
fn is_hashed_short_name(folded: &str, hashed: &str) -> bool {
    let bytes = folded.as_bytes();
    if bytes.len() != 8 {
        return false;
    }
    let Some(tilde) = bytes.iter().position(|b| *b == b'~') else {
        return false;
    };
    tilde <= 6
        && hashed.as_bytes().starts_with(&bytes[..tilde])
        && matches!(bytes[tilde + 1], b'1'..=b'9')
        && bytes[tilde + 2..].iter().all(u8::is_ascii_digit)
}

/// The Windows device name a folded component opens, if any: `con`, `con.txt` and
/// `con .txt` all open the console.
fn windows_device(folded: &str) -> Option<&str> {
    let stem = folded
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches(' ');
    let is_device = match stem {
        "con" | "prn" | "aux" | "nul" | "conin$" | "conout$" => true,
        _ => {
            let numbered = stem
                .strip_prefix("com")
                .or_else(|| stem.strip_prefix("lpt"));
            numbered.is_some_and(|n| {
                matches!(
                    n,
                    "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "¹" | "²" | "³"
                )
            })
        }
    };
    is_device.then_some(stem)
}

/// `C:` at the start: absolute (or drive-relative) on Windows.
fn has_drive_letter(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Keeps error messages readable when the input is huge.
fn truncate(text: &str) -> String {
    const KEEP: usize = 64;
    match text.char_indices().nth(KEEP) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
