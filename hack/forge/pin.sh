#!/usr/bin/env bash
# Pin hack/forge to one Gitea release: require code.gitea.io/gitea at GITEA_VERSION and repeat the
# replace AND exclude directives of Gitea's own go.mod (a consumer module inherits neither, and
# they differ between releases, so they are read from the downloaded go.mod, never typed by hand).
set -euo pipefail
cd "$(dirname "$0")"
GITEA_VERSION=${1:?usage: pin.sh v1.X.Y}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
mod=$(go mod download -json "code.gitea.io/gitea@${GITEA_VERSION}" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
go mod edit -json "$mod" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for r in d.get("Replace") or []:
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    new = r["New"]["Path"] + ("@" + r["New"]["Version"] if r["New"].get("Version") else "")
    print("-replace=" + old + "=" + new)
for e in d.get("Exclude") or []:
    print("-exclude=" + e["Path"] + "@" + e["Version"])
' | xargs -r go mod edit
go get -tool "code.gitea.io/gitea@${GITEA_VERSION}"
go mod tidy
