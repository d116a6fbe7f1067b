#!/usr/bin/env bash
# The demo: installs what is missing, builds, and runs the whole product on the embedded local
# control plane (tests/src/bin/gco-demo.rs does the steps and says what it does).
# KEEP=1 leaves everything running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
printf '\n\033[1m==> Installing what this machine lacks and building the local control plane\033[0m\n'
hack/deps.sh
printf '\n\033[1m==> Building git-change-operator (controller, webhook, kubectl-gco, demo driver)\033[0m\n'
cargo build --quiet -p gco-controller -p gco-webhook -p gco-cli -p gco-tests --bins
exec "${CARGO_TARGET_DIR:-target}/debug/gco-demo"
