#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# On-demand (start_action = trap) strongSwan tunnels beside `espx daemon`: the ACQUIRE espx
# raises in the kernel's place, its rate limit, and POLEXPIRE: tests/vm/strongswan_trap.sh
# in the 6.12 VM (the host kernel may lack ESP). SKIP also when strongSwan (charon, swanctl)
# is not installed. Env: ESPX_VM_TRAP_TIMEOUT (default 480 s).
cd "$(dirname "$0")/.." || exit 1
# One TCG thread, as the daemon suite: espx attaching flips the guest's static keys,
# and under thread=multi the guest once died of an invalid opcode there (CI, 2026-12-03).
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
. tests/lib/vm_suite.sh
if [[ ! -x /usr/lib/ipsec/charon ]] || ! command -v swanctl >/dev/null; then
	echo "SKIP vm-strongswan-trap: strongSwan not installed (charon, swanctl)"
	exit 0
fi
vm_suite vm-strongswan-trap "${ESPX_VM_TRAP_TIMEOUT:-480}" tests/vm/strongswan_trap.sh
