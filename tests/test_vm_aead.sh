#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The AEAD backend on the 6.12 VM kernel (ESPX_VM_AEAD_KERNEL: another; test_vm_aead_73.sh
# runs it on Debian 13's 7.3): build bpf/kmod/espx_aead.ko against that kernel's headers
# (scripts/vm/build-module.sh: headers by apt-get download, nothing installed; Debian 13's
# built in a Debian 13 chroot), then tests/vm/aead.sh in the VM: the module loads, espx check sees it, every ESP vector
# and length through it (counted by the module), the kernel's ESP against espx on it
# (two interop scenarios), contexts ended with their SAs, the module held while espx is
# attached, and SAs without it. Skips only where the VM or the headers cannot be had.
# Env: ESPX_VM_AEAD_TIMEOUT (default 900 s).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
SERIES=${ESPX_VM_AEAD_KERNEL:-6.12}
export ESPX_VM_KERNEL=$SERIES
N=vm-aead${ESPX_VM_AEAD_SUFFIX:-}
KO=
# the host's part: pahole for the module's BTF (scripts/vm/deps.sh; vmtest.sh runs it too)
vm_fetch HOSTDEPS "$N" "the VM's host packages" scripts/vm/deps.sh
# the headers (apt-get download) and the build (scripts/vm/build-module.sh); exit 3 of it,
# nothing to be had here, skips; a build that fails is a FAIL
vm_fetch KO "$N" "the $SERIES kernel's headers or build root" scripts/vm/build-module.sh "$SERIES"
[[ -n $KO ]] && pass "$N-module-builds ($(basename "$(dirname "$KO")"))"
vm_suite "$N" "${ESPX_VM_AEAD_TIMEOUT:-900}" env ESPX_VM_AEAD_PREFIX="aead${ESPX_VM_AEAD_SUFFIX:-}" \
	tests/vm/aead.sh "${KO:-none}" \
	v4-tunnel-aes128 v6-transport-aes128 v4-tunnel-esn v4-tunnel-natt
