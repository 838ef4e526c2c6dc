#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what scripts/vmtest.sh needs on the host, idempotently:
# qemu (TCG is enough), busybox-static (initramfs), cpio tools, xz/zstd (modules);
# dwarves (pahole): the BTF of the espx_aead module built for the VM's kernel;
# debootstrap: the Debian 13 chroot that builds it for Debian 13's kernels.
# Usage: scripts/vm/deps.sh [--check]   (--check: only report, exit 1 if missing)
# Exit 3: the packages cannot be had here (not root, apt cannot install them): the one
# failure scripts/vmtest.sh lets a test skip for; any other is a fault of this script.
set -euo pipefail
# gnuplot-nox: the A/B chart; strongswan: the IKE daemon the daemon tests run against;
# nftables: the NAT in tests/vm/strongswan_more.sh; libldns3 .. libaudit1: what libreswan's
# pluto links, and libnss3-tools its NSS database (libreswan itself conflicts with
# strongSwan's packages: scripts/vm/fetch-libreswan.sh unpacks it privately)
PKGS=(qemu-system-x86 busybox-static xz-utils zstd kmod dwarves debootstrap gnuplot-nox strongswan-charon strongswan-swanctl
	nftables libldns3 libevent-core-2.1-7 libevent-pthreads-2.1-7 libunbound8 libcurl3-nss libldap-2.5-0
	libnss3 libnspr4 libnss3-tools libcap-ng0 libaudit1)
have_all() {
	local p
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || return 1
	done
}
have_all && exit 0
if [[ ${1:-} == --check ]]; then
	echo "vm: missing host packages (run scripts/vm/deps.sh as root): ${PKGS[*]}" >&2
	exit 1
fi
if [[ $(id -u) != 0 ]]; then
	echo "vm: installing ${PKGS[*]} needs root (apt-get)" >&2
	exit 3
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null 2>&1; then
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null; }; then
		echo "vm: apt-get cannot install ${PKGS[*]}" >&2
		exit 3
	fi
fi
have_all || { echo "vm: host package install incomplete" >&2; exit 3; }
echo "vm: host packages installed"
