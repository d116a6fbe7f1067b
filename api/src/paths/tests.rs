use proptest::prelude::*;

use super::*;

#[test]
fn refuses_known_bad_paths() {
    let long_component = "a".repeat(256);
    let long_path = "abcd/".repeat(1000);
    let bad: &[(&str, &str)] = &[
        ("", "empty"),
        ("../x", "parent"),
        ("/etc/passwd", "absolute"),
        ("C:/x", "absolute"),
        ("a/../../b", "parent"),
        ("a/./b", "dot"),
        ("./a", "dot"),
        ("a//b", "empty component"),
        ("a/", "empty component"),
        (".git/config", "git dir"),
        (".GIT/config", "git dir"),
        (".Git", "git dir"),
        (".git./hooks/x", "git dir"),
        (".git /hooks/x", "git dir"),
        (".git . ./x", "git dir"),
        (".git::$INDEX_ALLOCATION/x", "git dir"),
        ("git~1/config", "git dir"),
        ("GIT~1/config", "git dir"),
        (".g\u{200c}it/x", "git dir"),
        ("\u{feff}.git/x", "git dir"),
        (".gi\u{200d}t\u{206f}/x", "git dir"),
        ("a/b/.git", "git dir"),
        (".gitmodules", "metadata"),
        ("sub/.GitModules.", "metadata"),
        ("gitmod~1", "metadata"),
        ("gi7eba~4", "metadata"),
        (".gitattributes", "metadata"),
        ("GITATT~1", "metadata"),
        ("gi7eb~12", "metadata"),
        ("GI7E~123", "metadata"),
        ("gi~12345", "metadata"),
        ("~1234567", "metadata"),
        ("gi7d2~19", "metadata"),
        ("sub/gi7eba~1.", "metadata"),
        ("gi7eba~9:stream", "metadata"),
        (".lfsconfig", "metadata"),
        ("a/.LfsConfig ", "metadata"),
        ("lfscon~1", "metadata"),
        ("LFSCON~4", "metadata"),
        ("x\\..\\y", "backslash"),
        ("a\\b", "backslash"),
        ("con/aux", "device"),
        ("CON", "device"),
        ("x/con.txt", "device"),
        ("nul", "device"),
        ("prn.yaml", "device"),
        ("com1", "device"),
        ("LPT9.log", "device"),
        ("com\u{b9}", "device"),
        ("a\0b", "control"),
        ("a\nb", "control"),
        ("a\tb", "control"),
        ("a\u{7f}b", "control"),
        ("a\u{85}b", "control"),
    ];
    for (path, why) in bad {
        assert!(check_path(path).is_err(), "{path:?} ({why}) was accepted");
    }
    assert!(matches!(
        check_path(&long_component),
        Err(PathError::ComponentTooLong { .. })
    ));
    assert!(matches!(
        check_path(&long_path),
        Err(PathError::TooLong { .. })
    ));
    assert!(matches!(
        check_path(&"a".repeat(5000)),
        Err(PathError::TooLong { .. })
    ));
}

#[test]
fn accepts_ordinary_paths() {
    let good = [
        "a",
        "clusters/production/app-config.yaml",
        "backups/20261122/configmaps/app-config.yaml",
        ".github/workflows/ci.yaml",
        ".gitignore",
        ".gitkeep",
        "git/config",
        "gitx",
        ".git-crypt/keys",
        "a.git",
        "console/x",
        "null.txt",
        "com10",
        "lpt0",
        "con-file",
        "über/straße.yaml",
        "..a/b..",
        "...",
        "a b/c d.txt",
        "ops/k8s:prod.yaml",
        "gi7eba~1x",
        "gi7ebb~1",
        "gi7eb~0",
        "backup~1",
        "abc~1234",
        "~123456",
        "lfsconfig",
        "lfscon",
    ];
    for path in good {
        let safe = check_path(path).unwrap_or_else(|e| panic!("{path:?} refused: {e}"));
        assert_eq!(safe.as_str(), path);
    }
    let max_component = "a".repeat(MAX_COMPONENT_BYTES);
    assert!(check_path(&max_component).is_ok());
}

#[test]
fn messages_name_the_rule_and_the_fix() {
    let message = |p: &str| {
        check_path(p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(message("/etc/passwd").contains("write \"etc/passwd\""));
    assert!(message("a\\b").contains("write \"a/b\""));
    assert!(message("a/./b").contains("write \"a/b\""));
    assert!(message("../x").contains("`..`"));
    assert!(message(".GIT/x").contains("`.git`"));
    assert!(message("con.txt").contains("Windows device name `con`"));
    assert!(message(".gitmodules").contains("`.gitmodules`"));
}

/// Lexically resolves `path` against a root, the way a checkout would: `None` if it leaves it.
fn resolve(path: &str) -> Option<Vec<&str>> {
    let mut stack = Vec::new();
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                stack.pop()?;
            }
            other => stack.push(other),
        }
    }
    Some(stack)
}

