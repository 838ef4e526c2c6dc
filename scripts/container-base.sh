#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A Debian 12 base image for the Containerfile on a machine that reaches
# Debian's package archive but no container registry: debootstrap (minbase)
# from the archive in this machine's own apt sources, imported into Podman
# (or Docker) as localhost/espx-debian:bookworm. About 40 s; then
#   podman build --build-arg BASE=localhost/espx-debian:bookworm -t espx -f Containerfile .
# Usage: scripts/container-base.sh [--docker] [IMAGE]   (root; debootstrap, podman|docker)
set -euo pipefail
TOOL=podman
[[ ${1:-} == --docker ]] && { TOOL=docker; shift; }
IMAGE=${1:-localhost/espx-debian:bookworm}
SUITE=bookworm

[[ $(id -u) == 0 ]] || { echo "container-base: needs root (debootstrap)" >&2; exit 1; }
for t in debootstrap "$TOOL"; do
	command -v "$t" >/dev/null || { echo "container-base: no $t (scripts/deps.sh installs it)" >&2; exit 1; }
done
# the Debian archive this machine's apt uses (deb822 sources, or sources.list)
src=$(grep -ls "^Suites:.*\b${SUITE}\b" /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 || true)
if [[ -n $src ]]; then
	uri=$(awk '/^URIs:/ {print $2; exit}' "$src")
else
	uri=$(awk -v s="$SUITE" '$1 == "deb" && $3 == s {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[[ -n ${uri:-} ]] || { echo "container-base: no $SUITE archive in /etc/apt/sources*; cannot debootstrap" >&2; exit 1; }

dir=$(mktemp -d /var/tmp/espx-base.XXXXXX)
trap 'rm -rf "$dir"' EXIT
if ! debootstrap --variant=minbase "$SUITE" "$dir/root" "$uri" >"$dir/log" 2>&1; then
	tail -n 5 "$dir/log" >&2
	echo "container-base: debootstrap $SUITE from $uri failed" >&2
	exit 1
fi
# no package lists in the image (apt-get update fetches them)
rm -rf "$dir/root/var/lib/apt/lists/"* "$dir/root/var/cache/apt/"*.bin
tar -C "$dir/root" -c . | "$TOOL" import - "$IMAGE" >/dev/null
echo "container-base: $IMAGE from $SUITE ($uri)"
