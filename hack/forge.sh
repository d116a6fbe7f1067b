#!/usr/bin/env bash
# Build the real forge for the PullRequest end-to-end tests (Gitea, SQLite via cgo) from the Go
# module proxy into bin/forge/gitea. Nothing is rebuilt while hack/forge/go.mod, go.sum and this
# script are unchanged; Go's module and build caches make a forced rebuild take seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
module="$root/hack/forge"
out="${FORGE_BIN:-$root/bin/forge}"
key=$(cat "$module/go.mod" "$module/go.sum" "$0" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/.key" 2>/dev/null)" = "$key" ] && [ -x "$out/gitea" ] && [ -d "$out/static" ]; then
  exit 0
fi
mkdir -p "$out"
cd "$module"
# cgo: Gitea up to v1.26 reaches SQLite through mattn/go-sqlite3.
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=1
version=$(awk '$1 == "code.gitea.io/gitea" {print $2}' go.mod)
echo "forge: building gitea $version into $out (the first build takes several minutes)" >&2
go build -trimpath -tags 'sqlite sqlite_unlock_notify' \
  -ldflags="-s -X main.Version=${version#v}" -o "$out/gitea.new" code.gitea.io/gitea
mv "$out/gitea.new" "$out/gitea"
# Without the bindata tag Gitea reads templates/, options/ and public/ from STATIC_ROOT_PATH:
# point it at the module's own source tree (read-only in the module cache, which is fine).
src=$(go list -m -f '{{.Dir}}' code.gitea.io/gitea)
ln -sfn "$src" "$out/static"
echo "$key" > "$out/.key"
