#!/usr/bin/env bash
# Build the Go tools the chart, kustomize, Flux and encryption tests use into bin/tools/: helm and
# kubeconform (hack/tools/helm), Flux's notification-controller (hack/tools/flux), and SOPS and age
# (hack/tools/sops). They are separate Go
# modules because each pins its own Kubernetes libraries (and the control plane in hack/testenv
# pins a third): one module would force a single version on all of them.
# Nothing is rebuilt while the modules and this script are unchanged; Go's caches make a rebuild
# after a change take seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${TOOLS_BIN:-$root/bin/tools}"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
mkdir -p "$out"

# version MODULE_DIR MODULE: the version MODULE_DIR's go.mod resolves MODULE to.
version() { awk -v m="$2" '$1 == m {print $2}' "$root/hack/tools/$1/go.mod"; }

# build MODULE_DIR NAME PACKAGE LDFLAGS [NAME PACKAGE LDFLAGS]...
build() {
  local dir=$1; shift
  local module="$root/hack/tools/$dir"
  local key; key=$(cat "$module/go.mod" "$module/go.sum" "$0" | sha256sum | cut -d' ' -f1)
  local stamp="$out/.key-$dir" args=("$@") fresh=1 i
  for ((i = 0; i < ${#args[@]}; i += 3)); do [ -x "$out/${args[i]}" ] || fresh=0; done
  if [ "$fresh" = 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then return 0; fi
  for ((i = 0; i < ${#args[@]}; i += 3)); do
    echo "tools: building ${args[i]} into $out (the first build takes a few minutes)" >&2
    (cd "$module" && go build -trimpath -ldflags="-s ${args[i + 2]}" -o "$out/${args[i]}" "${args[i + 1]}")
  done
  echo "$key" > "$stamp"
}

# Helm's Makefile stamps its version and the Kubernetes version `helm lint` and `helm template`
# assume (the client-go minor it is built with); without them both report v1.20.
helm_version=$(version helm helm.sh/helm/v3)
client_go=$(version helm k8s.io/client-go); client_go_minor=$(cut -d. -f2 <<< "$client_go")
helm_flags="-X helm.sh/helm/v3/internal/version.version=$helm_version"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_flags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$client_go_minor"
done
kubeconform_flags="-X main.version=$(version helm github.com/yannh/kubeconform)"

build helm \
  helm helm.sh/helm/v3/cmd/helm "$helm_flags" \
  kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$kubeconform_flags"
build flux \
  notification-controller github.com/fluxcd/notification-controller ""
build sops \
  sops github.com/getsops/sops/v3/cmd/sops "-X github.com/getsops/sops/v3/version.Version=$(version sops github.com/getsops/sops/v3 | tr -d v)" \
  age filippo.io/age/cmd/age "" \
  age-keygen filippo.io/age/cmd/age-keygen ""
