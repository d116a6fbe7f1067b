#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, built from source like hack/testenv.sh:
#
#   hack/node.sh build                 node binaries, Debian packages, the pause image (cached)
#   hack/node.sh packages              only the Debian packages (containerd, runc, CNI, gcc)
#   hack/node.sh images TAG BINDIR     the controller and webhook images from BINDIR's binaries
#   hack/node.sh run DIR               start a cluster in DIR and stay in the foreground
#
# `run` starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd,
# kubelet, kube-proxy and CoreDNS inside new network, mount and PID namespaces. Everything the
# node creates (the pod bridge, kube-proxy's iptables rules, pod network namespaces, container
# mounts, the containers themselves) lives in those namespaces and disappears with them: when
# `run` exits or is killed, the kernel kills every process of the PID namespace. The host only
# sees a veth pair, 10.243.N.1 (host) <-> 10.243.N.2 (node), through which the host reaches the
# apiserver and the pods reach servers the tests start on the host side. The node's namespace
# has no default route and the host does not forward, so no pod packet leaves the machine.
#
# When the cluster is ready, DIR holds `kubeconfig` (admin), `env` (shell variables: NODE_IP,
# HOST_IP, CONTAINERD, KUBECONFIG) and `ready`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/hack/node.sh"
bin="${NODE_BIN:-$root/bin/node}"
testenv_bin="${TESTENV_BIN:-$root/bin/testenv}"
images="$bin/images"

pod_cidr=10.244.0.0/24
pod_gateway=10.244.0.1
service_cidr=10.96.0.0/24
kubernetes_service_ip=10.96.0.1
dns_service_ip=10.96.0.10
node_name=gco-node
# The Kubernetes release's pause image name: containerd's sandbox image, built here from
# Kubernetes' own build/pause/linux/pause.c.
pause_ref=registry.k8s.io/pause:3.10.2

