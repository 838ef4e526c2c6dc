#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-module.sh [SERIES]: build bpf/kmod/espx_aead.ko for the VM's kernel of SERIES (6.12,
# 6.17 or 7.3) into build/kmod/<release>/ and print the .ko's path.
# The headers come from scripts/vm/fetch-headers.sh. Debian 12's (6.12) build with this
# machine's gcc-12: `make module KDIR=...`. Debian 13's want its gcc-14 and glibc 2.38
# (their kbuild tools are linked against it), which Debian 12 lacks: they are built in a
# Debian 13 chroot made once with debootstrap (minbase, gcc-14, make, libc6-dev, dwarves;
# about 500 MB, cached in $ESPX_VM_CACHE/buildroot-trixie), with the headers and the build
# directory bind-mounted at their own paths.
# Env: ESPX_VM_CACHE (default /var/cache/espx/vm).
# Exit 3: the headers or the chroot's packages cannot be had here (the caller skips); other
# failures are this script's or the build's.
set -euo pipefail
SERIES=${1:-6.12}
CACHE=${ESPX_VM_CACHE:-/var/cache/espx/vm}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

KDIR=$("$HERE/fetch-headers.sh" "$SERIES")	# exits 3 itself
REL=$(cat "$KDIR/include/config/kernel.release")
OUT=$ROOT/build/kmod/$REL
if grep -q 'gcc-12' "$KDIR/.kernelvariables" 2>/dev/null; then
	make -s -C "$ROOT" module KDIR="$KDIR" >&2
	echo "$OUT/espx_aead.ko"
	exit 0
fi

# a Debian 13 build root, made once
BR=$CACHE/buildroot-trixie
if [[ ! -f $BR/.complete ]]; then
	if ! command -v debootstrap >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2 || exit 3
	fi
	uri=$(grep -ls '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | xargs -r awk '/^URIs:/{print $2; exit}')
	[[ -n $uri ]] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
	[[ -n $uri ]] || { echo "build-module: no Debian archive in the apt sources" >&2; exit 3; }
	rm -rf "$BR"
	echo "build-module: making a Debian 13 build root in $BR (debootstrap, once)" >&2
	if ! debootstrap --variant=minbase --include=gcc-14,make,libc6-dev,dwarves \
		--keyring=/usr/share/keyrings/debian-archive-keyring.gpg trixie "$BR" "$uri" >&2; then
		rm -rf "$BR"
		echo "build-module: debootstrap trixie failed" >&2
		exit 3
	fi
	touch "$BR/.complete"
fi

# the sources as make module lays them out, then kbuild in the chroot
mkdir -p "$OUT/include"
cp "$ROOT/bpf/kmod/espx_aead.c" "$ROOT/bpf/kmod/Kbuild" "$OUT/"
cp "$ROOT/include/espx_aead.h" "$ROOT/include/espx_common.h" "$OUT/include/"
HDR=$(dirname "$(dirname "$(dirname "$KDIR")")")	# the unpacked headers' root
mounts=()
cleanup() {
	local m
	for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
}
trap cleanup EXIT
for d in "$HDR" "$OUT"; do
	mkdir -p "$BR$d"
	mount --bind "$d" "$BR$d"
	mounts=("$BR$d" "${mounts[@]}")
done
mount -t proc proc "$BR/proc"	# objtool reads its stack limit there
mounts=("$BR/proc" "${mounts[@]}")
chroot "$BR" make -s -C "$KDIR" M="$OUT" modules >&2
echo "$OUT/espx_aead.ko"
