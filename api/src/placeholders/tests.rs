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

#[test]
fn widths_are_capped_at_two_digits() {
    assert_eq!(render("$(date +%10Y)", at()).as_deref(), Ok("0000002026"));
    // jiff pads to at most 20 digits today; the bound counts the whole width regardless.
    assert!(render("$(date +%99Y)", at()).is_ok_and(|s| s.len() <= 99));
    assert_eq!(render("$(date +%04Y)", at()).as_deref(), Ok("2026"));
    for template in ["$(date +%255Y)", "x $(date +%_100d)", "$(date +%.100f)"] {
        let error = validate(template).expect_err(template);
        assert!(
            matches!(error, PlaceholderError::Width { .. }),
            "{template}: {error}"
        );
        assert!(error.to_string().contains("at most 2 digits"), "{error}");
    }
}

#[test]
fn one_placeholder_renders_at_most_256_bytes() {
    assert!(validate("$(date +%99Y%99Y)").is_ok());
    let error = validate("$(date +%99Y%99Y%99Y)").expect_err("297 bytes");
    assert_eq!(
        error,
        PlaceholderError::TooLong {
            found: "$(date +%99Y%99Y%99Y)".into(),
            bound: 297
        }
    );
    let long_literal = format!("$(date +{})", "x".repeat(MAX_PLACEHOLDER_BYTES + 1));
    assert!(matches!(
        validate(&long_literal),
        Err(PlaceholderError::TooLong { .. })
    ));
}

#[test]
fn max_rendered_len_counts_each_placeholder_at_its_longest() {
    assert_eq!(max_rendered_len("plain"), Ok(5));
    assert_eq!(max_rendered_len("$(date +%Y%m%d)"), Ok(9));
    assert_eq!(max_rendered_len("a/$(date +%F)/b"), Ok(4 + 16));
    assert_eq!(max_rendered_len("$(date)"), Ok(58));
    assert_eq!(max_rendered_len("$(date +%42H)x"), Ok(43));
    assert!(max_rendered_len("$(whoami)").is_err());
}

/// Every directive jiff knows, for the bound property below.
const DIRECTIVES: &[&str] = &[
    "%", "A", "a", "B", "b", "C", "c", "D", "d", "e", "F", "f", "G", "g", "H", "h", "I", "j", "k",
    "l", "M", "m", "N", "n", "P", "p", "Q", ":Q", "q", "R", "r", "S", "s", "T", "t", "U", "u", "V",
    "W", "w", "X", "x", "Y", "y", "Z", "z", ":z", "::z", ":::z", ".f",
];

#[test]
fn every_listed_directive_renders() {
    for directive in DIRECTIVES {
        let template = format!("$(date +%{directive})");
        assert!(render(&template, at()).is_ok(), "{template}");
    }
}

proptest! {
    #[test]
    fn no_directive_renders_longer_than_its_bound(
        directive in proptest::sample::select(DIRECTIVES),
        flag in proptest::sample::select(&["", "_", "0", "-", "^", "#"][..]),
        width in proptest::option::of(0u8..100),
        secs in -377_705_116_800i64..=253_402_207_199,
        nanos in 0i32..1_000_000_000,
    ) {
        let width = width.map(|w| w.to_string()).unwrap_or_default();
        let template = format!("$(date +%{flag}{width}{directive})");
        let at = Timestamp::new(secs, nanos).expect("in range");
        if let Ok(rendered) = render(&template, at) {
            let bound = max_rendered_len(&template).expect("rendered, so bounded");
            prop_assert!(rendered.len() <= bound, "{template}: {rendered:?} > {bound}");
        }
    }

    #[test]
    fn templates_render_within_max_rendered_len(
        template in "([a-z /]|\\$\\(date( \\+(%[-_0^#]?[0-9]{0,2}[aAbBcCdDeFgGHIjklmMnpPrRsStTuUVwWxXyYzZ%]|[a-z:/ ])*)?\\))*",
        secs in -377_705_116_800i64..=253_402_207_199,
    ) {
        let at = Timestamp::from_second(secs).expect("in range");
        if let Ok(rendered) = render(&template, at) {
            prop_assert!(rendered.len() <= max_rendered_len(&template).expect("bounded"));
        }
    }

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
