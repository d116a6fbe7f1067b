#!/usr/bin/env bash
# Pack a root filesystem folder into a single-layer OCI image archive that
# `ctr -n k8s.io images import` takes: the local node pulls no image from any registry.
#
#   oci-image.sh REF ROOTFS OUT.tar USER ENTRYPOINT_JSON CMD_JSON [WORKDIR]
#
# ENTRYPOINT_JSON and CMD_JSON are JSON arrays ('["/pause"]', '[]'). The archive is
# reproducible (sorted entries, fixed times and owners), so an unchanged folder gives the same
# image ID and a re-import is a no-op.
set -euo pipefail
ref=$1 rootfs=$2 out=$3 user=$4 entrypoint=$5 cmd=$6 workdir=${7:-/}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/blobs/sha256"

# blob FILE: moves FILE into the blob store and prints its digest and size.
blob() {
  local digest size
  digest=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  mv "$1" "$work/blobs/sha256/$digest"
  echo "$digest $size"
}

# Uncompressed layer: its digest is also the diff ID the config names.
# Owners are kept as they are in the folder (root, and 65532 for the nonroot home).
tar --create --file "$work/layer" --directory "$rootfs" --sort=name --mtime=@0 \
  --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime .
read -r layer layer_size < <(blob "$work/layer")

path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
printf '{"architecture":"amd64","os":"linux","config":{"User":"%s","Env":["PATH=%s","SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],"Entrypoint":%s,"Cmd":%s,"WorkingDir":"%s"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"hack/node/oci-image.sh"}]}' \
  "$user" "$path" "$entrypoint" "$cmd" "$workdir" "$layer" > "$work/config"
read -r config config_size < <(blob "$work/config")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest"
read -r manifest manifest_size < <(blob "$work/manifest")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$manifest_size" "$ref" "${ref##*:}" > "$work/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$work/oci-layout"

tar --create --file "$out.tmp" --directory "$work" --sort=name --mtime=@0 --owner=0 --group=0 \
  --numeric-owner oci-layout index.json blobs
mv "$out.tmp" "$out"
