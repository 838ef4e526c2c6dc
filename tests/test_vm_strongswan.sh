#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# strongSwan (IKEv2) with the kernel's ESP and with `espx daemon` beside it, CHILD_SA rekeys
# under traffic: tests/vm/strongswan.sh in the 6.12 VM (the host kernel may lack ESP).
# SKIP also when strongSwan (charon, swanctl) is not installed.
# Env: ESPX_VM_SWAN_TIMEOUT (default 900 s), ESPX_VM_XFER_BYTES (TCP transfer size, default 256 KiB).
cd "$(dirname "$0")/.." || exit 1
# One TCG thread, as the daemon suite: espx attaching flips the guest's static keys,
# and under thread=multi the guest once died of an invalid opcode there (CI, 2026-12-03).
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
. tests/lib/vm_suite.sh
if [[ ! -x /usr/lib/ipsec/charon ]] || ! command -v swanctl >/dev/null; then
	echo "SKIP vm-strongswan: strongSwan not installed (charon, swanctl)"
	exit 0
fi
vm_suite vm-strongswan "${ESPX_VM_SWAN_TIMEOUT:-900}" \
	env ESPX_VM_XFER_BYTES="${ESPX_VM_XFER_BYTES:-262144}" tests/vm/strongswan.sh
