use jiff::Timestamp;
use proptest::prelude::*;

use super::*;

fn at() -> Timestamp {
    // Sun Nov 22 13:00:00 UTC 2026
    Timestamp::from_second(1_795_352_400).expect("valid timestamp")
}

#[test]
fn date_renders_gnu_default_form() {
    assert_eq!(
        render("$(date)", at()).as_deref(),
        Ok("Sun Nov 22 13:00:00 UTC 2026")
    );
    assert_eq!(
        render("Sync - $(date)", at()).as_deref(),
        Ok("Sync - Sun Nov 22 13:00:00 UTC 2026")
    );
    let early = Timestamp::from_second(1_793_624_400).expect("valid"); // Nov 2
    assert_eq!(
        render("$(date)", early).as_deref(),
        Ok("Mon Nov  2 13:00:00 UTC 2026")
    );
}

#[test]
fn date_with_format_renders_strftime_in_utc() {
    let cases = [
        ("backups/$(date +%Y%m%d)/x.yaml", "backups/20261122/x.yaml"),
        ("$(date +%Y-%m-%dT%H:%M:%SZ)", "2026-11-22T13:00:00Z"),
        ("$(date +%F)", "2026-11-22"),
        ("$(date -u +%F)", "2026-11-22"),
        ("$(date +\"%F %T\")", "2026-11-22 13:00:00"),
        ("$(date '+%H')", "13"),
        ("$(date +100%%)", "100%"),
        ("$(date +(%Y))", "(2026)"),
        ("a $(date +%Y) b $(date +%m) c", "a 2026 b 11 c"),
        ("no placeholders", "no placeholders"),
        ("cost: $5, ${HOME}, `code`", "cost: $5, ${HOME}, `code`"),
        ("", ""),
    ];
    for (template, expected) in cases {
        assert_eq!(
            render(template, at()).as_deref(),
            Ok(expected),
            "{template}"
        );
    }
}

#[test]
fn other_commands_are_refused_with_the_supported_forms() {
    for template in [
        "$(whoami)",
        "$(date; rm -rf /)",
        "$(dates)",
        "$(date -d yesterday)",
        "$(date %Y)",
        "$(date +\"%Y\" \"x\")",
        "$()",
        "x $(echo hi) y",
    ] {
        let error = render(template, at()).expect_err(template);
        assert!(
            matches!(error, PlaceholderError::Unsupported { .. }),
            "{template}: {error}"
        );
        assert!(error.to_string().contains("$(date +FORMAT)"), "{error}");
        assert_eq!(validate(template), Err(error));
    }
    let unclosed = validate("x $(date").expect_err("unclosed");
    assert!(matches!(unclosed, PlaceholderError::Unclosed { .. }));
}

#[test]
fn unknown_strftime_directives_are_errors() {
    for template in ["$(date +%K)", "$(date +%)", "$(date +%Ez)", "$(date +%!)"] {
        let error = validate(template).expect_err(template);
        assert!(
            matches!(error, PlaceholderError::BadFormat { .. }),
            "{template}: {error}"
        );
    }
}

#[test]
fn seed_templates_are_valid() {
    for template in [
        "Sync - $(date)",
        "backup-metadata/$(date +%Y%m%d)/cluster-info.yaml",
        "snapshots/production/current-config-$(date +%Y%m%d).yaml",
        "## ArgoCD Application Sync\n- `production/web-app`\n**Auto-merge**: ✅",
    ] {
        assert_eq!(validate(template), Ok(()), "{template}");
    }
}

proptest! {
    #[test]
    fn render_never_panics_and_agrees_with_validate(template in any::<String>(), secs in 0i64..4_000_000_000) {
        let at = Timestamp::from_second(secs).expect("in range");
        let rendered = render(&template, at);
        prop_assert_eq!(rendered.is_ok(), validate(&template).is_ok());
    }

    #[test]
    fn placeholder_shaped_input_never_panics(
        template in "([a-z ]|\\$\\(|\\)|date|\\+|%[a-zA-Z%:.0-9-]|'|\")*",
    ) {
        let _ = render(&template, at());
    }

    #[test]
    fn text_without_placeholders_is_unchanged(template in "[^$]*") {
        prop_assert_eq!(render(&template, at()), Ok(template));
    }
}
