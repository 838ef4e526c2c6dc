#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Interoperability with the kernel's own ESP (XFRM). The host kernel may lack ESP, so this
# boots Debian's 6.12 kernel under qemu (scripts/vmtest.sh: TCG, the host's / as a
# read-only 9p root) and runs tests/vm/interop.sh there; its PASS/FAIL lines are ours.
# SKIP when the VM cannot run here (not root, no qemu and no way to install it, no kernel
# package reachable) or when ESPX_VM=0.
# Env: ESPX_VM_TIMEOUT (default 420 s), ESPX_VM_XFER_BYTES (TCP transfer size, default 512 KiB).
set -u
cd "$(dirname "$0")/.." || exit 1
N=vm-interop
if [[ ${ESPX_VM:-1} == 0 ]]; then echo "SKIP $N: ESPX_VM=0"; exit 0; fi
if [[ $(id -u) != 0 ]]; then echo "SKIP $N: needs root"; exit 0; fi
if [[ ! -x ${ESPX_BUILD:-build}/espx ]]; then echo "FAIL $N: no build/espx (run make)"; exit 1; fi
ERR=$(mktemp /tmp/espx-vm-err.XXXXXX)
trap 'rm -f "$ERR"' EXIT
scripts/vmtest.sh -t "${ESPX_VM_TIMEOUT:-420}" -- \
	env ESPX_VM_XFER_BYTES="${ESPX_VM_XFER_BYTES:-524288}" tests/vm/interop.sh 2>"$ERR"
rc=$?
case $rc in
0 | 1) ;;
126) echo "SKIP $N: VM cannot run here: $(tail -n 1 "$ERR")"; exit 0 ;;
124) echo "FAIL $N: VM timed out (console: build/vm/console.log)"; cat "$ERR"; exit 1 ;;
125) echo "FAIL $N: VM crashed or ended without a status (console: build/vm/console.log)"; cat "$ERR"; exit 1 ;;
*) echo "FAIL $N: guest exited $rc"; cat "$ERR"; exit 1 ;;
esac
cat "$ERR" >&2
exit $rc
