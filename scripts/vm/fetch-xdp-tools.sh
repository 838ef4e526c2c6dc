#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch-xdp-tools.sh: Debian's xdp-tools and libxdp at 1.5.5 or newer, unpacked into a cache
# (nothing is installed). libxdp's dispatcher can host a program that moves the packet
# start (espx's receive program) only since xdp-tools 1.5.5 (pull request 509), on
# kernels with the verifier's packet-data check for extension programs (6.12's has it);
# Debian 12 ships 1.3.1 and Debian 13 1.5.4, so this takes the package from Debian
# testing (forky) through an apt state of its own (scripts/vm/apt-suite.sh). Its
# binaries need that suite's C library: the unpacked tree holds libc6, libbpf1, libelf,
# zlib, zstd and libpcap of the same suite, and the caller runs a tool as
#   ROOT/usr/lib64/ld-linux-x86-64.so.2 --library-path ROOT/usr/lib/x86_64-linux-gnu \
#       ROOT/usr/sbin/xdp-loader ...
# with LIBXDP_OBJECT_PATH=ROOT/usr/lib/x86_64-linux-gnu/bpf (xdp-filter's programs).
# Prints ROOT. Env: ESPX_VM_CACHE (default /var/cache/espx/vm).
# Exit 3: no such package to be had (the archive cannot be read, no 1.5.5 or newer,
# the download fails, nothing cached): the test skips; any other failure is this script's.
set -euo pipefail
CACHE=${ESPX_VM_CACHE:-/var/cache/espx/vm}
SUITE=forky
MIN=1.5.5
PKGS=(xdp-tools libxdp1 libbpf1 libc6 libelf1t64 zlib1g libzstd1 libpcap0.8t64)
. "$(dirname "$0")/apt-suite.sh"

# the newest complete unpacked tree in the cache, if any
cached() {
	local last
	last=$(ls -d "$CACHE"/xdp-tools-* 2>/dev/null | sort -V | tail -n1)
	[[ -n $last && -f $last/.complete ]] && echo "$last"
}
nothing() {
	local c
	c=$(cached) && { echo "$c"; exit 0; }
	echo "fetch-xdp-tools: $*" >&2
	exit 3
}

apt_suite $SUITE || nothing "$SUITE cannot be read from the archive"
V=$(apt-cache "${APT[@]}" policy xdp-tools 2>/dev/null | awk '$1 == "Candidate:" {print $2; exit}')
[[ -n $V && $V != "(none)" ]] || nothing "apt knows no xdp-tools in $SUITE"
dpkg --compare-versions "$V" ge "$MIN" || nothing "$SUITE's xdp-tools is $V, older than $MIN"
DIR=$CACHE/xdp-tools-$V
if [[ ! -f $DIR/.complete ]]; then
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	chmod 755 "$tmp"	# apt-get download writes here as _apt
	(cd "$tmp" && apt-get "${APT[@]}" download -qq "${PKGS[@]}" >/dev/null 2>&1) ||
		nothing "apt-get download ${PKGS[*]} from $SUITE failed"
	mkdir "$tmp/x"
	for f in "$tmp"/*.deb; do dpkg-deb -x "$f" "$tmp/x"; done
	r=$tmp/x
	for b in usr/sbin/xdp-loader usr/sbin/xdp-filter usr/lib64/ld-linux-x86-64.so.2; do
		[[ -x $r/$b ]] || { echo "fetch-xdp-tools: no $b in the packages" >&2; exit 1; }
	done
	# every library the tools need resolves inside the tree or from the system
	if "$r/usr/lib64/ld-linux-x86-64.so.2" --library-path "$r/usr/lib/x86_64-linux-gnu" \
		--list "$r/usr/sbin/xdp-loader" | grep -q 'not found'; then
		echo "fetch-xdp-tools: xdp-loader needs a library not in ${PKGS[*]}" >&2
		exit 1
	fi
	rm -rf "$DIR"
	mv "$r" "$DIR"
	touch "$DIR/.complete"
fi
echo "$DIR"
