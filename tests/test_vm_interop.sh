#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Interoperability with the kernel's own ESP (XFRM): tests/vm/interop.sh in the 6.12 VM
# (the host kernel may lack ESP).
# Env: ESPX_VM_TIMEOUT (default 720 s), ESPX_VM_XFER_BYTES (TCP transfer size, default 512 KiB).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
vm_suite vm-interop "${ESPX_VM_TIMEOUT:-720}" \
	env ESPX_VM_XFER_BYTES="${ESPX_VM_XFER_BYTES:-524288}" tests/vm/interop.sh
