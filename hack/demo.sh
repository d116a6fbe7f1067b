#!/usr/bin/env bash
# The demo: builds everything, starts the embedded local control plane (etcd + kube-apiserver
# built from source), installs the CRDs, applies the examples of the user documentation and
# shows what the cluster made of them. Cleans up at the end; KEEP=1 leaves it running.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
state="$root/.cache/demo"
kubectl="$root/bin/testenv/kubectl"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing what this machine lacks and building the local control plane"
hack/deps.sh
step "Building git-change-operator"
cargo build --quiet -p gco-tests --bin gco-testenv

step "Starting etcd and kube-apiserver on 127.0.0.1"
rm -rf "$state"; mkdir -p "$state"
target/debug/gco-testenv "$state" 2> "$state/testenv.log" &
testenv_pid=$!
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "KEEP=1: the control plane keeps running (pid $testenv_pid)."
    echo "  export KUBECONFIG=$state/kubeconfig; stop it with: kill $testenv_pid"
  else
    kill "$testenv_pid" 2>/dev/null && wait "$testenv_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
for _ in $(seq 1 240); do
  [ -f "$state/pid" ] && break
  kill -0 "$testenv_pid" 2>/dev/null || { cat "$state/testenv.log"; exit 1; }
  sleep 0.5
done
[ -f "$state/pid" ] || { echo "the control plane did not start:"; cat "$state/testenv.log"; exit 1; }
export KUBECONFIG="$state/kubeconfig"
"$kubectl" version 2>/dev/null | sed 's/^/  /'

step "The API: three CRDs, Established"
"$kubectl" get crd -l '!nothing' -o custom-columns='NAME:.metadata.name,SHORT:.spec.names.shortNames[0],SCOPE:.spec.scope' | grep -E 'NAME|gco.galos.one'

step "Applying every example of the user documentation (tests/fixtures/seeds/)"
"$kubectl" create namespace git-change-operator-system >/dev/null
"$kubectl" create namespace demo >/dev/null
# Examples without a namespace land in `demo`; the one that names its namespace keeps it.
"$kubectl" config set-context --current --namespace=demo >/dev/null
"$kubectl" apply --server-side -f tests/fixtures/seeds/

step "What the cluster stored (defaults filled in by the schema)"
"$kubectl" get gitcommits,pullrequests -A
echo
"$kubectl" get gitcommit drift-detection -n demo -o jsonpath='{.spec.repository}{"\n"}'

step "kubectl explain reads the field docs"
"$kubectl" explain gitcommit.spec.resourceReferences.strategy

step "A spec the apiserver refuses by itself (single-field without field)"
cat <<'YAML' | tee "$state/bad.yaml"
apiVersion: gco.galos.one/v1
kind: GitCommit
metadata: { name: broken, namespace: demo }
spec:
  repository: { url: "https://git.example.com/team/repo.git" }
  resourceReferences:
    - { apiVersion: v1, kind: Secret, name: tls, strategy: single-field, output: { path: tls.crt } }
YAML
if "$kubectl" apply -f "$state/bad.yaml" 2> "$state/refused.txt"; then
  echo "unexpected: the broken spec was accepted"; exit 1
fi
sed 's/^/  /' "$state/refused.txt"

step "Done"
echo "The controller, the webhook and the git engine join this demo as they land (see docs/)."
