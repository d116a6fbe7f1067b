#!/usr/bin/env bash
# `make cluster-up` / `make cluster-down`: the local single-node cluster of hack/node.sh, kept
# running in the background for trying the chart by hand, with the operator's images (tag
# `dev`, from the release binaries) already imported into its containerd.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.cache/cluster"
tag=${IMAGE_TAG:-dev}

up() {
  if [ -f "$dir/host-pid" ] && [ -d "/proc/$(cat "$dir/host-pid")" ]; then
    echo "cluster: already running (make cluster-down stops it)"; print_usage; return 0
  fi
  "$root/hack/node.sh" build
  "$root/hack/testenv.sh"
  "$root/hack/tools.sh"
  local release="${CARGO_TARGET_DIR:-$root/target}/release"
  (cd "$root" && ${CARGO:-cargo} build --release --locked -p gco-controller -p gco-webhook)
  "$root/hack/node.sh" images "$tag" "$release"
  rm -rf "$dir"
  mkdir -p "$dir"
  nohup "$root/hack/node.sh" run "$dir" > "$dir/run.log" 2>&1 &
  # Bounded: the node starts in about 15 s once built.
  for _ in $(seq 1 600); do
    [ -f "$dir/ready" ] && break
    if ! kill -0 $! 2>/dev/null; then
      echo "cluster: the node exited during startup:" >&2
      tail -n 30 "$dir/run.log" "$dir/node.log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  [ -f "$dir/ready" ] || { echo "cluster: not ready after 120 s; see $dir/*.log" >&2; exit 1; }
  local component
  for component in controller webhook; do
    ctr --address "$dir/containerd.sock" -n k8s.io images import \
      "$root/bin/node/images/$component-$tag.tar" > /dev/null
  done
  echo "cluster: ready in $(cat "$dir/ready") s"
  print_usage
}

print_usage() {
  cat <<EOF
  export KUBECONFIG=$dir/kubeconfig PATH=$root/bin/testenv:$root/bin/tools:\$PATH
  kubectl create namespace gco-system
  kubectl label namespace gco-system pod-security.kubernetes.io/enforce=restricted
  helm install gco charts/git-change-operator -n gco-system --set image.tag=$tag --set image.pullPolicy=Never
Pods reach the host at $(grep HOST_IP "$dir/env" 2>/dev/null | cut -d= -f2) (a git server listening there, e.g.).
Logs of every component: $dir/*.log
EOF
}

down() {
  if [ -f "$dir/host-pid" ] && [ -d "/proc/$(cat "$dir/host-pid")" ]; then
    local pid; pid=$(cat "$dir/host-pid")
    kill -TERM "$pid"
    # Bounded: the run script kills the node's namespaces and removes its veth on TERM.
    for _ in $(seq 1 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    echo "cluster: stopped"
  else
    echo "cluster: not running"
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: hack/cluster.sh up|down" >&2; exit 2 ;;
esac; exit $?
