//! The repository URL model: every remote form, the scp-like/path ambiguity, IPv6, ports,
//! forge paths, and redaction that never shows userinfo.

use proptest::prelude::*;

use super::*;

fn parsed(text: &str) -> RepoUrl {
    RepoUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// (syntax, scheme, host, port, path) of a URL.
type Parts<S> = (Syntax, S, S, Option<u16>, S);

fn parts(text: &str) -> Parts<String> {
    let url = parsed(text);
    (
        url.syntax(),
        url.scheme().as_str().to_owned(),
        url.host().to_owned(),
        url.port(),
        url.path().to_owned(),
    )
}

#[test]
fn every_remote_form() {
    use Syntax::*;
    let check = |text: &str, (syntax, scheme, host, port, path): Parts<&str>| {
        let expected = (syntax, scheme.into(), host.into(), port, path.into());
        assert_eq!(parts(text), expected, "{text}");
    };
    check(
        "https://github.com/o/r.git",
        (Url, "https", "github.com", None, "/o/r.git"),
    );
    check(
        "HTTPS://GitHub.COM:8443/o/r",
        (Url, "https", "github.com", Some(8443), "/o/r"),
    );
    check("http://git.local/a", (Url, "http", "git.local", None, "/a"));
    check(
        "ssh://git@host:2222/r.git",
        (Url, "ssh", "host", Some(2222), "/r.git"),
    );
    check(
        "git+ssh://git@host/r.git",
        (Url, "ssh", "host", None, "/r.git"),
    );
    check("ssh+git://host/r.git", (Url, "ssh", "host", None, "/r.git"));
    check("git://host/r.git", (Url, "git", "host", None, "/r.git"));
    check("file:///srv/r.git", (Url, "file", "", None, "/srv/r.git"));
    check(
        "file://nas/srv/r.git",
        (Url, "file", "nas", None, "/srv/r.git"),
    );
    check("ftp://host/r", (Url, "ftp", "host", None, "/r"));
    check("https://host", (Url, "https", "host", None, ""));
    check(
        "git@github.com:o/r.git",
        (ScpLike, "ssh", "github.com", None, "o/r.git"),
    );
    check(
        "github.com:o/r.git",
        (ScpLike, "ssh", "github.com", None, "o/r.git"),
    );
    check(
        "host:/abs/r.git",
        (ScpLike, "ssh", "host", None, "/abs/r.git"),
    );
    check("/srv/r.git", (LocalPath, "file", "", None, "/srv/r.git"));
    check(
        "relative/r.git",
        (LocalPath, "file", "", None, "relative/r.git"),
    );
    check("r.git", (LocalPath, "file", "", None, "r.git"));
    assert!(matches!(parsed("ftp://h/x").scheme(), Scheme::Other(o) if o.as_str() == "ftp"));
}

#[test]
fn a_colon_before_any_slash_is_scp_like_else_a_local_path() {
    assert_eq!(parsed("host:a/b:c").syntax(), Syntax::ScpLike);
    assert_eq!(parsed("host:a/b:c").path(), "a/b:c");
    for local in ["dir/host:path", "/abs/host:path"] {
        assert_eq!(parsed(local).syntax(), Syntax::LocalPath, "{local}");
    }
    // A local path too, but with a `.` segment, which no repository URL may hold.
    assert_eq!(RepoUrl::parse("./a:b"), Err(UrlError::DotSegment));
    // Not a scheme name before `://`: Git's rules decide, here scp-like.
    let odd = parsed("git@host:weird://path");
    assert_eq!((odd.syntax(), odd.host()), (Syntax::ScpLike, "host"));
    assert_eq!(parsed("a/b://c").syntax(), Syntax::LocalPath);
}

#[test]
fn ipv6_hosts_lose_their_brackets_and_keep_their_ports() {
    let url = parsed("ssh://git@[::1]:2222/r.git");
    assert_eq!((url.host(), url.port()), ("::1", Some(2222)));
    assert_eq!(url.url_host(), "[::1]");
    let url = parsed("https://[2001:DB8::1]/o/r");
    assert_eq!((url.host(), url.port()), ("2001:db8::1", None));
    let scp = parsed("git@[fe80::1%eth0]:o/r.git");
    assert_eq!(
        (scp.syntax(), scp.host(), scp.path()),
        (Syntax::ScpLike, "fe80::1%eth0", "o/r.git")
    );
    assert_eq!(parsed("https://example.com/x").url_host(), "example.com");
    for bad in [
        "https://[::1/x",
        "https://[nope]/x",
        "https://[::1]x/r",
        "[::1]/r",
        "git@[::1]x:r",
    ] {
        assert_eq!(RepoUrl::parse(bad), Err(UrlError::InvalidHost), "{bad}");
    }
}

#[test]
fn ports_are_numbers_from_1_to_65535() {
    assert_eq!(parsed("https://h:65535/x").port(), Some(65535));
    for bad in [
        "https://h:0/x",
        "https://h:65536/x",
        "https://h:/x",
        "https://h:+1/x",
        "https://user:token/x",
        "https://h:1:2/x",
    ] {
        assert_eq!(RepoUrl::parse(bad), Err(UrlError::InvalidPort), "{bad}");
    }
}

#[test]
fn what_is_not_a_repository_url() {
    let cases: &[(&str, UrlError)] = &[
        ("", UrlError::Empty),
        ("https://h/a b", UrlError::Whitespace),
        ("https://h/a\nb", UrlError::Whitespace),
        ("https:///x", UrlError::NoHost),
        ("https://u@/x", UrlError::NoHost),
        (":path", UrlError::NoHost),
        ("git@:path", UrlError::NoHost),
        ("host:", UrlError::NoPath),
        ("git@host:", UrlError::NoPath),
        ("https://h?x/y", UrlError::InvalidHost),
        ("https://h#x/y", UrlError::InvalidHost),
        ("u:p@h/x:y", UrlError::InvalidHost),
    ];
    for (text, error) in cases {
        assert_eq!(RepoUrl::parse(text).as_ref(), Err(error), "{text:?}");
    }
}

#[test]
fn credentials_are_any_userinfo_except_an_ssh_login() {
    for (text, userinfo, credentials) in [
        ("https://github.com/o/r", false, false),
        ("https://tok@github.com/o/r", true, true),
        ("https://u:p@github.com/o/r", true, true),
        ("http://u@h/o/r", true, true),
        ("git://u@h/o/r", true, true),
        ("file://u@h/o/r", true, true),
        ("ssh://git@h/o/r", true, false),
        ("ssh://git:pw@h/o/r", true, true),
        ("git@h:o/r", true, false),
        ("u:secret@h:o/r", true, true),
        // The userinfo ends at the last `@` before the first `/`.
        ("https://a@b:c@h/o@r", true, true),
        ("/srv/a@b", false, false),
    ] {
        let url = parsed(text);
        assert_eq!(
            (url.has_userinfo(), url.has_credentials()),
            (userinfo, credentials),
            "{text}"
        );
    }
}

#[test]
fn redaction_replaces_userinfo_and_keeps_the_rest() {
    for (text, shown) in [
        (
            "https://u:p@host:8443/a/b.git",
            "https://***@host:8443/a/b.git",
        ),
        ("https://tok@host/x", "https://***@host/x"),
        ("ssh://git@host:22/x", "ssh://***@host:22/x"),
        ("git@github.com:o/r.git", "***@github.com:o/r.git"),
        ("u:secret@host:o/r.git", "***@host:o/r.git"),
        ("https://host/x@y", "https://host/x@y"),
        ("https://a@b:c@h/o@r", "https://***@h/o@r"),
        ("/srv/a@b", "/srv/a@b"),
    ] {
        assert_eq!(parsed(text).to_string(), shown, "{text}");
        assert_eq!(redact_url(text), shown, "{text}");
        assert_eq!(format!("{:?}", parsed(text)), format!("RepoUrl({shown:?})"));
    }
    // Not a URL at all: still no userinfo.
    for (text, shown) in [
        ("https://u:p@host:bad/x", "https://***@host:bad/x"),
        ("'https://u:p@h/x'", "'https://***@h/x'"),
        ("https://u:p@h/a b", "https://***@h/a b"),
        ("plain words", "plain words"),
        (":tok@://", "***@://"),
        (":tok@://@", "***@"),
        ("https://u:abc/d+e=@host/r", "https://***@host/r"),
        ("x:tok@h:1x://y/z", "***@h:1x://y/z"),
    ] {
        assert_eq!(redact_url(text), shown, "{text}");
    }
}

#[test]
fn forge_paths_drop_dot_git_and_keep_gitlab_subgroups() {
    for (text, path, owner, namespace, name) in [
        (
            "https://github.com/company/gitops.git",
            "company/gitops",
            "company",
            "company",
            "gitops",
        ),
        (
            "git@github.com:company/gitops.git/",
            "company/gitops",
            "company",
            "company",
            "gitops",
        ),
        (
            "ssh://git@gitlab.com:2222/group/sub/repo.git",
            "group/sub/repo",
            "group",
            "group/sub",
            "repo",
        ),
        (
            "http://127.0.0.1:3000/admin/.github",
            "admin/.github",
            "admin",
            "admin",
            ".github",
        ),
    ] {
        let forge = parsed(text).forge_path().expect(text);
        assert_eq!(
            (
                forge.as_str(),
                forge.owner(),
                forge.namespace(),
                forge.name()
            ),
            (path, owner, namespace, name),
            "{text}"
        );
        assert_eq!(forge.is_owner_and_name(), !namespace.contains('/'));
    }
    assert_eq!(
        parsed("https://h/group/sub/repo")
            .forge_path()
            .expect("three")
            .segments()
            .collect::<Vec<_>>(),
        ["group", "sub", "repo"]
    );
    for (text, error) in [
        ("file:///srv/o/r.git", ForgePathError::Local),
        ("/srv/o/r.git", ForgePathError::Local),
        ("https://h/o", ForgePathError::TooShort),
        ("https://h", ForgePathError::TooShort),
        ("https://h/o/.git", ForgePathError::Characters),
        ("https://h/o//r", ForgePathError::Characters),
        ("https://h/o/r?x=1", ForgePathError::Characters),
    ] {
        assert_eq!(parsed(text).forge_path(), Err(error), "{text}");
    }
    // Dot segments and encoded slashes never get as far as a forge path.
    for text in ["https://h/o/../r", "https://h/o/r%2F.."] {
        assert_eq!(RepoUrl::parse(text), Err(UrlError::DotSegment), "{text}");
    }
}

proptest! {
    #[test]
    fn parsing_and_redacting_never_panic(text in "\\PC{0,60}") {
        let _ = RepoUrl::parse(&text).map(|url| (url.to_string(), url.forge_path()));
        let _ = redact_url(&text);
    }

    #[test]
    fn redaction_never_shows_the_secret(
        scheme in "(https|http|ssh|git\\+ssh|git|file|ftp)",
        user in "[a-z]{0,6}",
        secret in "[A-Za-z0-9_]{8,20}",
        host in "[a-z0-9.-]{0,12}(:[0-9]{0,6})?",
        path in "(/[a-z@:.]{0,8}){0,3}",
    ) {
        let secret = format!("S3cr{secret}");
        for (text, password) in [
            (format!("{scheme}://{user}:{secret}@{host}{path}"), true),
            (format!("{scheme}://{secret}@{host}{path}"), false),
            (format!("{user}:{secret}@{host}:{path}"), true),
        ] {
            prop_assert!(!redact_url(&text).contains(&secret), "{text}");
            if let Ok(url) = RepoUrl::parse(&text) {
                prop_assert!(url.has_userinfo(), "{text}");
                prop_assert!(url.has_credentials() || (!password && url.is_ssh()), "{text}");
                prop_assert!(!url.to_string().contains(&secret), "{text}");
                prop_assert!(!format!("{url:?}").contains(&secret), "{text}");
            }
        }
    }
}

#[test]
fn dot_segments_and_encoded_slashes_are_refused() {
    for text in [
        "https://gitlab.company.com/team-a/../team-b/infra.git",
        "https://gitlab.company.com/team-a/%2e%2e/team-b/infra.git",
        "https://gitlab.company.com/team-a/%2E./team-b/infra.git",
        "https://gitlab.company.com/team-a/./infra.git",
        "https://gitlab.company.com/team-a%2fteam-b/infra.git",
        "git@github.com:team-a/../team-b/infra.git",
        "file:///srv/git/team-a/../../var/cache/gco/other.git",
    ] {
        assert_eq!(RepoUrl::parse(text), Err(UrlError::DotSegment), "{text}");
    }
    for text in [
        "https://gitlab.company.com/team-a/infra.v2.git",
        "https://gitlab.company.com/team-a/..infra/x.git",
        "git@github.com:team-a/.dotfiles.git",
    ] {
        assert!(RepoUrl::parse(text).is_ok(), "{text}");
    }
}
