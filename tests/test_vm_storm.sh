#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 16: the daemon killed (kill -9) and restarted under traffic, and SA churn driven
# by `ip xfrm` under the daemon: tests/vm/storm.sh in the 6.12 VM, short (10 restarts,
# 1000 cycles); `make soak` runs a longer one (SOAK_VM_RESTARTS, SOAK_VM_CYCLES).
# One TCG thread, as the daemon suite (attach and detach flip the guest's static keys).
# Env: ESPX_VM_STORM_TIMEOUT (default 600 s), ESPX_VM_STORM_RESTARTS, _CYCLES.
cd "$(dirname "$0")/.." || exit 1
export ESPX_VM_TCG_THREAD=${ESPX_VM_TCG_THREAD:-single}
. tests/lib/vm_suite.sh
# (the guest does not inherit this environment: the sizes go on its command line)
vm_suite vm-storm "${ESPX_VM_STORM_TIMEOUT:-600}" env ESPX_VM_STORM_RESTARTS="${ESPX_VM_STORM_RESTARTS:-10}" \
	ESPX_VM_STORM_CYCLES="${ESPX_VM_STORM_CYCLES:-1000}" tests/vm/storm.sh
