#!/usr/bin/env bash
# Build Prometheus's promtool (hack/tools/promtool, pinned) into bin/promtool/; the chart test
# runs `promtool check rules` on the chart's PrometheusRule. A module of its own, as the tools
# of hack/tools.sh: Prometheus pins its own Kubernetes and cloud libraries.
# Nothing is rebuilt while the module and this script are unchanged; Go's caches make a rebuild
# after a change take seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${PROMTOOL_BIN:-$root/bin/promtool}"
module="$root/hack/tools/promtool"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
mkdir -p "$out"

key=$(cat "$module/go.mod" "$module/go.sum" "$0" | sha256sum | cut -d' ' -f1)
stamp="$out/.key"
if [ -x "$out/promtool" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then exit 0; fi

# Prometheus's Makefile stamps the version through prometheus/common's version package.
version=$(awk '$1 == "github.com/prometheus/prometheus" {print $2}' "$module/go.mod")
echo "promtool: building $version into $out (the first build takes a few minutes)" >&2
# remove_all_sd leaves the cloud service discoveries (AWS, Azure, GCE, ...) out: a fifth of the
# packages, and the heaviest; `promtool check rules` and `test rules` need none of them.
(cd "$module" && go build -trimpath -tags remove_all_sd \
  -ldflags="-s -X github.com/prometheus/common/version.Version=$version" \
  -o "$out/promtool" github.com/prometheus/prometheus/cmd/promtool)
echo "$key" > "$stamp"
