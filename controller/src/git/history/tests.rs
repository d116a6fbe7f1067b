//! The messages the engine writes, and the search for runs by time, on repositories built
//! commit by commit with chosen dates.

use super::*;
use crate::git::{
    change::Author,
    trailers::tests::{carries_run, object, run},
};

fn change(name: &str, id: &str, message: &str) -> Change {
    Change {
        object: object(name),
        run: run(id),
        author: Author::operator(),
        message: message.into(),
        writes: Vec::new(),
        signing: None,
        at: Timestamp::now(),
        recover: None,
    }
}

#[test]
fn the_engine_reads_back_its_own_trailers_and_nothing_a_user_wrote() {
    // A user's message ending in another object's pair: it stays above the engine's block.
    let quoting = change(
        "a",
        "run-a",
        "Update a\n\nGco-Object: ns/GitCommit/b\nGco-Run: run-b\n",
    );
    let other = change("c", "run-c", "Update c");
    for changes in [vec![&quoting], vec![&quoting, &other]] {
        let message = commit_message(&changes);
        for change in &changes {
            assert!(
                carries_run(&message, &change.object, &change.run),
                "{message}"
            );
        }
        let b = change("b", "run-b", "");
        assert!(!carries_run(&message, &b.object, &b.run), "{message}");
    }
}

/// The run's instant in these tests.
const AT: i64 = 1_790_000_000;

/// A bare repository in a folder that lives as long as the value.
struct Repo {
    _dir: tempfile::TempDir,
    repo: Repository,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let repo = Repository::init_bare(dir.path()).expect("init");
        // Objects in memory: the bound's test writes ten thousand commits.
        repo.odb()
            .and_then(|odb| odb.add_new_mempack_backend(1000).map(drop))
            .expect("mempack");
        Repo { _dir: dir, repo }
    }

    /// An empty-tree commit with `message` on `parents`, committed at `time`.
    fn commit(&self, parents: &[Oid], message: &str, time: i64) -> Oid {
        let signature =
            git2::Signature::new("Someone", "someone@example.com", &git2::Time::new(time, 0))
                .expect("signature");
        let tree = self.empty_tree();
        let tree = self.repo.find_tree(tree).expect("tree");
        let parents: Vec<git2::Commit<'_>> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p).expect("parent"))
            .collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        self.repo
            .commit(None, &signature, &signature, message, &tree, &parents)
            .expect("commit")
    }

    /// `count` commits on top of `tip`, one second apart from `time` on.
    fn pile(&self, tip: Oid, count: i64, time: i64) -> Oid {
        (0..count).fold(tip, |tip, i| {
            self.commit(&[tip], &format!("someone else's {i}"), time + i)
        })
    }

    /// What a shallow clone's edge looks like: a commit whose parent was never fetched.
    fn edge(&self, time: i64) -> Oid {
        let raw = format!(
            "tree {}\nparent {}\nauthor S <s@example.com> {time} +0000\ncommitter S <s@example.com> {time} +0000\n\nedge\n",
            self.empty_tree(),
            "1".repeat(40)
        );
        let odb = self.repo.odb().expect("odb");
        odb.write(git2::ObjectType::Commit, raw.as_bytes())
            .expect("write")
    }

    fn empty_tree(&self) -> Oid {
        self.repo
            .treebuilder(None)
            .and_then(|t| t.write())
            .expect("tree")
    }

    fn find(&self, tip: Oid, wanted: &[Wanted]) -> Lookback {
        find_runs(&self.repo, tip, wanted).expect("search")
    }
}

/// The message the engine writes for GitCommit `name`'s run `id`.
fn run_message(name: &str, id: &str) -> String {
    commit_message(&[&change(name, id, "Update")])
}

fn wanted(name: &str, id: &str) -> Wanted {
    Wanted::new(
        &object(name),
        &run(id),
        Timestamp::from_second(AT).expect("instant"),
    )
}

fn found(oid: Oid) -> Lookback {
    Lookback {
        found: vec![Some(oid)],
        cut_short: false,
    }
}

const ABSENT: Lookback = Lookback {
    found: Vec::new(),
    cut_short: false,
};

fn absent(count: usize) -> Lookback {
    Lookback {
        found: vec![None; count],
        ..ABSENT
    }
}

#[test]
fn a_run_beneath_a_hundred_newer_commits_is_found() {
    let r = Repo::new();
    let seed = r.commit(&[], "seed", AT - 3600);
    let ours = r.commit(&[seed], &run_message("drift", "run-1"), AT + 5);
    let tip = r.pile(ours, 100, AT + 10);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), found(ours));
    assert_eq!(r.find(tip, &[wanted("drift", "run-2")]), absent(1));
    assert_eq!(r.find(tip, &[wanted("other", "run-1")]), absent(1));
}

#[test]
fn the_newest_commit_carrying_a_run_is_the_one_found() {
    let r = Repo::new();
    let first = r.commit(&[], &run_message("drift", "run-1"), AT + 1);
    let second = r.commit(&[first], &run_message("drift", "run-1"), AT + 2);
    let tip = r.pile(second, 3, AT + 3);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), found(second));
}

