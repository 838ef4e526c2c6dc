#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The AEAD backend on the 6.12 VM kernel: build bpf/kmod/espx_aead.ko against that
# kernel's headers (scripts/vm/fetch-headers.sh: apt-get download, nothing installed),
# then tests/vm/aead.sh in the VM: the module loads, espx check sees it, every ESP vector
# and length through it (counted by the module), the kernel's ESP against espx on it
# (two interop scenarios), contexts ended with their SAs, the module held while espx is
# attached, and SAs without it. Skips only where the VM or the headers cannot be had.
# Env: ESPX_VM_AEAD_TIMEOUT (default 900 s).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
export ESPX_VM_KERNEL=6.12
KDIR=
# the host's part: pahole for the module's BTF (scripts/vm/deps.sh; vmtest.sh runs it too)
vm_fetch HOSTDEPS vm-aead "the VM's host packages" scripts/vm/deps.sh
vm_fetch KDIR vm-aead "the 6.12 kernel's headers" scripts/vm/fetch-headers.sh 6.12
if [[ -n $KDIR ]]; then
	if ! out=$(make -s module KDIR="$KDIR" 2>&1); then
		fail vm-aead-module-builds "make module KDIR=$KDIR: $(tail -n 5 <<<"$out")"
		exit 1
	fi
	pass vm-aead-module-builds
	KO=build/kmod/$(cat "$KDIR/include/config/kernel.release")/espx_aead.ko
fi
vm_suite vm-aead "${ESPX_VM_AEAD_TIMEOUT:-900}" tests/vm/aead.sh "${KO:-none}" \
	v4-tunnel-aes128 v6-transport-aes128 v4-tunnel-esn v4-tunnel-natt
