#!/usr/bin/env bash
# Install what a fresh machine lacks for building and testing: Debian packages (git servers,
# OpenSSL headers for git2, gpg and ssh-keygen for the signed-commit tests) and the Go-built
# binaries (the local control plane, the node, the tools, the forge). Safe to run again: it only
# acts on what is missing.
#   hack/deps.sh            everything
#   hack/deps.sh packages   only the Debian packages cargo and the tests need
#   hack/deps.sh builds     only the Go-built binaries (hack/test.sh runs this beside cargo)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
case "$what" in
  all | packages | builds) ;;
  *) echo "usage: hack/deps.sh [packages|builds]" >&2; exit 2 ;;
esac

# Debian packages: name of the package, and a file that proves it is installed.
packages=(
  "git:/usr/lib/git-core/git-http-backend"
  "openssh-server:/usr/sbin/sshd"
  "openssh-client:/usr/bin/ssh-keygen"
  "gpg:/usr/bin/gpg"
  "gpg-agent:/usr/bin/gpg-agent"
  "libssl-dev:/usr/include/openssl/ssl.h"
  "pkg-config:/usr/bin/pkg-config"
  "util-linux:/usr/bin/setpriv"
)
missing=()
if [ "$what" = builds ]; then packages=(); fi
for entry in "${packages[@]}"; do
  [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The node's packages too, here rather than with its binaries: apt may ask for a sudo password,
# which only a foreground step can, and cargo's build scripts use the gcc among them.
if [ "$what" != builds ]; then "$root/hack/node.sh" packages; fi
if [ "$what" = packages ]; then exit 0; fi

"$root/hack/testenv.sh"
# The single-node cluster: containerd, runc, CNI plugins (Debian), kubelet and the other node
# components (Go), the pause image.
"$root/hack/node.sh" build
"$root/hack/tools.sh"
"$root/hack/forge.sh"
"$root/hack/promtool.sh"