#[test]
fn a_commit_older_than_the_cut_off_is_not_considered() {
    let skew = RUN_CLOCK_SKEW.as_secs();
    let r = Repo::new();
    let forged = r.commit(&[], &run_message("drift", "run-1"), AT - skew - 1);
    let tip = r.pile(forged, 3, AT + 10);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), absent(1));
    // Within the allowance, a commit dated before the instant counts (another node's clock).
    let r = Repo::new();
    let skewed = r.commit(&[], &run_message("drift", "run-1"), AT - skew);
    let tip = r.pile(skewed, 3, AT + 10);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), found(skewed));
}

#[test]
fn a_run_beneath_commits_from_a_slow_clock_is_found() {
    let r = Repo::new();
    let ours = r.commit(&[], &run_message("drift", "run-1"), AT + 5);
    // Someone whose clock is a day behind pushed on top of the run, then others as usual.
    let slow = (0..5).fold(ours, |tip, i| r.commit(&[tip], "slow", AT - 86_400 + i));
    let tip = r.pile(slow, 20, AT + 10);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), found(ours));
}

#[test]
fn history_well_before_the_cut_off_is_not_read() {
    let r = Repo::new();
    // A run dated after the instant, under more old commits than the search reads past the
    // cut-off: out of reach, as it should be (no run's commit sits under such a history).
    let buried = r.commit(&[], &run_message("drift", "run-1"), AT + 5);
    let old = (0..SLOP as i64 + 1).fold(buried, |tip, i| r.commit(&[tip], "old", AT - 86_400 + i));
    let tip = r.pile(old, 3, AT + 10);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), absent(1));
}

#[test]
fn runs_on_a_merged_branch_are_found() {
    let r = Repo::new();
    let seed = r.commit(&[], "seed", AT - 3600);
    let ours = r.commit(&[seed], &run_message("drift", "run-1"), AT + 5);
    let side = r.pile(ours, 100, AT + 10);
    let main = r.pile(seed, 100, AT + 20);
    let merge = r.commit(&[main, side], "merge", AT + 500);
    let tip = r.pile(merge, 10, AT + 600);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), found(ours));
}

#[test]
fn one_walk_finds_every_run_of_a_batch() {
    let r = Repo::new();
    let a = r.commit(&[], &run_message("a", "run-a"), AT + 1);
    let b = r.commit(&[a], &run_message("b", "run-b"), AT + 2);
    let both = commit_message(&[&change("c", "run-c", "c"), &change("d", "run-d", "d")]);
    let cd = r.commit(&[b], &both, AT + 3);
    let tip = r.pile(cd, 70, AT + 4);
    let runs = [
        wanted("a", "run-a"),
        wanted("x", "run-x"),
        wanted("d", "run-d"),
        wanted("b", "run-b"),
        wanted("c", "run-c"),
    ];
    assert_eq!(
        r.find(tip, &runs).found,
        vec![Some(a), None, Some(cd), Some(b), Some(cd)]
    );
}

#[test]
fn the_edge_of_a_shallow_history_above_the_cut_off_asks_for_more() {
    let r = Repo::new();
    let edge = r.edge(AT + 1);
    let tip = r.pile(edge, 64, AT + 10);
    let lookback = r.find(tip, &[wanted("drift", "run-1")]);
    assert_eq!(
        lookback,
        Lookback {
            found: vec![None],
            cut_short: true
        }
    );
    // Found anyway: no need for more.
    let ours = r.commit(&[tip], &run_message("drift", "run-1"), AT + 100);
    let tip = r.pile(ours, 3, AT + 200);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), found(ours));
    // An edge older than the cut-off: the search has read all it needs.
    let r = Repo::new();
    let edge = r.edge(AT - 86_400);
    let tip = r.pile(edge, 64, AT + 10);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), absent(1));
}

#[test]
fn an_edge_on_one_side_of_a_merge_asks_for_more() {
    // The merged branch was cut above the cut-off; the main line goes on into old history.
    let r = Repo::new();
    let old = (0..SLOP as i64 + 5).fold(r.commit(&[], "root", AT - 90_000), |tip, i| {
        r.commit(&[tip], "old", AT - 86_400 + i)
    });
    let side = r.pile(r.edge(AT + 1), 3, AT + 2);
    let merge = r.commit(&[old, side], "merge", AT + 100);
    let tip = r.pile(merge, 3, AT + 200);
    assert!(r.find(tip, &[wanted("drift", "run-1")]).cut_short);
}

#[test]
fn the_walk_is_bounded() {
    let r = Repo::new();
    let ours = r.commit(&[], &run_message("drift", "run-1"), AT + 1);
    // All dated after the instant: only the bound ends the walk before the run.
    let tip = r.pile(ours, RUN_WALK_LIMIT as i64, AT + 2);
    assert_eq!(r.find(tip, &[wanted("drift", "run-1")]), absent(1));
    let one_less = r
        .repo
        .find_commit(tip)
        .expect("tip")
        .parent_id(0)
        .expect("parent");
    // 10,000 commits including the run's: found at the bound.
    assert_eq!(r.find(one_less, &[wanted("drift", "run-1")]), found(ours));
}
