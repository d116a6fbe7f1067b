#!/usr/bin/env bash
# Pin hack/testenv to one Kubernetes release: require k8s.io/kubernetes at KUBE_VERSION and
# replace every staging module it maps to ./staging with the matching published v0.X.Y tag.
set -euo pipefail
cd "$(dirname "$0")"
KUBE_VERSION=${1:?usage: pin.sh v1.X.Y}
staging_version="v0.${KUBE_VERSION#v1.}"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
mod=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
for m in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$mod"); do
  go mod edit -replace "${m}=${m}@${staging_version}"
done
# etcd: the server version the release itself pins (its go.mod lists it as an indirect requirement).
etcd_version=$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2}' "$mod")
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@${KUBE_VERSION}" "k8s.io/kubernetes/cmd/kubectl@${KUBE_VERSION}" \
  "go.etcd.io/etcd/server/v3@${etcd_version}"
go mod tidy
