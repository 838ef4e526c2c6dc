#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch-kernel.sh: download Debian's current 6.12 amd64 kernel package (apt-get download,
# through the machine's own apt configuration) and unpack it with dpkg-deb -x into a cache;
# nothing is installed, /boot is not touched. The -amd64 flavour has 9p (cloud-amd64 does not).
# Prints the unpacked directory (it holds boot/vmlinuz-V and lib/modules/V).
# Env: ESPX_VM_CACHE (default /var/cache/espx/vm), ESPX_VM_KPKG (a linux-image-6.12.*-amd64
# package name, default: what the linux-image-6.12-amd64 meta package depends on).
# Exit 3: no such package to be had (apt knows none, the download fails, nothing cached):
# the one failure scripts/vmtest.sh lets a test skip for; any other is a fault of this script.
set -euo pipefail
CACHE=${ESPX_VM_CACHE:-/var/cache/espx/vm}
PKG=${ESPX_VM_KPKG:-}
if [[ -z $PKG ]]; then
	PKG=$(apt-cache depends linux-image-6.12-amd64 2>/dev/null |
		awk '/Depends: linux-image-6\.12/{print $2; exit}')
	if [[ -z $PKG ]]; then
		# nothing in apt's lists: use what an earlier run unpacked
		last=$(ls -d "$CACHE"/6.12.*-amd64 2>/dev/null | sort -V | tail -n1)
		[[ -n $last && -f $last/.complete ]] && { echo "$last"; exit 0; }
		echo "fetch-kernel: cannot resolve linux-image-6.12-amd64 (apt-get update?)" >&2
		exit 3
	fi
fi
V=${PKG#linux-image-}
DIR=$CACHE/$V
if [[ ! -f $DIR/.complete ]]; then
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	if ! (cd "$tmp" && apt-get download -q "$PKG" >&2); then
		last=$(ls -d "$CACHE"/6.12.*-amd64 2>/dev/null | sort -V | tail -n1)
		if [[ -z ${ESPX_VM_KPKG:-} && -n $last && -f $last/.complete ]]; then
			echo "fetch-kernel: apt-get download $PKG failed; using cached $(basename "$last")" >&2
			echo "$last"
			exit 0
		fi
		echo "fetch-kernel: apt-get download $PKG failed" >&2
		exit 3
	fi
	rm -rf "$DIR"
	mkdir -p "$tmp/x"
	dpkg-deb -x "$tmp"/"$PKG"_*.deb "$tmp/x"
	# modules.dep etc. are made by depmod at install time; make them here
	depmod -b "$tmp/x" "$V"
	mv "$tmp/x" "$DIR"
	touch "$DIR/.complete"
fi
[[ -f $DIR/boot/vmlinuz-$V ]] || { echo "fetch-kernel: no vmlinuz in $DIR" >&2; exit 1; }
echo "$DIR"
