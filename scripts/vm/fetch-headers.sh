#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch-headers.sh [SERIES]: the headers to build a module for the VM's kernel of SERIES
# (6.12, 6.17 or 7.3, as scripts/vm/fetch-kernel.sh): linux-headers-V, its -common part and
# linux-kbuild, downloaded with apt-get download and unpacked with dpkg-deb -x into the
# cache (nothing is installed). Prints the directory to give kbuild (make module KDIR=...).
# Debian's headers name their -common part (and from Debian 13 themselves) by absolute
# path (/usr/src/...): those lines are pointed at the unpacked copy. Their vmlinux (for
# module BTF) comes with them.
# Env: ESPX_VM_CACHE (default /var/cache/espx/vm).
# Exit 3: no such packages to be had (as fetch-kernel.sh); other failures are this script's.
set -euo pipefail
SERIES=${1:-6.12}
CACHE=${ESPX_VM_CACHE:-/var/cache/espx/vm}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/apt-suite.sh"	# APT, apt_suite

KIMG=$("$HERE/fetch-kernel.sh" "$SERIES")	# exits 3 itself when there is no kernel
V=$(basename "$KIMG")
BASE=${V%-amd64}
DIR=$CACHE/headers-$V
KDIR=$DIR/usr/src/linux-headers-$V
if [[ -f $DIR/.complete ]]; then
	echo "$KDIR"
	exit 0
fi
case $SERIES in
6.17 | 7.3) apt_suite trixie-backports || exit 3 ;;
esac
PKGS=("linux-headers-$V" "linux-headers-$BASE-common" "linux-kbuild-$BASE")
mkdir -p "$CACHE"
tmp=$(mktemp -d "$CACHE/.hdr.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if ! (cd "$tmp" && apt-get "${APT[@]}" download -q "${PKGS[@]}" >&2); then
	echo "fetch-headers: apt-get download ${PKGS[*]} failed" >&2
	exit 3
fi
mkdir -p "$tmp/x"
for p in "${PKGS[@]}"; do
	dpkg-deb -x "$tmp/${p}"_*.deb "$tmp/x"
done
rm -rf "$DIR"
mv "$tmp/x" "$DIR"
# the absolute paths: "include /usr/src/linux-headers-BASE-common/Makefile", and from
# Debian 13 "KBUILD_OUTPUT=/usr/src/linux-headers-V"
sed -i "s|^include /usr/src/|include $DIR/usr/src/|; s|^KBUILD_OUTPUT=/usr/src/|KBUILD_OUTPUT=$DIR/usr/src/|" "$KDIR/Makefile"
grep -q "^include $DIR/" "$KDIR/Makefile" || { echo "fetch-headers: unexpected $KDIR/Makefile" >&2; exit 1; }
[[ -f $KDIR/vmlinux ]] || echo "fetch-headers: no vmlinux in the headers: the module will have no BTF" >&2
touch "$DIR/.complete"
echo "$KDIR"
