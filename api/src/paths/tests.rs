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

proptest! {
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