fn tricky_component() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(".git".to_owned()),
        Just(".GIT".to_owned()),
        Just(".git.".to_owned()),
        Just(".git ".to_owned()),
        Just("git~1".to_owned()),
        Just(".g\u{200c}it".to_owned()),
        Just("..".to_owned()),
        Just(".".to_owned()),
        Just(String::new()),
        Just("con".to_owned()),
        Just("a\\b".to_owned()),
        "[a-z.~ ]{1,6}",
        "[.gGiItT~1\u{200c}\u{feff} :]{1,7}",
        any::<String>(),
    ]
}

/// Git's `is_ntfs_dot_generic` (path.c), transcribed byte for byte as the oracle for the
/// NTFS spellings of `.gitmodules` and `.gitattributes`.
fn git_is_ntfs_dot(name: &[u8], dotgit_name: &[u8], hashed: &[u8]) -> bool {
    let at = |i: usize| name.get(i).copied().unwrap_or(0);
    let only_spaces_and_periods = |mut i: usize| loop {
        let c = at(i);
        i += 1;
        if c == 0 || c == b':' {
            return true;
        }
        if c != b' ' && c != b'.' {
            return false;
        }
    };
    let len = dotgit_name.len();
    if at(0) == b'.' && name.len() > len && name[1..=len].eq_ignore_ascii_case(dotgit_name) {
        return only_spaces_and_periods(len + 1);
    }
    if name.len() >= 8
        && name[..6].eq_ignore_ascii_case(&dotgit_name[..6])
        && name[6] == b'~'
        && (b'1'..=b'4').contains(&name[7])
    {
        return only_spaces_and_periods(8);
    }
    let mut saw_tilde = false;
    let mut i = 0;
    while i < 8 {
        let c = at(i);
        if c == 0 {
            return false;
        } else if saw_tilde {
            if !c.is_ascii_digit() {
                return false;
            }
        } else if c == b'~' {
            i += 1;
            if !(b'1'..=b'9').contains(&at(i)) {
                return false;
            }
            saw_tilde = true;
        } else if i >= 6 || c & 0x80 != 0 || c.to_ascii_lowercase() != hashed[i] {
            return false;
        }
        i += 1;
    }
    only_spaces_and_periods(8)
}

#[test]
fn the_oracle_is_git() {
    for name in [
        ".gitmodules",
        "GITMOD~1",
        "gi7eba~1",
        "gi7eb~12",
        "~1234567",
        ".gitmodules. :x",
    ] {
        assert!(
            git_is_ntfs_dot(name.as_bytes(), b"gitmodules", b"gi7eba"),
            "{name}"
        );
    }
    for name in [
        "gitmod~5",
        "gi7eb~1",
        "gi7ebb~1",
        ".gitmodulesx",
        "gitmodules",
    ] {
        assert!(
            !git_is_ntfs_dot(name.as_bytes(), b"gitmodules", b"gi7eba"),
            "{name}"
        );
    }
}

fn short_name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "[gGiI7eEbBaAtTmMoOdD~0-9]{1,8}[ .:]{0,2}",
        "~[0-9]{1,8}",
        "\\.[gG][iI][tT][mMaA][a-zA-Z]{0,10}[ .]{0,2}",
        "(gi7eba|gi7d29|gitmod|gitatt)~[0-9]{1,3}",
    ]
}

proptest! {
    #[test]
    fn git_metadata_files_are_refused_in_every_ntfs_spelling_git_refuses(
        name in short_name_like(),
    ) {
        let git_refuses = git_is_ntfs_dot(name.as_bytes(), b"gitmodules", b"gi7eba")
            || git_is_ntfs_dot(name.as_bytes(), b"gitattributes", b"gi7d29");
        if git_refuses {
            prop_assert!(check_path(&name).is_err(), "{name:?} is accepted but Git refuses it");
        }
    }

    #[test]
    fn never_panics(path in any::<String>()) {
        let _ = check_path(&path);
    }

    #[test]
    fn accepted_paths_stay_inside_the_root_and_avoid_git(
        parts in proptest::collection::vec(tricky_component(), 1..6),
        leading_slash in any::<bool>(),
    ) {
        let mut path = parts.join("/");
        if leading_slash {
            path.insert(0, '/');
        }
        if let Ok(safe) = check_path(&path) {
            prop_assert!(!safe.as_str().starts_with('/'));
            let resolved = resolve(safe.as_str());
            prop_assert!(resolved.is_some(), "{path:?} escapes the root");
            for component in safe.components() {
                prop_assert!(!component.is_empty() && component != "." && component != "..");
                let folded = fold(component);
                prop_assert!(folded != ".git" && folded != "git~1", "{component:?} is .git");
                prop_assert!(folded != ".gitmodules" && folded != ".gitattributes");
                prop_assert!(!component.chars().any(char::is_control));
                prop_assert!(!component.contains('\\'));
            }
        }
    }
}