log() { echo "node: $*" >&2; }
die() { echo "node: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# build

build_packages() {
  # Debian packages: name of the package, and a file that proves it is installed.
  local packages=(
    "containerd:/usr/bin/containerd"
    "runc:/usr/sbin/runc"
    "containernetworking-plugins:/usr/lib/cni/bridge"
    "iptables:/usr/sbin/iptables"
    "conntrack:/usr/sbin/conntrack"
    "iproute2:/usr/sbin/ip"
    "openssl:/usr/bin/openssl"
    "busybox-static:/bin/busybox"
    "ca-certificates:/etc/ssl/certs/ca-certificates.crt"
    "libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a"
    "gcc:/usr/bin/gcc"
    "util-linux:/usr/bin/unshare"
  )
  local missing=() entry
  for entry in "${packages[@]}"; do
    [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

# The node components come from hack/testenv's module, the same pinned Kubernetes release as
# the apiserver; CoreDNS from hack/node's module (it pins its own client libraries).
build_binaries() {
  local testenv="$root/hack/testenv" dns="$root/hack/node"
  local key; key=$(cat "$testenv/go.mod" "$testenv/go.sum" "$dns/go.mod" "$dns/go.sum" \
    "$dns/main.go" "$0" | sha256sum | cut -d' ' -f1)
  local components=(kubelet kube-proxy kube-scheduler kube-controller-manager)
  local fresh=1 c
  for c in "${components[@]}" coredns; do [ -x "$bin/$c" ] || fresh=0; done
  if [ "$fresh" = 1 ] && [ "$(cat "$bin/.key" 2>/dev/null)" = "$key" ]; then return 0; fi
  mkdir -p "$bin"
  export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0
  local kube_version; kube_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$testenv/go.mod")
  local minor=${kube_version#v1.}; minor=${minor%%.*}
  local flags="" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean"
  done
  log "building ${components[*]} $kube_version and coredns into $bin" \
    "(the first build takes several minutes)"
  for c in "${components[@]}"; do
    (cd "$testenv" && go build -trimpath -ldflags="-s $flags" -o "$bin/$c" "k8s.io/kubernetes/cmd/$c")
  done
  (cd "$dns" && go build -trimpath -ldflags=-s -o "$bin/coredns" .)
  echo "$key" > "$bin/.key"
}

# The pause image (Kubernetes' pause.c, linked statically) and a busybox image for checks.
build_base_images() {
  local testenv="$root/hack/testenv"
  local kube_version; kube_version=$(awk '$1 == "k8s.io/kubernetes" {print $2}' "$testenv/go.mod")
  # `go mod download` (unlike `go list -m`) fetches the module if the cache lacks it.
  local src; src=$(cd "$testenv" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
    go mod download -json k8s.io/kubernetes | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  src="$src/build/pause/linux/pause.c"
  [ -f "$src" ] || die "no pause.c in the Kubernetes module ($src)"
  local key; key=$(cat "$src" /bin/busybox "$root/hack/node/oci-image.sh" "$0" | sha256sum | cut -d' ' -f1)
  if [ -f "$images/pause.tar" ] && [ -f "$images/busybox.tar" ] \
    && [ "$(cat "$images/.key" 2>/dev/null)" = "$key" ]; then return 0; fi
  mkdir -p "$images"
  local work; work=$(mktemp -d)
  chmod 0755 "$work"
  mkdir -p "$work/pause" "$work/busybox/bin" "$work/busybox/tmp"
  gcc -Os -static -DVERSION="$kube_version" -o "$work/pause/pause" "$src"
  "$root/hack/node/oci-image.sh" "$pause_ref" "$work/pause" "$images/pause.tar" 65535:65535 \
    '["/pause"]' '[]'
  cp /bin/busybox "$work/busybox/bin/busybox"
  for c in sh nslookup wget cat sleep echo; do ln -s busybox "$work/busybox/bin/$c"; done
  chmod 1777 "$work/busybox/tmp"
  "$root/hack/node/oci-image.sh" gco.local/busybox:1 "$work/busybox" "$images/busybox.tar" \
    65532:65532 '["/bin/sh"]' '[]'
  rm -rf "$work"
  echo "$key" > "$images/.key"
}

# ---------------------------------------------------------------------------------------------
# images TAG BINDIR: the controller and webhook images, as the Dockerfile builds them.

# The Dockerfile's runtime stage is distroless cc-debian12:nonroot, which no registry here can
# serve. Its equivalent from this Debian 12 host: the binary, the shared libraries `ldd` names
# (glibc, libgcc_s, libssl3/libcrypto3 and whatever else the build linked), CA certificates, and
# the passwd/group entries of the nonroot user 65532, home /home/nonroot. No shell.
operator_rootfs() {
  local binary=$1 name=$2 dir=$3
  mkdir -p "$dir/usr/local/bin" "$dir/etc/ssl/certs" "$dir/tmp" "$dir/home/nonroot"
  chmod 1777 "$dir/tmp"
  install -m 0755 "$binary" "$dir/usr/local/bin/$name"
  local lib
  chmod 0755 "$dir"
  # `ldd` lines: "libssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x...)", and the loader as
  # "/lib64/ld-linux-x86-64.so.2 (0x...)".
  for lib in $(ldd "$binary" | awk '$2 == "=>" {print $3} $1 ~ /^\// {print $1}'); do
    [ -e "$lib" ] || continue
    mkdir -p "$dir$(dirname "$lib")"
    cp -L "$lib" "$dir$lib"
  done
  # Debian 12 is merged-/usr: /lib64 and /lib are symlinks the loader path goes through.
  for link in lib lib64; do
    if [ -d "$dir/$link" ] && [ ! -L "$dir/$link" ]; then
      mkdir -p "$dir/usr/$link"; cp -a "$dir/$link/." "$dir/usr/$link/"; rm -rf "${dir:?}/$link"
    fi
    ln -sfn "usr/$link" "$dir/$link"
  done
  cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$dir/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$dir/etc/group"
  printf 'hosts: files dns\n' > "$dir/etc/nsswitch.conf"
  chown 65532:65532 "$dir/home/nonroot"
}

# The USER, ENTRYPOINT and CMD of a Dockerfile stage, as the image config needs them.
dockerfile_stage() {
  local stage=$1 field=$2
  awk -v stage="$stage" -v field="$field" '
    /^FROM / { in_stage = ($NF == stage) }
    in_stage && $1 == field { $1 = ""; sub(/^ /, ""); print }' "$root/Dockerfile"
}

build_operator_images() {
  local tag=$1 bindir=$2 component
  mkdir -p "$images"
  for component in controller webhook; do
    local binary="$bindir/gco-$component"
    [ -x "$binary" ] || die "$binary is missing: cargo build --release -p gco-$component"
    local ref="ghcr.io/galos/git-change-operator-$component:$tag"
    local out="$images/$component-$tag.tar"
    local key; key=$(cat "$binary" "$root/Dockerfile" "$root/hack/node/oci-image.sh" "$0" \
      | sha256sum | cut -d' ' -f1)
    if [ -f "$out" ] && [ "$(cat "$out.key" 2>/dev/null)" = "$key" ]; then continue; fi
    local user entrypoint cmd
    user=$(dockerfile_stage "$component" USER)
    entrypoint=$(dockerfile_stage "$component" ENTRYPOINT)
    cmd=$(dockerfile_stage "$component" CMD)
    [ -n "$user" ] && [ -n "$entrypoint" ] || die "no USER/ENTRYPOINT in the Dockerfile's $component stage"
    local work; work=$(mktemp -d)
    operator_rootfs "$binary" "gco-$component" "$work"
    "$root/hack/node/oci-image.sh" "$ref" "$work" "$out" "$user" "$entrypoint" "${cmd:-[]}" /home/nonroot
    rm -rf "$work"
    echo "$key" > "$out.key"
    log "image $ref -> $out"
  done
}

# ---------------------------------------------------------------------------------------------
# run DIR (host side)

run() {
  local dir=$1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  rm -f "$dir/ready" "$dir/env"
  # Names this run's cgroups, so a later run can tell which ones are orphans.
  echo $$ > "$dir/host-pid"
  [ -x "$bin/kubelet" ] && [ -f "$images/pause.tar" ] || die "not built: run hack/node.sh build"
  [ -x "$testenv_bin/kube-apiserver" ] || die "not built: run hack/testenv.sh"
  sweep_cgroups
  # A free veth pair and /30: 10.243.N.1 on the host, 10.243.N.2 in the node. /run/gco-node/N
  # names the run that owns pair N. The host end of a killed run's pair can outlive it for
  # minutes (the kernel frees a network namespace only once its last socket is gone): delete
  # those of runs that are gone, which deletes their node end too.
  local n host_if node_if owners=/run/gco-node
  mkdir -p "$owners"
  for n in $(seq 1 60); do
    local owner; owner=$(cat "$owners/$n" 2>/dev/null || true)
    if [ -n "$owner" ] && [ ! -d "/proc/$owner" ]; then
      ip link del "gco-h$n" 2>/dev/null || true
      rm -f "$owners/$n"
    fi
  done
  local error=""
  for n in $(seq 1 60); do
    host_if="gco-h$n" node_if="gco-n$n"
    if [ ! -e "$owners/$n" ] && error=$(ip link add "$host_if" type veth peer name "$node_if" 2>&1); then
      echo $$ > "$owners/$n"
      break
    fi
    case "$error" in *"File exists"*|"") ;; *) die "cannot create a veth pair: $error" ;; esac
    [ "$n" -lt 60 ] || die "no free veth pair gco-h1..gco-h60 (see /run/gco-node)"
  done
  # The namespaces: unshare itself enters the new network and mount namespaces, its child is
  # PID 1 of the new PID namespace. --kill-child ends that child (and with it the whole PID
  # namespace) when unshare dies; setpriv makes unshare die with this script.
  setpriv --pdeathsig KILL -- unshare --net --mount --propagation private --pid --fork \
    --kill-child --mount-proc -- "$self" inside "$dir" "$n" >> "$dir/node.log" 2>&1 &
  local child=$!
  local cleanup="kill -KILL $child 2>/dev/null; ip link del $host_if 2>/dev/null; rm -f $owners/$n"
  trap "$cleanup; exit 143" TERM INT
  trap "$cleanup" EXIT
  local host_ns; host_ns=$(readlink /proc/self/ns/net)
  for _ in $(seq 1 100); do
    [ "$(readlink "/proc/$child/ns/net" 2>/dev/null)" != "$host_ns" ] && break
    sleep 0.05
  done
  ip link set "$node_if" netns "$child"
  ip addr add "10.243.$n.1/30" dev "$host_if"
  ip link set "$host_if" up
  log "node namespace: pid $child, host 10.243.$n.1 <-> node 10.243.$n.2; log: $dir/node.log"
  wait "$child"
}

# Kubelets of earlier runs leave their (empty) cgroups behind: remove those whose run is gone.
sweep_cgroups() {
  local top d pid
  for top in /sys/fs/cgroup/*/; do
    for d in "$top"gco-node-*; do
      [ -d "$d" ] || continue
      pid=${d##*gco-node-}
      [ -d "/proc/$pid" ] && continue
      # Depth first: a cgroup is removed with rmdir once its children are.
      find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  done
}

# ---------------------------------------------------------------------------------------------
# inside DIR N: PID 1 of the node's namespaces.

inside() {
  local dir=$1 n=$2
  local host_ip="10.243.$n.1" node_ip="10.243.$n.2" node_if="gco-n$n"
  local started; started=$(date +%s.%N)
  # Private runtime folders: the host's /run and /var/lib stay untouched.
  local private
  for private in /run/containerd /run/netns /var/lib/cni; do
    mkdir -p "$private" && mount -t tmpfs tmpfs "$private"
  done

  for _ in $(seq 1 100); do ip link show "$node_if" >/dev/null 2>&1 && break; sleep 0.05; done
  ip link set lo up
  ip addr add "$node_ip/30" dev "$node_if"
  ip link set "$node_if" up
  # The pod bridge, created here so CoreDNS can listen on its gateway address at once.
  ip link add gco0 type bridge
  ip addr add "$pod_gateway/24" dev gco0
  ip link set gco0 up
  # Processes of the node itself (the apiserver calling a webhook's Service) need a route to
  # Service addresses for kube-proxy's DNAT to rewrite, and the node has no default route: the
  # pod bridge carries them (this kernel has no dummy devices; a Service address kube-proxy
  # does not know is asked for on the bridge and goes nowhere).
  ip route add "$service_cidr" dev gco0
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || true
  # Pods reach the host side (git servers the tests start) from the node's own address, so
  # the host needs no route back into the pod range.
  iptables -t nat -A POSTROUTING -s "$pod_cidr" -d "$host_ip/32" -j MASQUERADE

  keep_kernel_settings "$dir"
  pki "$dir" "$node_ip"
  configs "$dir" "$node_ip" "$n"

  local pids=()
  start() { local name=$1; shift; "$@" >> "$dir/$name.log" 2>&1 & pids+=($!); }
  start etcd "$testenv_bin/etcd" --name=default --data-dir="$dir/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=default=http://127.0.0.1:2380 --unsafe-no-fsync --log-level=warn
  start containerd containerd --config "$dir/containerd.toml"
  start kube-apiserver "$testenv_bin/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --advertise-address="$node_ip" --secure-port=6443 \
    --cert-dir="$dir/pki" --tls-cert-file="$dir/pki/apiserver.crt" \
    --tls-private-key-file="$dir/pki/apiserver.key" --client-ca-file="$dir/pki/ca.crt" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-cluster-ip-range="$service_cidr" --allow-privileged=true \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$dir/pki/sa.pub" \
    --service-account-signing-key-file="$dir/pki/sa.key" \
    --kubelet-client-certificate="$dir/pki/apiserver-kubelet.crt" \
    --kubelet-client-key="$dir/pki/apiserver-kubelet.key" \
    --kubelet-preferred-address-types=InternalIP \
    --enable-priority-and-fairness=false --v=0

  wait_for "kube-apiserver" 90 \
    "$testenv_bin/kubectl" --kubeconfig "$dir/kubeconfig" get --raw /readyz
  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig="$dir/controller-manager.kubeconfig" --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
    --cluster-signing-cert-file="$dir/pki/ca.crt" --cluster-signing-key-file="$dir/pki/ca.key" \
    --bind-address=127.0.0.1 --v=0
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig="$dir/scheduler.kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --v=0
  "$testenv_bin/kubectl" --kubeconfig "$dir/kubeconfig" apply -f "$dir/cluster.yaml" >> "$dir/node.log"

  wait_for "containerd" 30 ctr --address "$dir/containerd.sock" version
  local image
  for image in "$images"/pause.tar "$images"/busybox.tar; do
    ctr --address "$dir/containerd.sock" -n k8s.io images import --no-unpack "$image" >/dev/null
  done
  # --root-dir is a flag only (no KubeletConfiguration field): without it two nodes share
  # /var/lib/kubelet, and each kubelet deletes the other's pod volumes as orphans.
  start kubelet "$bin/kubelet" --config="$dir/kubelet.yaml" --kubeconfig="$dir/kubelet.kubeconfig" \
    --root-dir="$dir/kubelet" --hostname-override="$node_name" --node-ip="$node_ip" --v=0
  start kube-proxy "$bin/kube-proxy" --config="$dir/kube-proxy.yaml"
  start coredns "$bin/coredns" -conf "$dir/Corefile"

  wait_for "the node" 60 sh -c "'$testenv_bin/kubectl' --kubeconfig '$dir/kubeconfig' get node $node_name \
    -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  wait_for "CoreDNS" 30 busybox wget -q -O /dev/null http://127.0.0.1:8181/ready
  cat > "$dir/env" <<EOF
NODE_IP=$node_ip
HOST_IP=$host_ip
CONTAINERD=$dir/containerd.sock
KUBECONFIG=$dir/kubeconfig
EOF
  local elapsed; elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  echo "$elapsed" > "$dir/ready"
  echo "node: ready in ${elapsed}s (apiserver https://$node_ip:6443)"
  # Any component's exit ends the node: a half-running node would only give confusing failures.
  wait -n "${pids[@]}" || true
  echo "node: a component exited; stopping" >&2
  exit 1
}

# The kubelet sets six machine-wide kernel settings to its liking at start (vm.overcommit_memory=1,
# kernel.panic=10, kernel.panic_on_oops=1, ...); they are not namespaced, so they would change
# the whole machine for a test. Its only alternative (protectKernelDefaults) refuses to start.
# In the node's own mount namespace, a file holding the value the kubelet wants is mounted over
# each setting that differs: the kubelet reads what it wants and writes nothing.
keep_kernel_settings() {
  local dir=$1 entry setting want
  mkdir -p "$dir/sysctl"
  for entry in vm/overcommit_memory:1 vm/panic_on_oom:0 kernel/panic:10 kernel/panic_on_oops:1 \
    kernel/keys/root_maxkeys:1000000 kernel/keys/root_maxbytes:25000000; do
    setting=${entry%%:*} want=${entry#*:}
    [ "$(cat "/proc/sys/$setting")" = "$want" ] && continue
    echo "$want" > "$dir/sysctl/${setting//\//.}"
    mount --bind "$dir/sysctl/${setting//\//.}" "/proc/sys/$setting"
  done
}

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every 0.2s until it succeeds.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "node: $what not ready after ${seconds}s" >&2; exit 1; }
    sleep 0.2
  done
}

# pki DIR NODE_IP: a CA, the apiserver's serving certificate, and one client certificate per
# component (CN = user, O = group), as kubeadm lays them out.
pki() {
  local dir=$1 node_ip=$2 p="$1/pki"
  mkdir -p "$p"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=gco-node-ca -keyout "$p/ca.key" -out "$p/ca.crt" 2>/dev/null
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$p/sa.key" 2>/dev/null
  openssl pkey -in "$p/sa.key" -pubout -out "$p/sa.pub"
  cert "$p" apiserver "/CN=kube-apiserver" \
    "subjectAltName=IP:$node_ip,IP:127.0.0.1,IP:$kubernetes_service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert "$p" admin "/O=system:masters/CN=admin"
  cert "$p" apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert "$p" kubelet "/O=system:nodes/CN=system:node:$node_name"
  cert "$p" controller-manager "/CN=system:kube-controller-manager"
  cert "$p" scheduler "/CN=system:kube-scheduler"
  cert "$p" kube-proxy "/CN=system:kube-proxy"
  cert "$p" coredns "/CN=gco-node:coredns"
  local user
  for user in admin kubelet controller-manager scheduler kube-proxy coredns; do
    local file="$dir/$user.kubeconfig"; [ "$user" = admin ] && file="$dir/kubeconfig"
    cat > "$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gco-node
  cluster: {server: "https://$node_ip:6443", certificate-authority: "$p/ca.crt"}
users:
- name: $user
  user: {client-certificate: "$p/$user.crt", client-key: "$p/$user.key"}
contexts:
- name: gco-node
  context: {cluster: gco-node, user: $user}
current-context: gco-node
EOF
  done
}

cert() {
  local p=$1 name=$2 subject=$3 ext=${4:-}
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
    -keyout "$p/$name.key" -out "$p/$name.csr" 2>/dev/null
  local extfile; extfile=$(mktemp)
  echo "${ext:-basicConstraints=CA:FALSE}" > "$extfile"
  openssl x509 -req -in "$p/$name.csr" -CA "$p/ca.crt" -CAkey "$p/ca.key" -CAcreateserial \
    -days 30 -extfile "$extfile" -out "$p/$name.crt" 2>/dev/null
  rm -f "$extfile" "$p/$name.csr"
}

configs() {
  local dir=$1 node_ip=$2 n=$3
  # Each run's kubelet has its own cgroup root, so two nodes (a test and `make cluster-up`)
  # never share /kubepods. cpuset children start empty on cgroup v1: copy the parent's sets.
  local cgroup_root top
  cgroup_root="gco-node-$(cat "$dir/host-pid")"
  for top in /sys/fs/cgroup/*/; do
    [ "$top" = /sys/fs/cgroup/unified/ ] && continue
    mkdir -p "$top$cgroup_root"
    if [ -f "${top}cpuset.cpus" ]; then
      cat "${top}cpuset.cpus" > "$top$cgroup_root/cpuset.cpus"
      cat "${top}cpuset.mems" > "$top$cgroup_root/cpuset.mems"
    fi
  done

  mkdir -p "$dir/cni" "$dir/containerd"
  cat > "$dir/containerd.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  enable_unprivileged_ports = false
  # This machine withholds CAP_SYS_RESOURCE even from root, so no process may lower its
  # oom_score_adj; the kubelet asks -998 for sandboxes and runc fails with "can't get final
  # child's PID from pipe: EOF". Clamp to containerd's own value instead (as rootless setups do).
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni"
EOF
  cat > "$dir/cni/10-gco.conflist" <<EOF
{"cniVersion": "1.0.0", "name": "gco", "plugins": [
  {"type": "bridge", "bridge": "gco0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "dataDir": "$dir/cni-ipam",
            "ranges": [[{"subnet": "$pod_cidr", "gateway": "$pod_gateway"}]],
            "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}
]}
EOF
  cat > "$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The kernel mounts cgroup v1; Kubernetes 1.35+ refuses it unless told otherwise (KEP-5573).
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$cgroup_root
failSwapOn: false
containerRuntimeEndpoint: unix://$dir/containerd.sock
podLogsDir: $dir/pod-logs
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: "$dir/pki/ca.crt"}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [$dns_service_ip]
resolvConf: ""
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
# The disk is shared with everything else on the machine (and often over 90% full): no eviction
# for disk space ("0%", as kind does), and never a garbage collection of the locally imported
# images (they cannot be pulled again).
evictionHard: {memory.available: "100Mi", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF
  cat > "$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: "$dir/kube-proxy.kubeconfig"}
mode: iptables
clusterCIDR: $pod_cidr
hostnameOverride: $node_name
bindAddress: 127.0.0.1
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# Leave the machine-wide conntrack table size alone.
conntrack: {maxPerCore: 0, min: 0}
EOF
  # No `forward`: a name outside the cluster gets no answer instead of a query to the world.
  cat > "$dir/Corefile" <<EOF
.:53 {
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $dir/coredns.kubeconfig gco-node
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 30
}
EOF
  # The DNS Service, served by CoreDNS on the node's pod gateway; and what CoreDNS may read.
  cat > "$dir/cluster.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $dns_service_ip
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: kube-dns-node, namespace: kube-system, labels: {kubernetes.io/service-name: kube-dns}}
addressType: IPv4
endpoints:
- addresses: ["$pod_gateway"]
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: gco-node:coredns}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "gco-node:coredns"}
EOF
}

# `; exit` on the last line: bash reads a script while it runs, and a node runs for long; an
# edit meanwhile must not make it run a stray line when it stops.
case "${1:-}" in
  build) build_packages; build_binaries; build_base_images ;;
  packages) build_packages ;;
  images) build_operator_images "${2:?usage: node.sh images TAG BINDIR}" "${3:?usage: node.sh images TAG BINDIR}" ;;
  run) run "${2:?usage: node.sh run DIR}" ;;
  inside) inside "$2" "$3" ;;
  *) echo "usage: hack/node.sh build | packages | images TAG BINDIR | run DIR" >&2; exit 2 ;;
esac; exit $?
