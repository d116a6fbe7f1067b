//! Globs of the policies: `*` and `?` stay within one `/`-separated segment, `**` crosses
//! segments, so `https://github.com/company/*` does not reach into `company/x/y`.

use globset::{GlobBuilder, GlobMatcher};

/// Compiles `pattern`, or explains why it is not a glob.
pub fn compile(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|glob| glob.compile_matcher())
}

/// Whether `text` matches `pattern`; an invalid pattern matches nothing (the webhook refuses
/// such policies, so this only happens with a policy created while it was down).
pub fn matches(pattern: &str, text: &str) -> bool {
    compile(pattern).is_ok_and(|glob| glob.is_match(text))
}
