#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# build-initramfs.sh KDIR OUT: a tiny initramfs for the espx VM: busybox-static, the
# modules that mount the 9p root (netfs 9pnet 9pnet_virtio 9p overlay, decompressed)
# and scripts/vm/init. Everything else the guest runs comes from the host over 9p.
set -euo pipefail
KDIR=$1 OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
V=$(basename "$(ls -d "$KDIR"/lib/modules/*/ | head -n1)")
MD=$KDIR/lib/modules/$V
BB=$(command -v busybox)
ST=$(mktemp -d)
trap 'rm -rf "$ST"' EXIT
mkdir -p "$ST"/bin "$ST"/mod
cp "$BB" "$ST/bin/busybox"
for m in netfs 9pnet 9pnet_virtio 9p overlay; do
	f=$(grep -E "(^|/)$m\.ko(\.xz|\.zst)?:" "$MD/modules.dep" | cut -d: -f1)
	[[ -n $f ]] || { echo "build-initramfs: module $m not in $V" >&2; exit 1; }
	case $f in
	*.xz) xz -dc "$MD/$f" >"$ST/mod/$m.ko" ;;
	*.zst) zstd -qdc "$MD/$f" >"$ST/mod/$m.ko" ;;
	*) cp "$MD/$f" "$ST/mod/$m.ko" ;;
	esac
done
install -m 0755 "$HERE/init" "$ST/init"
(cd "$ST" && find . | LC_ALL=C sort | "$BB" cpio -o -H newc 2>/dev/null) | gzip -1 >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
