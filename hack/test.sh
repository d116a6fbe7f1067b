#!/usr/bin/env bash
# `make test`: every check and every test, on a machine that may have nothing built yet.
# The Go-built binaries (hack/deps.sh builds: about half of a cold run) build in the background
# while cargo checks and compiles: on two cores each fills the other's single-threaded stretches
# (module downloads, linking, the largest crates), which shortens a cold run by several minutes
# (docs/development.md has the figures). The tests start once both are done.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}

# cargo needs the OpenSSL headers and pkg-config before anything compiles.
hack/deps.sh packages

mkdir -p .cache
log=.cache/deps.log
# Its own process group, so a failing cargo step stops the Go builds too.
set -m
hack/deps.sh builds > "$log" 2>&1 &
deps=$!
set +m
trap 'kill -- -"$deps" 2>/dev/null || true' EXIT

$cargo fmt --all -- --check
$cargo clippy --workspace --all-targets --locked -- -D warnings
# The integration tests run the controller and webhook binaries as real processes.
$cargo build --workspace --bins --locked
# The node tests (tests/tests/node_chart.rs) run them as images built from release binaries, as
# the Dockerfile does.
$cargo build --release --locked -p gco-controller -p gco-webhook

status=0
wait "$deps" || status=$?
trap - EXIT
sed 's/^/deps: /' "$log"
if [ "$status" -ne 0 ]; then
  echo "hack/deps.sh builds failed (exit $status); its output is above" >&2
  exit "$status"
fi

$cargo test --workspace --locked --no-fail-fast
