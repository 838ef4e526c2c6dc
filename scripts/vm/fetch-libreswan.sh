#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fetch-libreswan.sh: download Debian's libreswan package (apt-get download) and unpack it
# with dpkg-deb -x into a cache; nothing is installed. libreswan conflicts with the
# strongSwan packages the other VM suites use, so tests/vm/libreswan.sh runs pluto from
# this tree (its /usr/libexec bind-mounted in pluto's own mount namespace). Its libraries
# (libldns3, libevent, NSS) come from scripts/vm/deps.sh, which installs them normally.
# Prints the unpacked root (it holds usr/libexec/ipsec/{pluto,whack,addconn}).
# Env: ESPX_VM_CACHE (default /var/cache/espx/vm).
# Exit 3: no package to be had (apt knows none, the download fails, nothing cached): the
# test skips; any other failure is a fault of this script.
set -euo pipefail
CACHE=${ESPX_VM_CACHE:-/var/cache/espx/vm}

# the newest complete unpacked libreswan in the cache, if any
cached() {
	local last
	last=$(ls -d "$CACHE"/libreswan-* 2>/dev/null | sort -V | tail -n1)
	[[ -n $last && -f $last/.complete ]] && echo "$last"
}

V=$(apt-cache policy libreswan 2>/dev/null | awk '$1 == "Candidate:" {print $2; exit}')
if [[ -z $V || $V == "(none)" ]]; then
	c=$(cached) && { echo "$c"; exit 0; }
	echo "fetch-libreswan: apt knows no libreswan package (apt-get update?)" >&2
	exit 3
fi
DIR=$CACHE/libreswan-$V
if [[ ! -f $DIR/.complete ]]; then
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.dl.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# apt-get download writes into the current directory; _apt must be able to write there
	chmod 755 "$tmp"
	if ! (cd "$tmp" && apt-get download -qq "libreswan=$V" >/dev/null 2>&1); then
		c=$(cached) && { echo "$c"; exit 0; }
		echo "fetch-libreswan: apt-get download libreswan=$V failed" >&2
		exit 3
	fi
	rm -rf "$DIR"
	dpkg-deb -x "$tmp"/libreswan_*.deb "$DIR"
	for b in pluto whack addconn; do
		[[ -x $DIR/usr/libexec/ipsec/$b ]] || { echo "fetch-libreswan: no $b in the package" >&2; exit 1; }
	done
	touch "$DIR/.complete"
fi
echo "$DIR"
