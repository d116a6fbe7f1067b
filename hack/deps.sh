#!/usr/bin/env bash
# Install what a fresh machine lacks for building and testing: Debian packages (git servers,
# OpenSSL headers for git2, gpg and ssh-keygen for the signed-commit tests) and the Go-built local control plane. Safe to run again: it only
# acts on what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

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
for entry in "${packages[@]}"; do
  [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$root/hack/testenv.sh"
# The single-node cluster: containerd, runc, CNI plugins (Debian), kubelet and the other node
# components (Go), the pause image.
"$root/hack/node.sh" build
"$root/hack/tools.sh"
"$root/hack/forge.sh"
"$root/hack/promtool.sh"
