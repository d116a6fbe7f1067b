#!/usr/bin/env bash
# PullRequests at scale against a real Gitea (docs/performance.md): N PullRequests (default
# 100), the controller killed halfway and restarted; time to all Ready, duplicates, and forge
# API requests per PullRequest. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/deps.sh
cargo build --release --quiet -p gco-controller -p gco-tests --bins
export MALLOC_ARENA_MAX=2
exec "${CARGO_TARGET_DIR:-target}/release/bench-pullrequests" "$@"
