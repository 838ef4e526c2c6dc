#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `espx daemon` against kernel XFRM (sync, counters, expiries, handover, restart):
# tests/vm/daemon.sh in the 6.12 VM, whose kernel has ESP.
# Env: ESPX_VM_DAEMON_TIMEOUT (default 420 s).
cd "$(dirname "$0")/.." || exit 1
. tests/lib/vm_suite.sh
vm_suite vm-daemon "${ESPX_VM_DAEMON_TIMEOUT:-420}" tests/vm/daemon.sh
