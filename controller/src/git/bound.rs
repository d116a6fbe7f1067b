//! The cache's bound on disk: which cached repositories to delete, least recently used
//! first, so the cache fits its budget again; how much disk a repository takes; and how many
//! packs it may hold.

use std::{
    path::{Path, PathBuf},
    time::SystemTime,
};

/// The default bound: below the chart's 1 GiB `cacheSizeLimit` emptyDir, because the bound
/// is restored after a batch and the batch in flight may grow the cache past it meanwhile
/// (the kubelet evicts a Pod whose emptyDir exceeds its limit).
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 768 << 20;

/// Packs a cached repository may hold; past it the repository is deleted once no one holds
/// it, and its next batch fetches it afresh (one pack). Every batch adds a pack
/// (`staging.rs`), and so does every fetch that brings something; libgit2 looks for an object
/// the repository lacks in every pack's index, so lookups slow down with the count. At 64, a
/// busy branch fetches afresh once in about 64 batches.
pub const MAX_PACKS: usize = 64;

/// What the cache knows of one cached repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    pub bytes: u64,
    pub last_used: SystemTime,
}

/// The repositories to delete, least recently used first, until the total fits `max_bytes`;
/// a repository `busy` says is in use is never chosen. May leave the total above the bound
/// when what is busy alone exceeds it.
pub(crate) fn victims<'a>(
    repos: impl IntoIterator<Item = (&'a PathBuf, &'a Usage)>,
    busy: impl Fn(&Path) -> bool,
    max_bytes: u64,
) -> Vec<PathBuf> {
    let mut repos: Vec<_> = repos.into_iter().collect();
    let mut total: u64 = repos.iter().map(|(_, usage)| usage.bytes).sum();
    // Oldest first; ties broken by path so the choice does not depend on hash order.
    repos.sort_by(|a, b| (a.1.last_used, a.0).cmp(&(b.1.last_used, b.0)));
    let mut chosen = Vec::new();
    for (path, usage) in repos {
        if total <= max_bytes {
            break;
        }
        if !busy(path) {
            total = total.saturating_sub(usage.bytes);
            chosen.push(path.clone());
        }
    }
    chosen
}

/// The bytes of every file under `path` (0 for what cannot be read: a repository being
/// deleted or created meanwhile is measured again after its next use). Symbolic links are
/// not followed: git does not make them in a bare repository.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => disk_usage(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |meta| meta.len()),
            _ => 0,
        })
        .sum()
}

/// How many packs the repository at `path` holds (0 when it cannot be read).
pub(crate) fn packs(path: &Path) -> usize {
    std::fs::read_dir(path.join("objects/pack")).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".pack"))
            .count()
    })
}

#[cfg(test)]
mod tests {
    use std::{collections::HashMap, time::Duration};

    use super::*;

    fn usage(bytes: u64, age: u64) -> Usage {
        Usage {
            bytes,
            last_used: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 - age),
        }
    }

    fn repos() -> HashMap<PathBuf, Usage> {
        HashMap::from([
            ("a".into(), usage(10, 30)),
            ("b".into(), usage(10, 20)),
            ("c".into(), usage(10, 10)),
        ])
    }

    #[test]
    fn nothing_is_deleted_within_the_bound() {
        assert!(victims(&repos(), |_| false, 30).is_empty());
    }

    #[test]
    fn the_least_recently_used_go_first_until_the_rest_fits() {
        let repos = repos();
        assert_eq!(victims(&repos, |_| false, 25), [PathBuf::from("a")]);
        assert_eq!(
            victims(&repos, |_| false, 10),
            ["a", "b"].map(PathBuf::from)
        );
        assert_eq!(
            victims(&repos, |_| false, 0),
            ["a", "b", "c"].map(PathBuf::from)
        );
    }

    #[test]
    fn a_repository_in_use_is_never_chosen() {
        let repos = repos();
        let busy = |path: &Path| path == Path::new("a");
        assert_eq!(victims(&repos, busy, 25), [PathBuf::from("b")]);
        assert_eq!(victims(&repos, |_| true, 0), Vec::<PathBuf>::new());
    }

    #[test]
    fn disk_usage_counts_nested_files_and_reads_a_missing_folder_as_empty() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::create_dir_all(dir.path().join("objects/pack")).expect("mkdir");
        std::fs::write(dir.path().join("HEAD"), [0; 7]).expect("write");
        std::fs::write(dir.path().join("objects/pack/p"), [0; 100]).expect("write");
        assert_eq!(disk_usage(dir.path()), 107);
        assert_eq!(disk_usage(&dir.path().join("missing")), 0);
    }

    #[test]
    fn packs_counts_pack_files_only() {
        let dir = tempfile::tempdir().expect("dir");
        assert_eq!(packs(dir.path()), 0);
        let pack = dir.path().join("objects/pack");
        std::fs::create_dir_all(&pack).expect("mkdir");
        for name in [
            "pack-1.pack",
            "pack-1.idx",
            "pack-2.pack",
            "pack-2.idx",
            "tmp_pack_x",
        ] {
            std::fs::write(pack.join(name), b"").expect("write");
        }
        assert_eq!(packs(dir.path()), 2);
    }
}
