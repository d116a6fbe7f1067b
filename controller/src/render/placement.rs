//! How one planned write meets the file already on the branch: the spec's `writeMode`, made
//! precise for YAML. Appending a YAML document to a YAML file must start a new document (a
//! `---` line), or the file becomes one mapping with every key twice (docs/user-guide.md,
//! Appending YAML).

use std::fmt;

use gco_api::{WriteMode, paths::SafePath};

/// How a write meets the file already on the branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Replace the file's content.
    Overwrite,
    /// Add the content at the end, after a newline if the file does not end with one.
    Append,
    /// Add the content as a new YAML document: after a `---` line when the file already holds
    /// a document, so that the file parses as one document per run.
    AppendDocument,
    /// Delete the file, only while it holds what `guard` says the object wrote (the content
    /// is empty): a file a pruning object wrote and no longer writes.
    Remove { guard: Guard },
    /// Replace the file with an encrypted one, unless the file already carries `digest`: it
    /// then holds the same plaintext, encrypted differently (`seal.rs`).
    Sealed { digest: [u8; 32] },
    /// Replace the file with an age-encrypted one; when `unchanged` (the object's last run
    /// wrote the same plaintext here, `status.encryptedFiles`), keep the file already there.
    Encrypted { unchanged: bool },
}

impl Placement {
    /// The placement for `mode`: an append of YAML (`yaml` is true for a `dump`) or of a file
    /// named `*.yaml` / `*.yml` appends a document.
    pub fn of(mode: WriteMode, path: &SafePath, yaml: bool) -> Self {
        match mode {
            WriteMode::Overwrite => Placement::Overwrite,
            WriteMode::Append if yaml || is_yaml_name(path.as_str()) => Placement::AppendDocument,
            WriteMode::Append => Placement::Append,
        }
    }

    /// Whether the write adds to the file rather than replacing it.
    pub fn appends(self) -> bool {
        matches!(self, Placement::Append | Placement::AppendDocument)
    }
}

/// Test helpers and callers that know only the spec's mode: a plain append.
impl From<WriteMode> for Placement {
    fn from(mode: WriteMode) -> Self {
        match mode {
            WriteMode::Overwrite => Placement::Overwrite,
            WriteMode::Append => Placement::Append,
        }
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Placement::Overwrite => "overwrite",
            Placement::Append => "append",
            Placement::AppendDocument => "append as a YAML document",
            Placement::Remove { .. } => "remove",
            Placement::Sealed { .. } => "overwrite, encrypted",
            Placement::Encrypted { .. } => "overwrite, encrypted with age",
        })
    }
}

/// How a removal knows the file still holds what the object wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Guard {
    /// The file's blob is this one.
    Blob(git2::Oid),
    /// The file carries this sealed digest (an encrypted file differs at every write).
    Digest([u8; 32]),
    /// Any content: an age-encrypted file, whose bytes only its recipients can tell.
    Any,
}

impl Guard {
    /// Whether `content` (of blob `blob`) is what the guard protects.
    pub fn holds(self, blob: git2::Oid, content: impl FnOnce() -> Option<Vec<u8>>) -> bool {
        match self {
            Guard::Any => true,
            Guard::Blob(expected) => blob == expected,
            Guard::Digest(digest) => {
                let line = crate::seal::digest_line(&digest);
                content().is_some_and(|c| std::str::from_utf8(&c).is_ok_and(|t| t.contains(&line)))
            }
        }
    }
}

/// `*.yaml` or `*.yml`, in any case.
fn is_yaml_name(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower.ends_with(".yaml") || lower.ends_with(".yml")
}

/// `addition` appended to `current` as `placement` says (`Overwrite` ignores `current`).
pub fn place(placement: Placement, mut current: Vec<u8>, addition: &[u8]) -> Vec<u8> {
    match placement {
        Placement::Overwrite | Placement::Remove { .. } => return addition.to_vec(),
        Placement::Encrypted { unchanged } => {
            return match unchanged && !current.is_empty() {
                true => current,
                false => addition.to_vec(),
            };
        }
        Placement::Sealed { digest } => {
            let line = crate::seal::digest_line(&digest);
            let holds = std::str::from_utf8(&current).is_ok_and(|text| text.contains(&line));
            return if holds { current } else { addition.to_vec() };
        }
        Placement::Append => {}
        Placement::AppendDocument => {
            if current.iter().all(u8::is_ascii_whitespace) {
                // No document yet: the addition is the first, with no separator before it.
                return addition.to_vec();
            }
        }
    }
    if !current.is_empty() && !current.ends_with(b"\n") {
        current.push(b'\n');
    }
    if placement == Placement::AppendDocument && !starts_document(addition) {
        current.extend_from_slice(b"---\n");
    }
    current.extend_from_slice(addition);
    current
}

/// Whether `text` opens with its own `---` document marker (then no separator is added).
fn starts_document(text: &[u8]) -> bool {
    text.strip_prefix(b"---")
        .is_some_and(|rest| rest.first().is_none_or(|c| c.is_ascii_whitespace()))
}

#[cfg(test)]
mod tests {
    use gco_api::paths::check_path;

    use super::*;

    fn documents(text: &[u8]) -> Vec<serde_json::Value> {
        serde_saphyr::from_multiple(std::str::from_utf8(text).expect("utf-8")).expect("yaml")
    }

    #[test]
    fn yaml_appends_are_documents_and_text_appends_are_lines() {
        let path = |p: &str| check_path(p).expect("path");
        let append = WriteMode::Append;
        assert_eq!(
            Placement::of(append, &path("a/b.yaml"), false),
            Placement::AppendDocument
        );
        assert_eq!(
            Placement::of(append, &path("a/B.YML"), false),
            Placement::AppendDocument
        );
        assert_eq!(
            Placement::of(append, &path("drift.log"), true),
            Placement::AppendDocument
        );
        assert_eq!(
            Placement::of(append, &path("drift.log"), false),
            Placement::Append
        );
        assert_eq!(
            Placement::of(WriteMode::Overwrite, &path("x.yaml"), true),
            Placement::Overwrite
        );
    }

    #[test]
    fn three_appended_documents_parse_as_three() {
        let doc = b"kind: ConfigMap\nmetadata:\n  name: a\n";
        let mut file = Vec::new();
        for _ in 0..3 {
            file = place(Placement::AppendDocument, file, doc);
        }
        assert_eq!(
            documents(&file).len(),
            3,
            "{}",
            String::from_utf8_lossy(&file)
        );
        assert!(file.starts_with(b"kind:"), "no separator before the first");
    }

    #[test]
    fn a_document_marker_or_a_missing_newline_is_handled() {
        let file = place(Placement::AppendDocument, b"a: 1".to_vec(), b"---\nb: 2\n");
        assert_eq!(file, b"a: 1\n---\nb: 2\n");
        let file = place(Placement::AppendDocument, b"\n\n".to_vec(), b"b: 2\n");
        assert_eq!(file, b"b: 2\n");
        let file = place(Placement::AppendDocument, b"a: 1\n".to_vec(), b"---x: 2\n");
        assert_eq!(file, b"a: 1\n---\n---x: 2\n");
    }

    #[test]
    fn text_appends_and_overwrites_are_unchanged() {
        assert_eq!(place(Placement::Append, b"a".to_vec(), b"b\n"), b"a\nb\n");
        assert_eq!(place(Placement::Append, Vec::new(), b"b\n"), b"b\n");
        assert_eq!(place(Placement::Overwrite, b"a\n".to_vec(), b"b\n"), b"b\n");
    }
}
