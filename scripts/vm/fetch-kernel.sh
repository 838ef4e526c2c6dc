#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch-kernel.sh [SERIES]: download a Debian amd64 kernel package (apt-get download) and
# unpack it with dpkg-deb -x into a cache; nothing is installed, /boot is not touched. The
# -amd64 flavour has 9p (cloud-amd64 does not). Prints the unpacked directory (it holds
# boot/vmlinuz-V and lib/modules/V).
#   6.12 (default)  Debian 12's 6.12 kernel, through the machine's own apt configuration
#   6.17            Debian 13's backports kernel (trixie-backports), through an apt state
#                   of its own under the cache (the system's sources are not changed): the
#                   mirror is the one the system's Debian entry names, the keys are
#                   debian-archive-keyring's
#   7.3             the same suite's newer kernel, whose headers are still in its index
#                   (the AEAD module's tests); from 7.x the image comes in parts
#                   (linux-binary-V: vmlinuz, linux-modules-V, linux-base-V), all unpacked (which has trixie's)
# Env: ESPX_VM_CACHE (default /var/cache/espx/vm), ESPX_VM_KPKG (a linux-image-*-amd64
# package name, default: what the series' meta package depends on).
# Exit 3: no such package to be had (apt knows none, the download fails, nothing cached):
# the one failure scripts/vmtest.sh lets a test skip for; any other is a fault of this script.
set -euo pipefail
SERIES=${1:-6.12}
CACHE=${ESPX_VM_CACHE:-/var/cache/espx/vm}
PKG=${ESPX_VM_KPKG:-}
. "$(dirname "$0")/apt-suite.sh"	# APT, apt_suite (6.17)

# the newest complete unpacked kernel of this series in the cache, if any
cached() {
	local last
	last=$(ls -d "$CACHE"/"$SERIES".*-amd64 2>/dev/null | sort -V | tail -n1)
	[[ -n $last && -f $last/.complete ]] && echo "$last"
}

case $SERIES in
6.12) META=linux-image-6.12-amd64 ;;
6.17 | 7.3)
	META=""	# the backports meta package moves on: the newest of the series by name
	if ! apt_suite trixie-backports; then
		c=$(cached) && { echo "$c"; exit 0; }
		echo "fetch-kernel: trixie-backports cannot be read from the archive" >&2
		exit 3
	fi
	;;
*) echo "fetch-kernel: unknown kernel series '$SERIES' (6.12, 6.17 or 7.3)" >&2; exit 2 ;;
esac
if [[ -z $PKG && -z $META ]]; then
	PKG=$(apt-cache "${APT[@]}" pkgnames "linux-image-$SERIES." 2>/dev/null |
		grep -E "^linux-image-${SERIES//./\\.}\.[0-9]+\+deb[0-9]+-amd64\$" | sort -V | tail -n1 || true)
elif [[ -z $PKG ]]; then
	PKG=$(apt-cache "${APT[@]}" depends "$META" 2>/dev/null |
		awk -v s="$SERIES" '$1 == "Depends:" && index($2, "linux-image-" s ".") == 1 {print $2; exit}')
fi
if [[ -z $PKG ]]; then
	# nothing in apt's lists: use what an earlier run unpacked
	c=$(cached) && { echo "$c"; exit 0; }
	echo "fetch-kernel: cannot resolve a $SERIES kernel package (apt-get update?)" >&2
	exit 3
fi
V=${PKG#linux-image-}
DIR=$CACHE/$V
if [[ ! -f $DIR/.complete ]]; then
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# 7.x: the image package only depends on its parts
	PARTS=()
	for p in linux-binary-$V linux-modules-$V linux-base-$V; do
		apt-cache "${APT[@]}" show "$p" >/dev/null 2>&1 && PARTS+=("$p")
	done
	if ! (cd "$tmp" && apt-get "${APT[@]}" download -q "$PKG" "${PARTS[@]}" >&2); then
		if [[ -z ${ESPX_VM_KPKG:-} ]] && c=$(cached); then
			echo "fetch-kernel: apt-get download $PKG failed; using cached $(basename "$c")" >&2
			echo "$c"
			exit 0
		fi
		echo "fetch-kernel: apt-get download $PKG failed" >&2
		exit 3
	fi
	rm -rf "$DIR"
	mkdir -p "$tmp/x"
	for p in "$PKG" "${PARTS[@]}"; do
		dpkg-deb -x "$tmp"/"$p"_*.deb "$tmp/x"
	done
	# Debian 13's packages are merged-/usr: modules under usr/lib/modules
	if [[ ! -d $tmp/x/lib/modules && -d $tmp/x/usr/lib/modules ]]; then
		mkdir -p "$tmp/x/lib" && mv "$tmp/x/usr/lib/modules" "$tmp/x/lib/modules"
	fi
	# 7.x keeps vmlinuz beside the modules
	if [[ ! -f $tmp/x/boot/vmlinuz-$V && -f $tmp/x/lib/modules/$V/vmlinuz ]]; then
		mkdir -p "$tmp/x/boot" && cp "$tmp/x/lib/modules/$V/vmlinuz" "$tmp/x/boot/vmlinuz-$V"
	fi
	# modules.dep etc. are made by depmod at install time; make them here
	depmod -b "$tmp/x" "$V"
	mv "$tmp/x" "$DIR"
	touch "$DIR/.complete"
fi
[[ -f $DIR/boot/vmlinuz-$V ]] || { echo "fetch-kernel: no vmlinuz in $DIR" >&2; exit 1; }
echo "$DIR"
