#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The A/B tool (tests/bench/bench-ab.sh: kernel XFRM against espx) end to end. It needs kernel
# ESP, which the host kernel may lack, so tests/vm/ab.sh runs in the 6.12 VM with tiny
# settings. A functional check: TCG figures are not performance.
# Env: ESPX_VM_AB_TIMEOUT (default 600 s), ESPX_VM_AB_ROUNDS (2), ESPX_VM_AB_SECONDS (1).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
vm_suite vm-ab "${ESPX_VM_AB_TIMEOUT:-600}" \
	tests/vm/ab.sh "${ESPX_VM_AB_ROUNDS:-2}" "${ESPX_VM_AB_SECONDS:-1}"
