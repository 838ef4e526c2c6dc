#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# strongSwan (IKEv2) with `espx daemon` on one side over IPv6, and with NAT traversal (L
# behind an nftables masquerade, ESP in UDP 4500), CHILD_SA rekeys under traffic:
# tests/vm/strongswan_more.sh in the 6.12 VM (the host kernel may lack ESP), one boot for all.
# SKIP also when strongSwan (charon, swanctl) is not installed.
# Env: ESPX_VM_SWAN_MORE_TIMEOUT (default 900 s), ESPX_VM_XFER_BYTES (TCP transfer size,
# default 128 KiB).
cd "$(dirname "$0")/.." || exit 1
# One TCG thread, as the daemon suite: espx attaching flips the guest's static keys,
# and under thread=multi the guest once died of an invalid opcode there (CI, 2026-12-03).
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
. tests/lib/vm_suite.sh
if [[ ! -x /usr/lib/ipsec/charon ]] || ! command -v swanctl >/dev/null; then
	echo "SKIP vm-strongswan-more: strongSwan not installed (charon, swanctl)"
	exit 0
fi
# espx-v6-host (R's inside address on espx's device) adds little to espx-v6 (on lo, the
# harder case) now that espx marks what it decrypts: it runs with ESPX_VM_SWAN_MORE=all.
if [[ ${ESPX_VM_SWAN_MORE:-} == all ]]; then
	sc=(espx-v6 espx-v6-host espx-natt)
else
	sc=(espx-v6 espx-natt)
fi
vm_suite vm-strongswan-more "${ESPX_VM_SWAN_MORE_TIMEOUT:-900}" \
	env ESPX_VM_XFER_BYTES="${ESPX_VM_XFER_BYTES:-131072}" tests/vm/strongswan_more.sh "${sc[@]}"
