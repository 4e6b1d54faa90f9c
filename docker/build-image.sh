#!/usr/bin/env bash
# Build docker/Dockerfile without a Docker engine or a container registry (buildah + podman,
# rootful): the base image comes from Debian (debootstrap) instead of Docker Hub.
#
#   bash docker/build-image.sh [IMAGE]        # default localhost/lyo:smoke
#
# Needs the Debian packages buildah podman runc catatonit debootstrap (.ci/run installs them).
# Everything host-specific is read here, at run time, and never written into the repository:
# the Debian mirror from apt's sources, pip's index from pip's configuration, and the host's
# CA bundle (outbound HTTPS may go through a proxy whose CA only the host trusts).
#
# Kept between runs (delete to start from nothing): the base rootfs tarball in
# $LYO_IMAGE_CACHE (default /var/cache/lyo-image) and podman's store (/var/lib/containers),
# which holds the imported base and buildah's layer cache.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

IMAGE=${1:-localhost/lyo:smoke}
CACHE=${LYO_IMAGE_CACHE:-/var/cache/lyo-image}
BASE_IMAGE=${LYO_BASE_IMAGE:-localhost/lyo-python:3.11-bookworm}
SUITE=bookworm
# What the official python:3.11-slim-bookworm image offers the Dockerfile: python (and venv),
# pip for the builder stage, apt for its build tools, CA certificates.
BASE_PACKAGES=python3.11,python3.11-venv,python3-pip,python-is-python3,ca-certificates
HOST_CA_BUNDLE=${LYO_HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
DEBOOTSTRAP_TIMEOUT=${LYO_DEBOOTSTRAP_TIMEOUT:-600}
BUILD_TIMEOUT=${LYO_BUILD_TIMEOUT:-900}
APT_DIR=${LYO_APT_DIR:-/etc/apt}

# The first Debian mirror apt uses for the suite itself (not -updates or -security), from
# deb822 .sources files or one-line sources.list entries.
debian_mirror() {
  local file
  for file in "$APT_DIR"/sources.list.d/*.sources; do
    [ -r "$file" ] || continue
    awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; ok = 0; deb = 0; enabled = 1
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uris = $i; sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Types:.*[ \t]deb([ \t]|$)/) deb = 1
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
          if ($i ~ /^Enabled:[ \t]*no/) enabled = 0
        }
        if (deb && ok && enabled && uris != "") { split(uris, u, /[ \t]+/); print u[1]; exit }
      }' "$file"
  done
  for file in "$APT_DIR"/sources.list "$APT_DIR"/sources.list.d/*.list; do
    [ -r "$file" ] || continue
    awk -v suite="$SUITE" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }' "$file"
  done
}

# `build-image.sh --print-mirror`: the mirror it would use, nothing else (tested on its own).
if [ "${1:-}" = "--print-mirror" ]; then
  mirror=$(debian_mirror)
  printf '%s\n' "${mirror%%$'\n'*}"
  exit 0
fi

for tool in buildah podman debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "$tool is missing: apt-get install buildah podman runc catatonit debootstrap" >&2
    exit 1
  }
done

# These VMs lack CAP_SYS_RESOURCE and mount cgroups in hybrid mode: docker/containers.conf
# works around both without touching /etc. A caller may pass its own in CONTAINERS_CONF.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/docker/containers.conf}
work=$(mktemp -d /tmp/lyo-image-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The base image's identity: rebuilt when the mirror, the packages or the host's CA change.
mirror=$(debian_mirror)
mirror=${mirror%%$'\n'*}
[ -n "$mirror" ] || { echo "no Debian $SUITE mirror in $APT_DIR/sources*" >&2; exit 1; }
[ -r "$HOST_CA_BUNDLE" ] || { echo "no CA bundle at $HOST_CA_BUNDLE" >&2; exit 1; }
base_key=$({ echo "$SUITE $mirror $BASE_PACKAGES"; cat "$HOST_CA_BUNDLE"; } | sha256sum | cut -c1-16)

current_key=$(podman image inspect --format '{{ index .Labels "lyo.base.key" }}' "$BASE_IMAGE" 2>/dev/null || true)
if [ "$current_key" != "$base_key" ]; then
  mkdir -p "$CACHE"
  tarball="$CACHE/rootfs-$SUITE-$base_key.tar"
  if [ ! -s "$tarball" ]; then
    echo "==> base: debootstrap --variant=minbase $SUITE from $mirror"
    rootfs="$work/rootfs"
    timeout "$DEBOOTSTRAP_TIMEOUT" debootstrap --variant=minbase --include="$BASE_PACKAGES" \
      "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
      tail -n 40 "$work/debootstrap.log" >&2
      [ -r "$rootfs/debootstrap/debootstrap.log" ] && tail -n 40 "$rootfs/debootstrap/debootstrap.log" >&2
      exit 1
    }
    # A file of its own (PIP_CERT below): ca-certificates' triggers in later layers rewrite
    # /etc/ssl/certs/ca-certificates.crt, not this.
    install -m 0644 "$HOST_CA_BUNDLE" "$rootfs/etc/ssl/certs/lyo-build-ca-bundle.pem"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    rm -f "$CACHE"/rootfs-"$SUITE"-*.tar  # older keys
    tar --numeric-owner -C "$rootfs" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
  fi
  echo "==> base: podman import $tarball as $BASE_IMAGE"
  timeout 300 podman import \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/lyo-build-ca-bundle.pem' \
    --change "LABEL lyo.base.key=$base_key" \
    --change 'CMD ["python3"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
fi

# pip's index as this host's pip sees it (configuration files and PIP_* variables); only
# http(s) indexes: file:// ones are paths on the host, not in the build.
pip_setting() {
  local name=$1 value
  value=$(python3 -m pip config get "global.$name" 2>/dev/null || true)
  printf '%s\n' "$value" | tr ' ' '\n' | grep -E '^https?://' | paste -sd' ' - || true
}
build_args=(--build-arg "PYTHON_IMAGE=$BASE_IMAGE" --build-arg "LYO_RELEASE=${LYO_RELEASE:-$(git rev-parse --short HEAD 2>/dev/null || echo dev)}")
index_url=${PIP_INDEX_URL:-$(pip_setting index-url)}
extra_index_url=${PIP_EXTRA_INDEX_URL:-$(pip_setting extra-index-url)}
[ -n "$index_url" ] && build_args+=(--build-arg "PIP_INDEX_URL=$index_url")
[ -n "$extra_index_url" ] && build_args+=(--build-arg "PIP_EXTRA_INDEX_URL=$extra_index_url")
for proxy in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!proxy:-}" ] && build_args+=(--build-arg "$proxy=${!proxy}")
done

previous=$(podman image inspect --format '{{ .Id }}' "$IMAGE" 2>/dev/null || true)
echo "==> build: $IMAGE (buildah, layers cached in podman's store)"
# --format docker: the OCI format has no HEALTHCHECK and buildah would drop it.
timeout "$BUILD_TIMEOUT" buildah build --pull=never --format docker --layers --network host \
  --ignorefile docker/Dockerfile.dockerignore "${build_args[@]}" \
  -f docker/Dockerfile -t "$IMAGE" .
# The image this tag named before, now untagged, would pile up in the store run after run (its
# layers that the new build reuses stay).
current=$(podman image inspect --format '{{ .Id }}' "$IMAGE")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  podman rmi "$previous" >/dev/null 2>&1 || true
fi
echo "==> built $IMAGE"
