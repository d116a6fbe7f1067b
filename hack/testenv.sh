#!/usr/bin/env bash
# Build the local control plane (kube-apiserver, etcd, kubectl) from the Go module proxy into
# bin/testenv/. Go's module and build caches make a rebuild take seconds; nothing is rebuilt
# while hack/testenv/go.mod, go.sum and this script are unchanged.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/hack/testenv"
out="${TESTENV_BIN:-$root/bin/testenv}"
key=$(cat "$module/go.mod" "$module/go.sum" "$0" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/.key" 2>/dev/null)" = "$key" ] \
  && [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ -x "$out/kubectl" ]; then
  exit 0
fi
mkdir -p "$out"
cd "$module"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
kube_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' go.mod)
minor=${kube_version#v1.}; minor=${minor%%.*}
version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  version_flags+=" -X $pkg.gitTreeState=clean"
done
echo "testenv: building kube-apiserver, kubectl and etcd $kube_version into $out" \
  "(the first build takes several minutes)" >&2
build() { go build -trimpath -ldflags="-s $version_flags" -o "$out/$1" "$2"; }
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
build etcd go.etcd.io/etcd/server/v3
echo "$key" > "$out/.key"
rm -f "$out/.go.sum"
