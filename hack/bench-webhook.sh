#!/usr/bin/env bash
# Webhook latency figures for docs/performance.md ("Webhook"): the in-process review
# benchmark (criterion, p50/p99) and the admission comparison through a real apiserver
# (no admission vs the webhook vs a ValidatingAdmissionPolicy, 50 concurrent clients).
set -euo pipefail
cd "$(dirname "$0")/.."
hack/testenv.sh
echo "== in-process review (cargo bench -p gco-webhook)"
cargo bench -p gco-webhook --bench review -- --noplot 2>&1 | grep -E "^(validate|mutate)|time:|in-process"
echo "== through the apiserver"
cargo run --quiet --release -p gco-tests --bin bench-webhook
