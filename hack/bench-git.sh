#!/usr/bin/env bash
# The git engine's benchmark (budgets in docs/performance.md): warm commit latency against `git http-backend` on
# repositories with 10,000 files and 100 / 5,000 / 50,000 commits, and the git CLI's
# clone-edit-commit-push baseline on the same server, in one run. Prints p50/p95 and ratios.
# Needs git (http-backend, fast-import): hack/deps.sh installs it.
#   GCO_BENCH_ITERATIONS=40 GCO_BENCH_BASELINE_ITERATIONS=5 hack/bench-git.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
exec cargo bench -p gco-controller --bench git_commit
