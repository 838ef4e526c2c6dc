#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 10's properties against a kernel-ESP peer (fragmented ESP replayed, outbound
# fragments under a port policy, UDP 500/4500, the inbound policy after decryption with
# selector-less SAs): tests/vm/enforce.sh in the 6.12 VM, `espx daemon` mirroring XFRM.
# Env: ESPX_VM_ENFORCE_TIMEOUT (default 480 s).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
vm_suite vm-enforce "${ESPX_VM_ENFORCE_TIMEOUT:-480}" tests/vm/enforce.sh
