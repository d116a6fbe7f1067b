#!/usr/bin/env bash
# The controller at scale: N GitCommits (default 1000), each exporting M ConfigMaps (default 5),
# on one branch, against the real apiserver and git daemon; compared with the floor (creating
# the objects and applying their status with no operator) in the same run. Release build.
set -euo pipefail
cd "$(dirname "$0")/.."
hack/deps.sh
cargo build --release --quiet -p gco-controller -p gco-tests --bins
# As the chart and config/manager run it (the controller inherits this environment).
export MALLOC_ARENA_MAX=2
exec "${CARGO_TARGET_DIR:-target}/release/bench-controller" "$@"
