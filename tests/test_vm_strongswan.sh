#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# strongSwan (IKEv2) with the kernel's ESP and with espx's daemon beside it, CHILD_SA rekeys
# under traffic. The host kernel may lack ESP, so this boots Debian's 6.12 kernel under qemu
# (scripts/vmtest.sh) and runs tests/vm/strongswan.sh there; its PASS/FAIL/SKIP lines are
# ours. SKIP when the VM cannot run here (not root, no qemu, no kernel package reachable),
# when strongSwan is not installed, or when ESPX_VM=0.
# Env: ESPX_VM_TIMEOUT (default 300 s), ESPX_VM_XFER_BYTES (TCP transfer size, default 256 KiB).
set -u
cd "$(dirname "$0")/.." || exit 1
N=vm-strongswan
if [[ ${ESPX_VM:-1} == 0 ]]; then echo "SKIP $N: ESPX_VM=0"; exit 0; fi
if [[ $(id -u) != 0 ]]; then echo "SKIP $N: needs root"; exit 0; fi
if [[ ! -x ${ESPX_BUILD:-build}/espx ]]; then echo "FAIL $N: no build/espx (run make)"; exit 1; fi
if [[ ! -x /usr/lib/ipsec/charon ]] || ! command -v swanctl >/dev/null; then
	echo "SKIP $N: strongSwan not installed (charon, swanctl)"; exit 0
fi
ERR=$(mktemp /tmp/espx-vm-err.XXXXXX)
trap 'rm -f "$ERR"' EXIT
scripts/vmtest.sh -t "${ESPX_VM_TIMEOUT:-300}" -- \
	env ESPX_VM_XFER_BYTES="${ESPX_VM_XFER_BYTES:-262144}" tests/vm/strongswan.sh 2>"$ERR"
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
