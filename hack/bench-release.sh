#!/usr/bin/env bash
# Runs one of the benchmark binaries of tests/src/bin (release build), as the chart runs the
# controller: `hack/bench-release.sh bench-controller ARGS…`. The bench-*.sh scripts call it.
set -euo pipefail
cd "$(dirname "$0")/.."
bench=$1
shift
hack/deps.sh
cargo build --release --quiet -p gco-controller -p gco-tests --bins
# As the chart and config/manager run it (the controller inherits this environment).
export MALLOC_ARENA_MAX=2
exec "${CARGO_TARGET_DIR:-target}/release/$bench" "$@"
