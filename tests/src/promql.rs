//! Just enough of PromQL and of the Prometheus text format to check that a dashboard's and an
//! alert file's queries only name metrics the binaries export: the metric names an expression
//! selects, and the series names an exposition can hold.

use std::collections::BTreeSet;

/// Words of PromQL that are not metric names where an identifier may stand.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
];

/// Keywords followed by a parenthesised list of label names, not an expression.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names `expr` selects: identifiers that are neither functions (followed by `(`),
/// keywords, label names (inside `{}` or a `by (...)` list), durations (`[5m]`), strings,
/// numbers, nor Grafana variables (`$__rate_interval`).
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_list = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => i = skip_until(&chars, i, '}'),
            '[' => i = skip_until(&chars, i, ']'),
            '(' if skip_list => {
                skip_list = false;
                i = skip_until(&chars, i, ')');
            }
            '$' => {
                i += 1;
                while i < chars.len() && is_word(chars[i]) {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (is_word(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
            }
            c if is_word(c) => {
                let start = i;
                while i < chars.len() && (is_word(chars[i]) || chars[i] == ':') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let lower = word.to_ascii_lowercase();
                if LABEL_LISTS.contains(&lower.as_str()) {
                    skip_list = true;
                } else if !KEYWORDS.contains(&lower.as_str()) && !is_call(&chars[i..]) {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Whether what follows a word makes it a function or an aggregation: `(`, or `by`/`without`
/// before the parenthesis (`sum by (le) (...)`).
fn is_call(rest: &[char]) -> bool {
    let text: String = rest.iter().collect();
    let text = text.trim_start();
    text.starts_with('(')
        || ["by", "without"].iter().any(|keyword| {
            text.strip_prefix(keyword)
                .is_some_and(|after| after.trim_start().starts_with('('))
        })
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The index after the string literal opening at `start` (backslash escapes honoured).
fn skip_string(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The index after the first `close` from `start` that is outside a string.
fn skip_until(chars: &[char], start: usize, close: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() && chars[i] != close {
        i = match chars[i] {
            '"' | '\'' | '`' => skip_string(chars, i),
            _ => i + 1,
        };
    }
    i + 1
}

/// Every series name `exposition` (Prometheus text or OpenMetrics) can hold: the samples it
/// holds, and for each `# TYPE` the names of its kind (`_total` of a counter, `_bucket`,
/// `_sum` and `_count` of a histogram), so a family with no sample yet still counts.
pub fn exposed_names(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        if let Some(declaration) = line.strip_prefix("# TYPE ") {
            let mut parts = declaration.split_whitespace();
            let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let suffixes: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            for suffix in suffixes {
                names.insert(format!("{name}{suffix}"));
            }
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            names.insert(line[..end].to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn functions_keywords_labels_durations_and_variables_are_not_metrics() {
        assert_eq!(
            names(
                r#"histogram_quantile(0.99, sum by (le, endpoint) (rate(gco_x_bucket{decision="a}b", le!~"1"}[$__rate_interval])))"#
            ),
            ["gco_x_bucket"]
        );
        assert_eq!(
            names("count(gco_object_ready == 0) or vector(0)"),
            ["gco_object_ready"]
        );
        assert_eq!(
            names("time() - gco_last offset 5m / on (kind) group_left (name) other:rule 1e3"),
            ["gco_last", "other:rule"]
        );
        assert_eq!(
            names("sum without (a) (rate(x[5m])) > bool 0.1 unless y"),
            ["x", "y"]
        );
    }

    #[test]
    fn an_exposition_holds_samples_and_the_names_its_types_promise() {
        let text = "# TYPE gco_pushes counter\n# TYPE gco_d_seconds histogram\n\
                    gco_d_seconds_bucket{le=\"1\"} 0\n# TYPE gco_g gauge\ngco_g 1\n# EOF\n";
        let names = exposed_names(text);
        for name in [
            "gco_pushes_total",
            "gco_d_seconds_bucket",
            "gco_d_seconds_count",
            "gco_g",
        ] {
            assert!(names.contains(name), "{name} in {names:?}");
        }
        assert!(!names.contains("gco_pushes"));
    }
}
