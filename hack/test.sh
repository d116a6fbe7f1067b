#!/usr/bin/env bash
# `make test`: every check and every test, on a machine that may have nothing built yet.
# The Go-built binaries (hack/deps.sh builds) build in the background while cargo checks and
# compiles, so that on two cores each fills the other's single-threaded stretches (module
# downloads, linking, the crates that compile alone); the tests start once both are done.
# docs/development.md has the figures of a cold run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}

# Every Debian package first, in the foreground: apt may ask for a sudo password, and cargo
# needs the OpenSSL headers, pkg-config and gcc before anything compiles.
hack/deps.sh packages

mkdir -p .cache
log=.cache/deps.log
echo "the Go builds run in the background; their log: $log" >&2
# Its own process group, so a failing cargo step stops the Go builds too; no terminal input, so
# nothing in it can wait for any.
set -m
hack/deps.sh builds < /dev/null > "$log" 2>&1 &
deps=$!
set +m
trap 'kill -- -"$deps" 2>/dev/null || true; tail -n 20 "$log" | sed "s/^/deps: /" >&2' EXIT

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
