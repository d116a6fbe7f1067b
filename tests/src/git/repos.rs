//! The git CLI, to create, seed and inspect repositories the engine writes to.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// `git` with a clean, fixed environment: no user or system config, a fixed identity.
pub fn git_command(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Outside Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Outside Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR");
    command
}

/// Runs git in `dir` and returns its stdout; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = run(git_command(dir).args(args));
    assert!(
        output.status.success(),
        "git {args:?} in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn run(command: &mut Command) -> Output {
    command.output().expect("run git")
}

/// A new bare repository `<root>/<name>` with default branch `main`, pushable over HTTP.
pub fn bare_repo(root: &Path, name: &str) -> PathBuf {
    let path = root.join(name);
    std::fs::create_dir_all(&path).expect("create repository folder");
    git(
        &path,
        &["init", "--bare", "--quiet", "--initial-branch=main"],
    );
    git(&path, &["config", "http.receivepack", "true"]);
    // A stray force push in a test would go unnoticed without this.
    git(&path, &["config", "receive.denyNonFastForwards", "true"]);
    path
}

/// Commits `files` to `branch` of the bare repository `bare` from a scratch worktree.
pub fn seed(bare: &Path, branch: &str, files: &[(&str, &str)], message: &str) {
    let work = tempfile::tempdir().expect("worktree");
    let url = format!("file://{}", bare.display());
    git(
        work.path(),
        &["init", "--quiet", &format!("--initial-branch={branch}")],
    );
    let has_branch = !git(bare, &["branch", "--list", branch]).trim().is_empty();
    if has_branch {
        git(work.path(), &["fetch", "--quiet", &url, branch]);
        git(work.path(), &["reset", "--quiet", "--hard", "FETCH_HEAD"]);
    }
    for (path, content) in files {
        let file = work.path().join(path);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, content).expect("write");
    }
    git(work.path(), &["add", "-A"]);
    git(
        work.path(),
        &["commit", "--quiet", "--allow-empty", "-m", message],
    );
    git(
        work.path(),
        &[
            "push",
            "--quiet",
            &url,
            &format!("HEAD:refs/heads/{branch}"),
        ],
    );
}

/// The content of `path` at the tip of `branch`, `None` if absent.
pub fn show(bare: &Path, branch: &str, path: &str) -> Option<String> {
    let output = run(git_command(bare).args(["show", &format!("{branch}:{path}")]));
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The tip of `branch`, `None` if absent.
pub fn tip(bare: &Path, branch: &str) -> Option<String> {
    let output = run(git_command(bare).args([
        "rev-parse",
        "--verify",
        "--quiet",
        &format!("refs/heads/{branch}"),
    ]));
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Commit ids on `branch`, newest first.
pub fn log(bare: &Path, branch: &str) -> Vec<String> {
    match tip(bare, branch) {
        None => Vec::new(),
        Some(_) => git(bare, &["rev-list", branch])
            .lines()
            .map(str::to_owned)
            .collect(),
    }
}
